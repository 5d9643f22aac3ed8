import { createHash } from "node:crypto";
import type { BudgetAlert, TenantRecord } from "@troupe/contract/query-api";
import { DEFAULT_ALERT_THRESHOLDS } from "../tenants/tenant-rows.js";

/** The tenant's warning fractions: those of its record that are in (0, 1], ascending, else the defaults. */
export function alertThresholdsOf(tenant: Pick<TenantRecord, "alerts">): readonly number[] {
  const set = (tenant.alerts?.thresholds ?? []).filter((t) => Number.isFinite(t) && t > 0 && t <= 1);
  return set.length > 0 ? [...new Set(set)].sort((a, b) => a - b) : DEFAULT_ALERT_THRESHOLDS;
}

/** The budget windows current at one instant (UTC): their keys and where they start. */
export interface AlertWindows {
  /** `YYYY-MM-DD` */
  dayKey: string;
  /** `YYYY-MM` */
  monthKey: string;
  dayStartMs: number;
  monthStartMs: number;
}

/** The day and month (UTC) that `nowMs` falls in. */
export function alertWindowsAt(nowMs: number): AlertWindows {
  const d = new Date(nowMs);
  const iso = d.toISOString();
  return {
    dayKey: iso.slice(0, 10),
    monthKey: iso.slice(0, 7),
    dayStartMs: Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()),
    monthStartMs: Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1),
  };
}

/**
 * The key an alert is raised once under, per tenant: `<window>:<windowKey>:<metric>:<threshold>`
 * for a threshold (`day:2026-12-06:tokens:0.8`), `<window>:<windowKey>:rejected` for a refusal.
 */
export function alertKeyOf(alert: Pick<BudgetAlert, "kind" | "window" | "windowKey" | "metric" | "threshold">): string {
  const head = `${alert.window}:${alert.windowKey}`;
  return alert.kind === "rejected" ? `${head}:rejected` : `${head}:${alert.metric}:${String(alert.threshold)}`;
}

/**
 * The alert's id, derived from its tenant and key: every instance raising the same alert gives it
 * the same id, which is the webhook event id receivers deduplicate on.
 */
export function alertIdOf(tenantId: string, alertKey: string): string {
  return `alrt_${createHash("sha256").update(`${tenantId}\u0000${alertKey}`, "utf8").digest("hex").slice(0, 32)}`;
}
