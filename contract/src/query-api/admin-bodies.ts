// The JSON bodies of the admin and session endpoints: one strict schema per body (an unknown field
// is refused, naming its path), the collector validates requests with it, and the request types
// are inferred from it. Settings fields use the control plane's schemas, the ones runtimes read
// the same settings with.
import { z } from "zod";
import { managedBudgetsSchema, managedQuotasSchema, managedRateLimitsSchema, samplingRatioSchema, TENANT_TIERS } from "../control-wire.js";
import { tenantParam } from "./param-rules.js";

/** Budget alert thresholds: 1-5 distinct fractions in (0, 1]. */
export const alertThresholdsSchema = z
  .array(z.number({ error: "must be a number" }).finite("must be a finite number").gt(0, "must be greater than 0").max(1, "must be at most 1"), {
    error: "must be a list of numbers",
  })
  .min(1, "must hold 1 to 5 thresholds")
  .max(5, "must hold 1 to 5 thresholds")
  .refine((list) => new Set(list).size === list.length, "must not repeat a threshold");

/** A tenant's alert settings: warnings at these fractions of any budget, and the first refusal of a window. */
export const alertSettingsSchema = z.strictObject({ thresholds: alertThresholdsSchema });
/** When a tenant's operator hears about its budgets (default thresholds 0.8 and 0.95). */
export type TenantAlertSettings = z.infer<typeof alertSettingsSchema>;

const displayName = z
  .string()
  .trim()
  .min(1, "must not be empty")
  .max(200, "too long")
  .refine((s) => !/[\u0000-\u001f\u007f]/.test(s), "must not contain control characters");

/** The settings fields of a tenant body; budgets, quotas and rate limits partial, since they merge field by field (null clears one). */
const settingsFields = {
  /** Display name; defaults to the id. */
  name: displayName.optional(),
  /** Default "shared". */
  tier: z.enum(TENANT_TIERS, { error: `must be one of ${TENANT_TIERS.join(", ")}` }).optional(),
  /** Spans and usage records older than this are deleted. Default 30, range 1-3650. */
  retentionDays: z.number().int("must be a whole number").min(1).max(3650).optional(),
  budgets: managedBudgetsSchema.partial().optional(),
  quotas: managedQuotasSchema.partial().optional(),
  rateLimits: managedRateLimitsSchema.partial().optional(),
  /** Head-sampling ratio of new traces (0-1); null leaves the runtime's own. */
  samplingRatio: samplingRatioSchema.optional(),
  alerts: alertSettingsSchema.optional(),
};

/** Kinds of keys the admin API issues for a tenant. */
export const tenantKeyKindSchema = z.enum(["ingest", "console"]);
/** Kinds of keys the admin API issues for a tenant. */
export type TenantKeyKind = z.infer<typeof tenantKeyKindSchema>;

/** Body of POST /api/v1/admin/tenants. */
export const createTenantBody = z.strictObject({
  /** Tenant id: lowercase letters, digits, "_" and "-", 1-63 characters, starting with a letter or digit. */
  id: tenantParam,
  ...settingsFields,
  /** Keys to issue with the tenant; default ["ingest", "console"]. */
  keys: z.array(tenantKeyKindSchema).max(2).optional(),
});
/** Body of POST /api/v1/admin/tenants. */
export type CreateTenantRequest = z.input<typeof createTenantBody>;

/** Body of PUT /api/v1/admin/tenants/{id}: every field optional; budgets, quotas and rate limits merge field by field (null clears one). */
export const updateTenantBody = z.strictObject(settingsFields);
/** Body of PUT /api/v1/admin/tenants/{id}. */
export type UpdateTenantRequest = z.input<typeof updateTenantBody>;

/** Body of POST /api/v1/admin/tenants/{id}/keys. */
export const issueKeyBody = z.strictObject({
  kind: tenantKeyKindSchema,
  /** When true, every active key of this kind of this tenant is revoked once the new one exists. */
  rotate: z.boolean().optional(),
});
/** Body of POST /api/v1/admin/tenants/{id}/keys. */
export type IssueKeyRequest = z.input<typeof issueKeyBody>;

/** Body of POST /api/v1/admin/service-keys. */
export const createServiceKeyBody = z.strictObject({
  /** Tenants this ingest key may write; each must exist. 1-1000 entries. */
  allowedTenants: z.array(tenantParam).min(1, "must name at least one tenant").max(1000),
});
/** Body of POST /api/v1/admin/service-keys. */
export type CreateServiceKeyRequest = z.input<typeof createServiceKeyBody>;

/** The longest webhook URL accepted. */
export const MAX_WEBHOOK_URL_LENGTH = 2_048;

/** A webhook URL: absolute http or https, with a host, at most MAX_WEBHOOK_URL_LENGTH characters. */
export const webhookUrlSchema = z
  .string()
  .max(MAX_WEBHOOK_URL_LENGTH, `must be at most ${MAX_WEBHOOK_URL_LENGTH} characters`)
  .refine((text) => {
    if (!URL.canParse(text)) return false;
    const url = new URL(text);
    return (url.protocol === "http:" || url.protocol === "https:") && url.hostname !== "";
  }, "must be an absolute http or https URL");

/** Body of PUT /api/v1/admin/tenants/{id}/webhook. */
export const setWebhookBody = z.strictObject({
  /** http(s) URL receiving alert events as signed JSON POSTs. */
  url: webhookUrlSchema,
});
/** Body of PUT /api/v1/admin/tenants/{id}/webhook. */
export type SetWebhookRequest = z.input<typeof setWebhookBody>;

/** The rule a console session digest follows, as the collector words it. */
export const SESSION_DIGEST_RULE = "must be the base64url SHA-256 of a session cookie (43 characters)";

/** A session digest: the base64url SHA-256 of a console session cookie (43 characters). */
export const SESSION_DIGEST_PATTERN = /^[A-Za-z0-9_-]{43}$/;

/** A console session digest (a path's `{digest}`, a body's `digest`): SESSION_DIGEST_PATTERN. */
export const sessionDigestParam = z.string().regex(SESSION_DIGEST_PATTERN, SESSION_DIGEST_RULE);

/** Body of POST /api/v1/sessions/ended: the session with this cookie digest ended, and would have expired at `expiresAt` (epoch ms). */
export const endSessionBody = z.strictObject({
  digest: sessionDigestParam,
  expiresAt: z.number().int("must be whole milliseconds").nonnegative(),
});
/** Body of POST /api/v1/sessions/ended. */
export type EndSessionRequest = z.input<typeof endSessionBody>;
