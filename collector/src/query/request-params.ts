import type { Context } from "hono";
import { z } from "zod";
import { isTenantId, MAX_ATTRIBUTE_VALUE_LENGTH, SPAN_ATTRIBUTE_ALLOW_LIST } from "@troupe/runtime";
import { CollectorError } from "../errors.js";

/** The widest time range a query may span. */
export const MAX_RANGE_MS = 400 * 24 * 3600_000;

const EPOCH_MS = /^\d{1,15}$/;
/** The last millisecond a span's nanosecond start time (DateTime64(9)) can hold: 2262-04-11T23:47:16.854Z. Later bounds overflow in SQL. */
const MAX_TIME_MS = 9_223_372_036_854;
const ISO = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)?(?:Z|[+-]\d{2}:?\d{2})?$/;

/** A time parameter: epoch milliseconds or ISO-8601 (UTC unless it carries an offset) → epoch ms. */
export const timeParam = z
  .string()
  .max(40, "too long")
  .transform((text, ctx) => {
    let ms = Number.NaN;
    if (EPOCH_MS.test(text)) ms = Number(text);
    else if (ISO.test(text)) {
      const normalized = text.replace(" ", "T");
      const hasZone = /(?:Z|[+-]\d{2}:?\d{2})$/.test(normalized) && normalized.length > 10;
      ms = Date.parse(hasZone || normalized.length === 10 ? normalized : `${normalized}Z`);
    }
    if (!Number.isFinite(ms) || ms < 0 || ms > MAX_TIME_MS) {
      ctx.addIssue({ code: "custom", message: "must be an ISO-8601 time or epoch milliseconds, from 1970 to 2262-04-11" });
      return z.NEVER;
    }
    return ms;
  });

/** `tenant=`: only meaningful with an admin key. */
export const tenantParam = z.string().max(63, "too long").refine(isTenantId, "is not a valid tenant id");

/** An optional integer parameter within bounds. */
export function intParam(min: number, max: number) {
  return z
    .string()
    .regex(/^\d{1,9}$/, "must be a whole number")
    .transform(Number)
    .refine((n) => n >= min && n <= max, `must be between ${min} and ${max}`);
}

/** A short free-text filter (agent type, operation): printable, no control characters. */
export const labelParam = z
  .string()
  .min(1, "must not be empty")
  .max(200, "too long")
  .refine((s) => !/[\u0000-\u001f\u007f]/.test(s), "must not contain control characters");

export const formatParam = z.enum(["json", "csv"]);

/** A duration in milliseconds: a non-negative decimal with at most 6 fractional digits. */
export const durationMsParam = z
  .string()
  .regex(/^\d{1,12}(\.\d{1,6})?$/, "must be a non-negative number")
  .transform(Number);

/** One `key=value` attribute filter: the span attribute `key` (allow-listed) whose stored text is exactly `value`. */
export interface AttributeFilter {
  key: string;
  value: string;
}

/** The most `attr` filters one search may combine. */
export const MAX_ATTRIBUTE_FILTERS = 5;

/**
 * `attr=key=value`: split at the first "=". The key must be on the span attribute allow-list (any
 * other key is never stored, so the error names it instead of silently matching nothing); the
 * value is 1 to MAX_ATTRIBUTE_VALUE_LENGTH printable characters.
 */
export const attributeFilterParam = z.string().transform((text, ctx): AttributeFilter => {
  const eq = text.indexOf("=");
  const key = eq < 0 ? text : text.slice(0, eq);
  const value = eq < 0 ? "" : text.slice(eq + 1);
  const fail = (message: string) => {
    ctx.addIssue({ code: "custom", message });
    return z.NEVER;
  };
  if (eq < 0 || key === "") return fail("must be key=value");
  if (!SPAN_ATTRIBUTE_ALLOW_LIST.has(key)) return fail(`${JSON.stringify(key.slice(0, 80))} is not an allow-listed span attribute`);
  if (value === "") return fail(`the value of ${JSON.stringify(key)} must not be empty`);
  if (value.length > MAX_ATTRIBUTE_VALUE_LENGTH) return fail(`the value of ${JSON.stringify(key)} is longer than ${MAX_ATTRIBUTE_VALUE_LENGTH} characters`);
  if (/[\u0000-\u001f\u007f]/.test(value)) return fail("must not contain control characters");
  return { key, value };
});

/** Every `attr` parameter of a request (repeatable), validated; more than MAX_ATTRIBUTE_FILTERS is a bad_request. */
export function parseAttributeFilters(values: readonly string[]): AttributeFilter[] {
  if (values.length > MAX_ATTRIBUTE_FILTERS) throw new CollectorError("bad_request", `invalid parameter "attr": at most ${MAX_ATTRIBUTE_FILTERS} attribute filters`);
  return values.map((v) => parseParams(z.object({ attr: attributeFilterParam }), { attr: v }).attr);
}

/**
 * Validates a query-string object against a strict schema. Unknown parameters and bad values are a
 * CollectorError "bad_request" whose message names the parameter.
 */
export function parseParams<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  if (!issue) throw new CollectorError("bad_request", "invalid parameters");
  if (issue.code === "unrecognized_keys") {
    throw new CollectorError("bad_request", `unknown parameter ${issue.keys.map((k) => JSON.stringify(k.slice(0, 40))).join(", ")}`);
  }
  const name = issue.path.length > 0 ? issue.path.map(String).join(".") : "(parameters)";
  throw new CollectorError("bad_request", `invalid parameter "${name}": ${issue.message}`);
}

/** A resolved time range in epoch milliseconds: from inclusive, to exclusive. */
export interface TimeRange {
  fromMs: number;
  toMs: number;
}

/** Applies defaults (to = now, from = to - defaultSpanMs) and checks the range is ordered and bounded. */
export function resolveRange(from: number | undefined, to: number | undefined, nowMs: number, defaultSpanMs: number): TimeRange {
  const toMs = to ?? nowMs;
  const fromMs = from ?? toMs - defaultSpanMs;
  if (fromMs >= toMs) throw new CollectorError("bad_request", `invalid parameter "from": must be before "to"`);
  if (toMs - fromMs > MAX_RANGE_MS) throw new CollectorError("bad_request", `invalid parameter "from": the range may span at most ${MAX_RANGE_MS / 86_400_000} days`);
  return { fromMs, toMs };
}

/** Binding values for a range, for `fromUnixTimestamp64Milli({fromMs:Int64})` placeholders. */
export function rangeParams(range: TimeRange): { fromMs: number; toMs: number } {
  return { fromMs: range.fromMs, toMs: range.toMs };
}

/** The WHERE fragment for a range over `start_time` (fixed text; the values are bound). */
export const RANGE_SQL = "start_time >= fromUnixTimestamp64Milli({fromMs:Int64}, 'UTC') AND start_time < fromUnixTimestamp64Milli({toMs:Int64}, 'UTC')";

/** The request body as JSON: 415 unless it is sent as application/json, 400 when it does not parse. */
export async function jsonBody(c: Context): Promise<unknown> {
  const type = c.req.header("content-type") ?? "";
  if (!/^application\/json\b/i.test(type)) throw new CollectorError("unsupported_media_type", "send the body as application/json");
  try {
    return (await c.req.json()) as unknown;
  } catch (err) {
    if (err instanceof CollectorError) throw err;
    throw new CollectorError("bad_request", "the body is not valid JSON");
  }
}
