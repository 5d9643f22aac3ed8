import type { Context } from "hono";
import { z } from "zod";
import { isTenantId } from "@troupe/runtime";
import { CollectorError } from "../errors.js";

/** The widest time range a query may span. */
export const MAX_RANGE_MS = 400 * 24 * 3600_000;

const EPOCH_MS = /^\d{1,15}$/;
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
    if (!Number.isFinite(ms) || ms < 0 || ms > 253402300799999) {
      ctx.addIssue({ code: "custom", message: "must be an ISO-8601 time or epoch milliseconds" });
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
