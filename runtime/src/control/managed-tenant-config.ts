/**
 * What a runtime applies of one tenant's managed settings (its tier and quotas), and how a tier
 * becomes an isolation mode. Guarantee: a value the registry leaves null never overrides the
 * runtime's code options, and a tier the runtime cannot honour is reported, never silently dropped.
 */
import { z } from "zod";
import { parseConfig, type IsolationMode, type ManagedLayer } from "../tenancy/tenant-quota.js";
import { TENANT_TIERS, managedQuotasSchema, type ManagedQuotas, type TenantTier } from "@troupe/contract";

/** The part of a tenant's managed settings a runtime applies (a ManagedTenantSettings fits). */
export interface ManagedTenantConfig {
  readonly tier: TenantTier;
  readonly quotas: Readonly<ManagedQuotas>;
}

/**
 * How tiers become isolation on a runtime:
 * - "threads": a runtime with a worker TurnHost: "shared" runs inline, "worker" and "process" in
 *   its worker threads (a single runtime has no worker processes: "process" runs in threads there);
 * - "inline": a runtime without a TurnHost: every tier runs inline, and a "worker" or "process"
 *   tier is reported in the note;
 * - "cluster": a DistributedRuntime's local runtime: every turn already runs in a worker process of
 *   the cluster, so the tier changes no isolation (it stays as the code sets it).
 */
export type TierPlacement = "threads" | "inline" | "cluster";

const managedTenantConfigSchema = z.object({
  tier: z.enum(TENANT_TIERS, { error: `must be one of ${TENANT_TIERS.join(", ")}` }),
  quotas: managedQuotasSchema,
});

/**
 * The resolver layer of a tenant's managed settings (validated: InvalidArgumentError naming the
 * field), and a note for the operator when its tier cannot be honoured here.
 */
export function managedLayerOf(tenant: string, config: ManagedTenantConfig, placement: TierPlacement): { layer: ManagedLayer; note: string | undefined } {
  const valid = parseConfig(managedTenantConfigSchema, config, `managed settings of tenant "${tenant}"`);
  const layer: { -readonly [K in keyof ManagedLayer]: ManagedLayer[K] } = { tier: valid.tier };
  for (const [field, value] of Object.entries(valid.quotas) as Array<[keyof ManagedQuotas, number | null]>) {
    if (value !== null) layer[field] = value;
  }
  let note: string | undefined;
  if (placement !== "cluster") {
    const isolation: IsolationMode = valid.tier === "shared" || placement === "inline" ? "inline" : "worker";
    layer.isolation = isolation;
    if (valid.tier !== "shared" && placement === "inline") {
      note = `tenant "${tenant}" has tier "${valid.tier}" in the tenant registry, but this runtime has no turnHost: its turns run inline (on the main event loop)`;
    }
  }
  return { layer, note };
}

/** The same settings without the message rate (a DistributedRuntime enforces it cluster-wide, at ingress). */
export function withoutManagedRate(config: ManagedTenantConfig): ManagedTenantConfig {
  return { tier: config.tier, quotas: { ...config.quotas, messagesPerSecond: null } };
}
