import { z } from "zod";
import { InvalidArgumentError } from "../errors.js";
import type { TenantId } from "@troupe/contract";

/** Limits applied to one tenant. */
export interface TenantQuota {
  /** Turns of this tenant running at once (async handlers overlap; one per agent still holds). */
  maxInFlightTurns: number;
  /** Messages accepted but not started; past it a send fails with QueueFullError. */
  maxQueuedMessages: number;
  /** Sustained message rate (token bucket refill); Infinity for no limit. */
  messagesPerSecond: number;
  /** Token bucket size: messages accepted in a burst. Defaults to one second of `messagesPerSecond`. */
  burst: number;
  /** Time budget of one turn; the watchdog aborts a turn past it. */
  turnTimeoutMs: number;
  /** Share of the event loop under contention, relative to other tenants (weighted fair scheduling). */
  weight: number;
}

/** Where a tenant's turns run: on the main event loop, or in the configured worker TurnHost. */
export type IsolationMode = "inline" | "worker";

/** Everything the runtime applies to one tenant, resolved from defaults, its tier and its own overrides. */
export interface TenantSettings extends TenantQuota {
  tier: string | undefined;
  isolation: IsolationMode;
}

/** Defaults applied when nothing else is configured. */
export const DEFAULT_TENANT_QUOTA: Readonly<TenantQuota> = Object.freeze({
  maxInFlightTurns: 256,
  maxQueuedMessages: 10_000,
  messagesPerSecond: Number.POSITIVE_INFINITY,
  burst: Number.POSITIVE_INFINITY,
  turnTimeoutMs: 30_000,
  weight: 1,
});

const positiveInt = z.number().int().positive();
const positive = z.number().positive();

const quotaShape = {
  maxInFlightTurns: positiveInt.optional(),
  maxQueuedMessages: positiveInt.optional(),
  messagesPerSecond: positive.optional(),
  burst: positive.optional(),
  turnTimeoutMs: positive.optional(),
  weight: positive.optional(),
};

/** A tier: quota overrides plus the isolation mode of its tenants. */
export const tierConfigSchema = z.strictObject({ ...quotaShape, isolation: z.enum(["inline", "worker"]).optional() });
/** One tenant's overrides: its tier and any quota values. */
export const tenantConfigSchema = z.strictObject({ ...quotaShape, tier: z.string().min(1).optional(), isolation: z.enum(["inline", "worker"]).optional() });
/** The quota configuration of a runtime. */
export const quotaConfigSchema = z.strictObject({
  defaults: z.strictObject(quotaShape).optional(),
  tiers: z.record(z.string().min(1), tierConfigSchema).optional(),
  tenants: z.record(z.string(), tenantConfigSchema).optional(),
});

export type TierConfig = z.infer<typeof tierConfigSchema>;
/**
 * One tenant's managed layer: values set by the control plane (the collector's tenant registry),
 * above everything in code. A field left out leaves the code's value in force.
 */
export interface ManagedLayer {
  /** A tier of the code's config to take quotas from; ignored when the code defines no tier of that name. */
  readonly tier?: string;
  readonly isolation?: IsolationMode;
  readonly maxInFlightTurns?: number;
  readonly maxQueuedMessages?: number;
  /** Sets the burst too: one second of it (the registry has no burst of its own). */
  readonly messagesPerSecond?: number;
  readonly turnTimeoutMs?: number;
  readonly weight?: number;
}
export type TenantConfig = z.infer<typeof tenantConfigSchema>;
export type QuotaConfig = z.infer<typeof quotaConfigSchema>;

/** Validates with zod and answers bad input with an InvalidArgumentError naming the field. */
export function parseConfig<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const result = schema.safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0];
    const where = issue && issue.path.length > 0 ? issue.path.join(".") : "(root)";
    throw new InvalidArgumentError(`invalid ${what}: ${where}: ${issue?.message ?? "invalid value"}`);
  }
  return result.data;
}

/**
 * Resolves the settings of a tenant: defaults, then its tier, then its own overrides, then its
 * managed layer (the control plane's values, `setManaged`). Config can change at runtime
 * (`setTenant`, `setTier`, `setManaged`); every change bumps `version` so callers can refresh.
 */
export class TenantSettingsResolver {
  #defaults: TenantQuota;
  readonly #tiers = new Map<string, TierConfig>();
  readonly #tenants = new Map<string, TenantConfig>();
  readonly #managed = new Map<string, ManagedLayer>();
  /** Increases on every change. */
  version = 0;

  constructor(config: QuotaConfig = {}) {
    const parsed = parseConfig(quotaConfigSchema, config, "quotas");
    this.#defaults = { ...DEFAULT_TENANT_QUOTA, ...stripUndefined(parsed.defaults ?? {}) };
    for (const [name, tier] of Object.entries(parsed.tiers ?? {})) this.#tiers.set(name, tier);
    for (const [tenant, cfg] of Object.entries(parsed.tenants ?? {})) this.#tenants.set(tenant, cfg);
  }

  /** Replaces one tenant's overrides (validated). */
  setTenant(tenant: TenantId, config: TenantConfig): void {
    this.#tenants.set(tenant, parseConfig(tenantConfigSchema, config, `config of tenant "${tenant}"`));
    this.version++;
  }

  /** Replaces one tier (validated). */
  setTier(name: string, config: TierConfig): void {
    this.#tiers.set(name, parseConfig(tierConfigSchema, config, `config of tier "${name}"`));
    this.version++;
  }

  /** Replaces (or, with undefined, removes) one tenant's managed layer. The caller validates it. */
  setManaged(tenant: TenantId, layer: ManagedLayer | undefined): void {
    if (layer === undefined) this.#managed.delete(tenant);
    else this.#managed.set(tenant, layer);
    this.version++;
  }

  resolve(tenant: TenantId): TenantSettings {
    const own = this.#tenants.get(tenant) ?? {};
    const managed = this.#managed.get(tenant);
    const { tier: managedTier, isolation: managedIsolation, ...managedQuota } = managed ?? {};
    const tierName = managedTier !== undefined && this.#tiers.has(managedTier) ? managedTier : own.tier;
    const tier = tierName === undefined ? undefined : this.#tiers.get(tierName);
    if (tierName !== undefined && tier === undefined) {
      throw new InvalidArgumentError(`tenant "${tenant}" is assigned to tier "${tierName}", which is not configured`);
    }
    const merged: TenantSettings = {
      ...this.#defaults,
      ...stripUndefined(tier ?? {}),
      ...stripUndefined(own),
      ...stripUndefined(managedQuota),
      tier: tierName,
      isolation: managedIsolation ?? own.isolation ?? tier?.isolation ?? "inline",
    };
    if (managedQuota.messagesPerSecond !== undefined) merged.burst = Math.max(1, managedQuota.messagesPerSecond);
    else if (own.burst === undefined && tier?.burst === undefined && this.#defaults.burst === Number.POSITIVE_INFINITY) {
      merged.burst = Number.isFinite(merged.messagesPerSecond) ? Math.max(1, merged.messagesPerSecond) : Number.POSITIVE_INFINITY;
    }
    return Object.freeze(merged);
  }
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(value)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}
