/**
 * The control-plane contract between the collector (which stores every tenant's settings in its
 * tenant registry, the one source of truth) and the runtimes that follow them. The collector
 * validates what operators write with these schemas; a runtime validates what it reads with the
 * same ones, so neither side can hand the other a value it would refuse.
 *
 * Reading settings: `GET {CONTROL_PATHS.settings}` with a service key (the tenants it may write) or
 * a tenant ingest key (its tenant).
 * - `?tenants=a,b` narrows the answer (default: every tenant the key serves); naming a tenant the
 *   key does not serve is a 403 naming it, one that does not exist a 404 naming it.
 * - `If-None-Match: "<version>"` with `?wait=<seconds>` (0-30, default 0) is a long poll: the
 *   collector answers 304 when nothing changed within the wait, or 200 as soon as something does.
 * - Every answer carries `ETag: "<version>"`, the highest settings version among the tenants read.
 * - The request headers CONTROL_HEADERS identify the runtime and the version it has applied: the
 *   collector records them as the runtime's check-in, which operators see per tenant.
 *
 * Reading usage so far: `GET {CONTROL_PATHS.usage}?tenants=a,b&excludeLedger=<id>` sums each
 * tenant's usage records of the current UTC day and month, leaving out those charged by the named
 * ledger (the caller's own, which it already counts). Every record the collector acknowledged before
 * the request counts: the read waits (up to 2 s) for them to be stored.
 */
import { z } from "zod";

/** Where tenants' settings and usage so far are read. */
export const CONTROL_PATHS = {
  settings: "/api/v1/control/settings",
  usage: "/api/v1/control/usage",
} as const;

/** Request headers a following runtime sends with every read (its check-in). */
export const CONTROL_HEADERS = {
  /** A stable id of the runtime process (one per process, new on restart). */
  runtimeId: "troupe-runtime-id",
  /** A name an operator recognises: the service name and host. */
  runtimeName: "troupe-runtime-name",
  /** The settings version the runtime has applied (0 before any). */
  appliedVersion: "troupe-applied-version",
} as const;

/** The longest long poll, in seconds. */
export const MAX_SETTINGS_WAIT_S = 30;

/** Isolation tiers: "shared" runs turns on the runtime's event loop, "worker" in its worker threads, "process" in a worker process of a distributed cluster. */
export const TENANT_TIERS = ["shared", "worker", "process"] as const;
/** One of TENANT_TIERS. */
export type TenantTier = (typeof TENANT_TIERS)[number];

/** Quotas the operator sets; null leaves the runtime's own value (its code options) in force. */
export interface ManagedQuotas {
  maxInFlightTurns: number | null;
  maxQueuedMessages: number | null;
  messagesPerSecond: number | null;
  turnTimeoutMs: number | null;
  weight: number | null;
}

/** Token and cost budgets per UTC day and month; null: none set here (the runtime's own budget applies, if its code sets one; else unlimited). */
export interface ManagedBudgets {
  dailyTokens: number | null;
  monthlyTokens: number | null;
  dailyCostUsd: number | null;
  monthlyCostUsd: number | null;
}

/** LLM rate limits; null leaves the runtime's own value in force. */
export interface ManagedRateLimits {
  requestsPerMinute: number | null;
  tokensPerMinute: number | null;
}

/** One tenant's settings as a runtime reads them. */
export interface ManagedTenantSettings {
  id: string;
  /** Increases on every change of this tenant. */
  version: number;
  tier: TenantTier;
  quotas: ManagedQuotas;
  budgets: ManagedBudgets;
  rateLimits: ManagedRateLimits;
  /** Head-sampling ratio of new traces (0-1); null leaves the runtime's own. */
  samplingRatio: number | null;
  retentionDays: number;
}

/** Answer of GET CONTROL_PATHS.settings (200). */
export interface ControlSettingsResponse {
  /** The highest `version` among `tenants` (also the ETag); 0 when there are none. */
  version: number;
  tenants: ManagedTenantSettings[];
}

/** One tenant's usage so far in the current UTC day and month (all outcomes; refused calls carry none). */
export interface TenantUsageSoFar {
  id: string;
  dayTokens: number;
  dayCostUsd: number;
  monthTokens: number;
  monthCostUsd: number;
}

/** Answer of GET CONTROL_PATHS.usage (200). Only tenants with usage this month are listed: a tenant left out has used nothing. */
export interface ControlUsageResponse {
  /** The collector's clock when it read the totals. */
  asOf: string;
  /** The UTC day (`YYYY-MM-DD`) and month (`YYYY-MM`) summed. */
  day: string;
  month: string;
  tenants: TenantUsageSoFar[];
}

const wholeAtLeastOne = z.number({ error: "must be a number" }).int("must be a whole number").min(1, "must be at least 1").max(1e9, "is too large");
const positiveFinite = z.number({ error: "must be a number" }).finite("must be a finite number").positive("must be greater than 0");
const budget = z.number({ error: "must be a number" }).finite("must be a finite number").nonnegative("must not be negative");
const wholeBudget = budget.refine((v) => Number.isSafeInteger(v), "must be a whole number");

/** What an operator may set of a tenant's quotas (each null to leave the runtime's own). */
export const managedQuotasSchema = z.strictObject({
  maxInFlightTurns: wholeAtLeastOne.nullable(),
  maxQueuedMessages: wholeAtLeastOne.nullable(),
  messagesPerSecond: positiveFinite.max(1e6, "is too large").nullable(),
  turnTimeoutMs: wholeAtLeastOne.max(86_400_000, "must be at most one day (86400000)").nullable(),
  weight: positiveFinite.max(1000, "must be at most 1000").nullable(),
});

/** Budgets (each null for none set here). */
export const managedBudgetsSchema = z.strictObject({
  dailyTokens: wholeBudget.nullable(),
  monthlyTokens: wholeBudget.nullable(),
  dailyCostUsd: budget.nullable(),
  monthlyCostUsd: budget.nullable(),
});

/** LLM rate limits (each null to leave the runtime's own). */
export const managedRateLimitsSchema = z.strictObject({
  requestsPerMinute: positiveFinite.nullable(),
  tokensPerMinute: positiveFinite.nullable(),
});

/** A head-sampling ratio (null to leave the runtime's own). */
export const samplingRatioSchema = z.number({ error: "must be a number" }).min(0, "must be from 0 to 1").max(1, "must be from 0 to 1").nullable();

/** One tenant's settings as read by a runtime. */
export const managedTenantSettingsSchema = z.strictObject({
  id: z.string().min(1),
  version: z.number().int().nonnegative(),
  tier: z.enum(TENANT_TIERS, { error: `must be one of ${TENANT_TIERS.join(", ")}` }),
  quotas: managedQuotasSchema,
  budgets: managedBudgetsSchema,
  rateLimits: managedRateLimitsSchema,
  samplingRatio: samplingRatioSchema,
  retentionDays: z.number().int().min(1).max(3650),
});

/** The settings answer as a runtime validates it. */
export const controlSettingsResponseSchema = z.strictObject({
  version: z.number().int().nonnegative(),
  tenants: z.array(managedTenantSettingsSchema),
});

/** The usage answer as a runtime validates it. */
export const controlUsageResponseSchema = z.strictObject({
  asOf: z.string(),
  day: z.string().regex(/^\d{4}-\d{2}-\d{2}$/),
  month: z.string().regex(/^\d{4}-\d{2}$/),
  tenants: z.array(
    z.strictObject({
      id: z.string().min(1),
      dayTokens: budget,
      dayCostUsd: budget,
      monthTokens: budget,
      monthCostUsd: budget,
    }),
  ),
});

/** Unset quotas, budgets and rate limits: what a new tenant starts with. */
export const UNSET_QUOTAS: Readonly<ManagedQuotas> = Object.freeze({ maxInFlightTurns: null, maxQueuedMessages: null, messagesPerSecond: null, turnTimeoutMs: null, weight: null });
/** No budget set here: the runtime's own budget applies, if its code sets one. */
export const UNSET_BUDGETS: Readonly<ManagedBudgets> = Object.freeze({ dailyTokens: null, monthlyTokens: null, dailyCostUsd: null, monthlyCostUsd: null });
/** No rate limits set here: the runtime's own apply. */
export const UNSET_RATE_LIMITS: Readonly<ManagedRateLimits> = Object.freeze({ requestsPerMinute: null, tokensPerMinute: null });
