import { TENANT_TIERS, managedBudgetsSchema, managedQuotasSchema, managedRateLimitsSchema, samplingRatioSchema } from "@troupe/runtime";
import { z } from "zod";
import { CollectorError } from "../errors.js";
import { alertSettingsSchema } from "../tenants/tenant-checks.js";
import { tenantParam } from "./request-params.js";

const name = z.string().trim().min(1, "must not be empty").max(200, "too long").refine((s) => !/[\u0000-\u001f\u007f]/.test(s), "must not contain control characters");

/** The settings fields of a tenant body, validated with the contract's schemas (objects partial: they merge). */
const settingsFields = {
  name: name.optional(),
  tier: z.enum(TENANT_TIERS, { error: `must be one of ${TENANT_TIERS.join(", ")}` }).optional(),
  retentionDays: z.number().int("must be a whole number").min(1).max(3650).optional(),
  budgets: managedBudgetsSchema.partial().optional(),
  quotas: managedQuotasSchema.partial().optional(),
  rateLimits: managedRateLimitsSchema.partial().optional(),
  samplingRatio: samplingRatioSchema.optional(),
  alerts: alertSettingsSchema.optional(),
};

/** Body of POST /admin/tenants (CreateTenantRequest). */
export const createTenantBody = z.strictObject({ id: tenantParam, ...settingsFields, keys: z.array(z.enum(["ingest", "console"])).max(2).optional() });

/** Body of PUT /admin/tenants/{id} (UpdateTenantRequest). */
export const updateTenantBody = z.strictObject(settingsFields);

/**
 * Validates a JSON body against a strict schema. A bad value is a CollectorError "bad_request"
 * naming its field (`invalid parameter "quotas.weight": must be greater than 0`), an unknown field
 * one naming it with its path (`unknown parameter "quotas.bogus"`).
 */
export function parseBody<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  if (!issue) throw new CollectorError("bad_request", "invalid body");
  const path = issue.path.map(String).join(".");
  if (issue.code === "unrecognized_keys") {
    throw new CollectorError("bad_request", `unknown parameter ${issue.keys.map((k) => JSON.stringify((path ? `${path}.` : "") + k.slice(0, 40))).join(", ")}`);
  }
  throw new CollectorError("bad_request", `invalid parameter "${path || "(body)"}": ${issue.message}`);
}

/** Only the fields a body set (an absent field is left alone; null is kept: it clears). */
export function definedFields<T extends object>(body: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(body).filter(([, v]) => v !== undefined)) as { [K in keyof T]?: Exclude<T[K], undefined> };
}
