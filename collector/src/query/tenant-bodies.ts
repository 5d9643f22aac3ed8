import type { z } from "zod";
import { CollectorError } from "../errors.js";

// The tenant bodies' schemas are the query API contract's (createTenantBody, updateTenantBody in
// @troupe/contract/query-api); this module reads a body with one and answers what is wrong.

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
