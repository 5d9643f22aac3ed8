/**
 * A tenant's LLM budget and rate limits as the control plane sets them, above the code's LLM
 * configuration. Guarantee: a value left out or null leaves the code's value in force; any other
 * value replaces it.
 */
import { z } from "zod";
import { parseConfig } from "../tenancy/tenant-quota.js";
import type { TenantLlmConfig } from "./tenant-llm-config.js";

/** Managed LLM limits of one tenant (each field null or left out to keep the code's value). */
export interface ManagedLlmLimits {
  readonly budget?: {
    readonly tokensPerDay?: number | null;
    readonly tokensPerMonth?: number | null;
    readonly costUsdPerDay?: number | null;
    readonly costUsdPerMonth?: number | null;
  };
  readonly rateLimit?: {
    readonly requestsPerMinute?: number | null;
    readonly tokensPerMinute?: number | null;
  };
}

const budgetValue = z.number().finite().nonnegative().nullable().optional();
const rateValue = z.number().finite().positive().nullable().optional();

const managedLlmLimitsSchema = z.strictObject({
  budget: z.strictObject({ tokensPerDay: budgetValue, tokensPerMonth: budgetValue, costUsdPerDay: budgetValue, costUsdPerMonth: budgetValue }).optional(),
  rateLimit: z.strictObject({ requestsPerMinute: rateValue, tokensPerMinute: rateValue }).optional(),
});

/** Validates managed limits; InvalidArgumentError names the tenant and the field. */
export function parseManagedLlmLimits(tenant: string, limits: ManagedLlmLimits): ManagedLlmLimits {
  return parseConfig(managedLlmLimitsSchema, limits, `managed LLM limits of tenant "${tenant}"`);
}

/** The code's configuration with the managed values laid over it. */
export function withManagedLlmLimits(config: TenantLlmConfig, managed: ManagedLlmLimits | undefined): TenantLlmConfig {
  if (managed === undefined) return config;
  const budget = overlay(config.budget, managed.budget);
  const rate = overlay(config.rateLimit, managed.rateLimit);
  return {
    ...config,
    ...(budget === undefined ? {} : { budget }),
    ...(rate === undefined ? {} : { rateLimit: { ...rate, maxWaitMs: rate.maxWaitMs ?? 0 } }),
  };
}

function overlay<T extends object>(base: T | undefined, over: Readonly<Record<string, number | null | undefined>> | undefined): T | undefined {
  const set = Object.entries(over ?? {}).filter((e): e is [string, number] => typeof e[1] === "number");
  if (set.length === 0) return base;
  return { ...(base ?? {}), ...Object.fromEntries(set) } as T;
}
