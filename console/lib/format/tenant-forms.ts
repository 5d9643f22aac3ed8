// The operator's tenant forms: every settings field with its label, unit and bounds, read from a
// submitted form into an admin API request, or into a message per field that names it. The bounds
// are those the collector enforces (contract/src/control-wire.ts); checking them here lets
// the form name the field before anything is sent, and the collector still has the last word.
import { z } from "zod";
import type { CreateTenantRequest, TenantRecord, TenantTier, UpdateTenantRequest } from "../api/types";

/** The outcome of a settings form, shown beside it. */
export interface FormResult<T = undefined> {
  ok: boolean;
  message: string | null;
  /** Per-field problems, keyed by the form field name. */
  fieldErrors?: Record<string, string>;
  /** What was submitted, so a refused form shows the operator's input again rather than the saved values. */
  values?: Record<string, string>;
  data?: T;
}

const TIERS = ["shared", "worker", "process"] as const satisfies readonly TenantTier[];

/** What an empty numeric field means. */
export type UnsetMeaning = "unlimited" | "runtime";

/** One optional numeric setting of the form. */
export interface NumberFieldSpec {
  /** The form field name (also the API field name). */
  name: string;
  /** The label shown, and the name used in messages. */
  label: string;
  /** What leaving it empty means. */
  unset: UnsetMeaning;
  whole?: boolean;
  /** Lowest allowed value; `exclusive` when the value must be above it. */
  min: number;
  exclusive?: boolean;
  max?: number;
  step?: string;
  /** Percent fields are shown and typed as 0-100 and sent as a 0-1 ratio. */
  percent?: boolean;
}

/** Token and cost budgets per UTC day and month (empty: unlimited). */
export const BUDGET_FIELDS = [
  { name: "dailyTokens", label: "Daily token budget", unset: "unlimited", whole: true, min: 0, max: Number.MAX_SAFE_INTEGER, step: "1" },
  { name: "monthlyTokens", label: "Monthly token budget", unset: "unlimited", whole: true, min: 0, max: Number.MAX_SAFE_INTEGER, step: "1" },
  { name: "dailyCostUsd", label: "Daily cost budget (USD)", unset: "unlimited", min: 0, step: "any" },
  { name: "monthlyCostUsd", label: "Monthly cost budget (USD)", unset: "unlimited", min: 0, step: "any" },
] as const satisfies readonly NumberFieldSpec[];

/** Runtime quotas (empty: the runtime's own option). */
export const QUOTA_FIELDS = [
  { name: "maxInFlightTurns", label: "Max turns in flight", unset: "runtime", whole: true, min: 1, max: 1e9, step: "1" },
  { name: "maxQueuedMessages", label: "Max queued messages", unset: "runtime", whole: true, min: 1, max: 1e9, step: "1" },
  { name: "messagesPerSecond", label: "Messages per second", unset: "runtime", min: 0, exclusive: true, max: 1e6, step: "any" },
  { name: "turnTimeoutMs", label: "Turn timeout (ms)", unset: "runtime", whole: true, min: 1, max: 86_400_000, step: "1" },
  { name: "weight", label: "Scheduling weight", unset: "runtime", min: 0, exclusive: true, max: 1000, step: "any" },
] as const satisfies readonly NumberFieldSpec[];

/** LLM rate limits (empty: the runtime's own option). */
export const RATE_LIMIT_FIELDS = [
  { name: "requestsPerMinute", label: "LLM requests per minute", unset: "runtime", min: 0, exclusive: true, step: "any" },
  { name: "tokensPerMinute", label: "LLM tokens per minute", unset: "runtime", min: 0, exclusive: true, step: "any" },
] as const satisfies readonly NumberFieldSpec[];

/** Head-sampling ratio of new traces, as a percentage (empty: the runtime's own). */
export const SAMPLING_FIELD = { name: "samplingRatio", label: "Trace sampling (%)", unset: "runtime", min: 0, max: 100, step: "any", percent: true } as const satisfies NumberFieldSpec;

/** The thresholds a new tenant warns at, as percentages. */
export const DEFAULT_ALERT_PERCENTS = [80, 95] as const;

/** What "not set" means, as a field hint. */
export function unsetHint(unset: UnsetMeaning): string {
  return unset === "unlimited" ? "Empty: the runtime's own budget, if any; else unlimited" : "Empty: the runtime's own option";
}

/** A 0-1 ratio as the percentage typed into a form ("12.5"). */
export function ratioToPercentText(ratio: number): string {
  return String(Number((ratio * 100).toPrecision(10)));
}

/** A setting's current value as the text of its form field ("" when not set). */
export function fieldText(spec: NumberFieldSpec, value: number | null | undefined): string {
  if (value === null || value === undefined) return "";
  return spec.percent ? ratioToPercentText(value) : String(value);
}

function rangeText(spec: NumberFieldSpec): string {
  if (spec.percent) return `from ${spec.min} to ${spec.max}%`;
  if (spec.exclusive) return spec.max !== undefined ? `greater than ${spec.min} and at most ${spec.max}` : `greater than ${spec.min}`;
  if (spec.max !== undefined && spec.max < Number.MAX_SAFE_INTEGER) return `from ${spec.min} to ${spec.max}`;
  return `at least ${spec.min}`;
}

/** Reads one optional numeric field: null when empty, else the value (a 0-1 ratio for percent fields). */
function optionalNumber(spec: NumberFieldSpec) {
  return z
    .string()
    .trim()
    .transform((raw, ctx) => {
      if (raw === "") return null;
      const n = Number(raw);
      const kind = spec.whole ? "a whole number" : "a number";
      const fail = (why: string) => {
        ctx.addIssue({ code: "custom", message: `${spec.label} ${why}, or empty for ${spec.unset === "unlimited" ? "unlimited" : "not set"}` });
        return z.NEVER;
      };
      if (!Number.isFinite(n)) return fail(`must be ${kind}`);
      if (spec.whole && !Number.isSafeInteger(n)) return fail(`must be ${kind}`);
      const belowMin = spec.exclusive ? n <= spec.min : n < spec.min;
      if (belowMin || (spec.max !== undefined && n > spec.max)) return fail(`must be ${rangeText(spec)}`);
      return spec.percent ? Number((n / 100).toPrecision(12)) : n;
    });
}

/** Alert thresholds typed as percentages ("80, 95"): 1-5 distinct values in (0, 100], sent ascending as fractions. */
const alertThresholds = z
  .string()
  .trim()
  .transform((raw, ctx) => {
    const parts = raw.split(/[\s,;]+/).filter((p) => p !== "").map((p) => p.replace(/%$/, ""));
    const values = parts.map(Number);
    const fail = (why: string) => {
      ctx.addIssue({ code: "custom", message: `Alert thresholds ${why}` });
      return z.NEVER;
    };
    if (values.length < 1 || values.length > 5) return fail("must be 1 to 5 percentages, e.g. 80, 95");
    if (values.some((v) => !Number.isFinite(v) || v <= 0 || v > 100)) return fail("must each be a percentage greater than 0 and at most 100");
    if (new Set(values).size !== values.length) return fail("must not repeat a value");
    return [...values].sort((a, b) => a - b).map((v) => Number((v / 100).toPrecision(12)));
  });

const budgetShape = Object.fromEntries(BUDGET_FIELDS.map((f) => [f.name, optionalNumber(f)])) as Record<(typeof BUDGET_FIELDS)[number]["name"], ReturnType<typeof optionalNumber>>;
const quotaShape = Object.fromEntries(QUOTA_FIELDS.map((f) => [f.name, optionalNumber(f)])) as Record<(typeof QUOTA_FIELDS)[number]["name"], ReturnType<typeof optionalNumber>>;
const rateLimitShape = Object.fromEntries(RATE_LIMIT_FIELDS.map((f) => [f.name, optionalNumber(f)])) as Record<(typeof RATE_LIMIT_FIELDS)[number]["name"], ReturnType<typeof optionalNumber>>;

const generalShape = {
  name: z.string().trim().min(1, "Name is required").max(200, "Name is at most 200 characters"),
  tier: z.enum(TIERS, { error: "Tier must be shared, worker or process" }),
  retentionDays: z.coerce.number({ error: "Retention must be a number of days" }).int("Retention must be whole days").min(1, "Retention is at least 1 day").max(3650, "Retention is at most 3650 days"),
};

const createSchema = z.object({
  id: z.string().trim().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, "Tenant id: 1-63 lowercase letters, digits, _ or -, starting with a letter or digit"),
  ...generalShape,
  name: z.string().trim().max(200, "Name is at most 200 characters"),
  ...budgetShape,
});

const updateSchema = z.object({
  ...generalShape,
  ...budgetShape,
  ...quotaShape,
  ...rateLimitShape,
  samplingRatio: optionalNumber(SAMPLING_FIELD),
  alertThresholds,
});

const CREATE_FIELDS = ["id", "name", "tier", "retentionDays", ...BUDGET_FIELDS.map((f) => f.name)];
/** Every field of the tenant settings form. */
export const SETTINGS_FIELDS = [
  "name",
  "tier",
  "retentionDays",
  ...BUDGET_FIELDS.map((f) => f.name),
  ...QUOTA_FIELDS.map((f) => f.name),
  ...RATE_LIMIT_FIELDS.map((f) => f.name),
  SAMPLING_FIELD.name,
  "alertThresholds",
];

/** The submitted text of each named field. */
export function fieldsOf(form: FormData, names: readonly string[]): Record<string, string> {
  return Object.fromEntries(names.map((n) => [n, String(form.get(n) ?? "")]));
}

function problems(error: z.ZodError): Record<string, string> {
  const out: Record<string, string> = {};
  for (const issue of error.issues) {
    const key = String(issue.path[0] ?? "form");
    out[key] ??= issue.message;
  }
  return out;
}

type Budgets = { [K in (typeof BUDGET_FIELDS)[number]["name"]]: number | null };

function budgetsOf(d: Budgets) {
  return { dailyTokens: d.dailyTokens, monthlyTokens: d.monthlyTokens, dailyCostUsd: d.dailyCostUsd, monthlyCostUsd: d.monthlyCostUsd };
}

/** Reads a create-tenant form into an API request, or the problems per field. */
export function parseCreateTenantForm(form: FormData): { request: CreateTenantRequest } | { fieldErrors: Record<string, string> } {
  const parsed = createSchema.safeParse(fieldsOf(form, CREATE_FIELDS));
  if (!parsed.success) return { fieldErrors: problems(parsed.error) };
  const d = parsed.data;
  return {
    request: { id: d.id, name: d.name || d.id, tier: d.tier, retentionDays: d.retentionDays, budgets: budgetsOf(d), keys: ["ingest", "console"] },
  };
}

/**
 * Reads a tenant settings form into an API request that sets every field (an empty field clears it:
 * null), or the problems per field.
 */
export function parseUpdateTenantForm(form: FormData): { request: UpdateTenantRequest } | { fieldErrors: Record<string, string> } {
  const parsed = updateSchema.safeParse(fieldsOf(form, SETTINGS_FIELDS));
  if (!parsed.success) return { fieldErrors: problems(parsed.error) };
  const d = parsed.data;
  return {
    request: {
      name: d.name,
      tier: d.tier,
      retentionDays: d.retentionDays,
      budgets: budgetsOf(d),
      quotas: { maxInFlightTurns: d.maxInFlightTurns, maxQueuedMessages: d.maxQueuedMessages, messagesPerSecond: d.messagesPerSecond, turnTimeoutMs: d.turnTimeoutMs, weight: d.weight },
      rateLimits: { requestsPerMinute: d.requestsPerMinute, tokensPerMinute: d.tokensPerMinute },
      samplingRatio: d.samplingRatio,
      alerts: { thresholds: d.alertThresholds },
    },
  };
}

/** The settings form's fields filled with a tenant's current settings. */
export function settingsFormValues(tenant: TenantRecord): Record<string, string> {
  const out: Record<string, string> = { name: tenant.name, tier: tenant.tier, retentionDays: String(tenant.retentionDays) };
  for (const f of BUDGET_FIELDS) out[f.name] = fieldText(f, tenant.budgets[f.name]);
  for (const f of QUOTA_FIELDS) out[f.name] = fieldText(f, tenant.quotas?.[f.name]);
  for (const f of RATE_LIMIT_FIELDS) out[f.name] = fieldText(f, tenant.rateLimits?.[f.name]);
  out[SAMPLING_FIELD.name] = fieldText(SAMPLING_FIELD, tenant.samplingRatio);
  const thresholds = tenant.alerts?.thresholds?.length ? tenant.alerts.thresholds.map(ratioToPercentText) : DEFAULT_ALERT_PERCENTS.map(String);
  out.alertThresholds = thresholds.join(", ");
  return out;
}

/** The collector's parameter paths ("quotas.weight") mapped to the form field showing them. */
const FIELD_OF_PARAMETER: Record<string, string> = {
  ...Object.fromEntries(BUDGET_FIELDS.map((f) => [`budgets.${f.name}`, f.name])),
  ...Object.fromEntries(QUOTA_FIELDS.map((f) => [`quotas.${f.name}`, f.name])),
  ...Object.fromEntries(RATE_LIMIT_FIELDS.map((f) => [`rateLimits.${f.name}`, f.name])),
  samplingRatio: "samplingRatio",
  "alerts.thresholds": "alertThresholds",
  alerts: "alertThresholds",
  retentionDays: "retentionDays",
  tier: "tier",
  name: "name",
  url: "url",
};

/**
 * The form field a collector refusal is about, when its message names a parameter
 * (`invalid parameter "quotas.weight": ...`), so the message can be shown beside that field.
 */
export function fieldOfCollectorMessage(message: string): string | undefined {
  const named = /parameter "([\w.]+)"/.exec(message)?.[1];
  if (!named) return undefined;
  const path = named.replace(/\.\d+$/, "");
  return FIELD_OF_PARAMETER[path];
}

/** A webhook URL typed by the operator: http(s), at most 2,048 characters. */
export function parseWebhookUrl(raw: unknown): { url: string } | { error: string } {
  const text = typeof raw === "string" ? raw.trim() : "";
  if (text === "") return { error: "Webhook URL is required" };
  if (text.length > 2048) return { error: "Webhook URL must be at most 2,048 characters" };
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { error: "Webhook URL must be a full URL, e.g. https://alerts.example.com/troupe" };
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return { error: "Webhook URL must start with http:// or https://" };
  return { url: url.toString() };
}
