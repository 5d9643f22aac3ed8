// The rules single query parameters follow, shared by the endpoint schemas. Query strings carry
// text, so each rule takes a string and (where the value is a number) yields the number. The
// messages are the ones the collector answers with (`invalid parameter "limit": must be between 1
// and 500`): clients and tests read them.
import { z } from "zod";
import { MAX_ATTRIBUTE_VALUE_LENGTH, SPAN_ATTRIBUTE_ALLOW_LIST } from "../telemetry-attributes.js";
import { isTenantId } from "../tenant-id.js";

/** The widest time range a query may span (400 days). */
export const MAX_RANGE_MS = 400 * 24 * 3600_000;

/** The last millisecond a span's nanosecond start time (DateTime64(9)) can hold: 2262-04-11T23:47:16.854Z. Later bounds overflow in SQL. */
export const MAX_TIME_MS = 9_223_372_036_854;

const EPOCH_MS = /^\d{1,15}$/;
const ISO = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)?(?:Z|[+-]\d{2}:?\d{2})?$/;
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/;

/** A time parameter: epoch milliseconds or ISO-8601 (UTC unless it carries an offset), from 1970 to MAX_TIME_MS → epoch ms. */
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

/** A tenant id (`tenant=`, a path's `{id}`, a body's `id`): the contract's tenant-id rule, at most 63 characters. */
export const tenantParam = z.string().max(63, "too long").refine(isTenantId, "is not a valid tenant id");

/** A whole number from `min` to `max` (at most 9 digits) → the number. */
export function intParam(min: number, max: number) {
  return z
    .string()
    .regex(/^\d{1,9}$/, "must be a whole number")
    .transform(Number)
    .refine((n) => n >= min && n <= max, `must be between ${min} and ${max}`);
}

/** A short free-text filter (agent type, operation, model, conversation id): 1-200 characters, no control characters. */
export const labelParam = z
  .string()
  .min(1, "must not be empty")
  .max(200, "too long")
  .refine((s) => !CONTROL_CHARACTERS.test(s), "must not contain control characters");

/** `format=`: the answer as JSON (default) or as a CSV download. */
export const formatParam = z.enum(["json", "csv"]);

/** A duration in milliseconds: a non-negative decimal, at most 12 integer and 6 fractional digits → the number. */
export const durationMsParam = z
  .string()
  .regex(/^\d{1,12}(\.\d{1,6})?$/, "must be a non-negative number")
  .transform(Number);

/** One `key=value` attribute filter: the span attribute `key` (allow-listed) whose stored text is exactly `value`. */
export interface AttributeFilter {
  key: string;
  value: string;
}

/** The most `attr` filters one trace search may combine. */
export const MAX_ATTRIBUTE_FILTERS = 5;

/**
 * `attr=key=value`, split at the first "=". The key must be on the span attribute allow-list (any
 * other key is never stored, so the error names it instead of silently matching nothing); the value
 * is 1 to MAX_ATTRIBUTE_VALUE_LENGTH printable characters.
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
  if (CONTROL_CHARACTERS.test(value)) return fail("must not contain control characters");
  return { key, value };
});
