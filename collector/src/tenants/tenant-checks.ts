import { TENANT_TIERS, managedBudgetsSchema, managedQuotasSchema, managedRateLimitsSchema, samplingRatioSchema } from "@troupe/contract";
import { z } from "zod";
import { CollectorError } from "../errors.js";
import { alertSettingsSchema, type TenantRecord, type UpdateTenantRequest } from "@troupe/contract/query-api";

/** The settings an operator writes (the admin API's update body): every field optional; objects merge field by field (null clears one). */
export type TenantSettingsInput = UpdateTenantRequest;

const tierSchema = z.enum(TENANT_TIERS, { error: `must be one of ${TENANT_TIERS.join(", ")}` });
const retentionDaysSchema = z.number({ error: "must be a number" }).int("must be an integer from 1 to 3650").min(1, "must be an integer from 1 to 3650").max(3650, "must be an integer from 1 to 3650");
const nameSchema = z
  .string({ error: "must be a string" })
  .min(1, "must be 1-200 characters")
  .max(200, "must be 1-200 characters")
  .refine((s) => !/[\u0000-\u001f\u007f]/.test(s), "must not contain control characters");

/** Every setting of a stored tenant, checked with the same schemas runtimes read them with. */
const tenantSettingsSchema = z.object({
  name: nameSchema,
  tier: tierSchema,
  retentionDays: retentionDaysSchema,
  budgets: managedBudgetsSchema,
  quotas: managedQuotasSchema,
  rateLimits: managedRateLimitsSchema,
  samplingRatio: samplingRatioSchema,
  alerts: alertSettingsSchema,
});

/**
 * The record with `patch` applied: scalar fields replaced, budgets, quotas and rate limits merged
 * field by field (null clears one, undefined leaves it), alert thresholds replaced and sorted.
 * Checks nothing: pass the result to checkTenant.
 */
export function applyTenantPatch(current: TenantRecord, patch: TenantSettingsInput): TenantRecord {
  return {
    ...current,
    ...(patch.name !== undefined ? { name: patch.name } : {}),
    ...(patch.tier !== undefined ? { tier: patch.tier } : {}),
    ...(patch.retentionDays !== undefined ? { retentionDays: patch.retentionDays } : {}),
    budgets: mergeDefined(current.budgets, patch.budgets),
    quotas: mergeDefined(current.quotas, patch.quotas),
    rateLimits: mergeDefined(current.rateLimits, patch.rateLimits),
    ...(patch.samplingRatio !== undefined ? { samplingRatio: patch.samplingRatio } : {}),
    ...(patch.alerts !== undefined ? { alerts: { thresholds: sortedThresholds(patch.alerts.thresholds) } } : {}),
  };
}

/**
 * Checks every setting of a tenant about to be stored. Throws a CollectorError "bad_request" whose
 * message names the first bad field as the API spells it ("quotas.weight must be greater than 0").
 */
export function checkTenant(t: TenantRecord): void {
  const result = tenantSettingsSchema.safeParse(t);
  if (result.success) return;
  const issue = result.error.issues[0];
  if (!issue) throw new CollectorError("bad_request", "invalid tenant settings");
  const field = issue.path.map(String).join(".");
  if (issue.code === "unrecognized_keys") {
    const names = issue.keys.map((k) => JSON.stringify(field ? `${field}.${k.slice(0, 40)}` : k.slice(0, 40)));
    throw new CollectorError("bad_request", `unknown field ${names.join(", ")}`);
  }
  throw new CollectorError("bad_request", `${field || "settings"} ${issue.message}`);
}

function mergeDefined<T extends object>(current: T, patch: Partial<T> | undefined): T {
  if (patch === undefined) return current;
  const merged: Record<string, unknown> = { ...(current as Record<string, unknown>) };
  for (const [key, value] of Object.entries(patch)) if (value !== undefined) merged[key] = value;
  return merged as T;
}

function sortedThresholds(thresholds: readonly number[]): number[] {
  // Not-an-array is left as it is, for checkTenant to name.
  return Array.isArray(thresholds) ? [...(thresholds as readonly number[])].sort((a, b) => a - b) : (thresholds as number[]);
}
