import type { Context } from "hono";
import { attributeFilterParam, MAX_ATTRIBUTE_FILTERS, MAX_RANGE_MS, type AttributeFilter } from "@troupe/contract/query-api";
import { z } from "zod";
import { CollectorError } from "../errors.js";

// The parameter rules are the query API contract's (@troupe/contract/query-api); these two stay
// importable from here for the control routes, which read them from this module.

const attrSchema = z.object({ attr: attributeFilterParam });

/** Every `attr` parameter of a request (repeatable), validated; more than MAX_ATTRIBUTE_FILTERS is a bad_request. */
export function parseAttributeFilters(values: readonly string[]): AttributeFilter[] {
  if (values.length > MAX_ATTRIBUTE_FILTERS) throw new CollectorError("bad_request", `invalid parameter "attr": at most ${MAX_ATTRIBUTE_FILTERS} attribute filters`);
  return values.map((v) => parseParams(attrSchema, { attr: v }).attr);
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
