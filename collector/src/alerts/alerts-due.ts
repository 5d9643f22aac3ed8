import type { BudgetAlert, TenantBudgets } from "@troupe/contract/query-api";
import type { BudgetUsage } from "../query/tenant-activity-queries.js";
import type { AlertWindows } from "./alert-windows.js";

/** An alert as computed, before it is stored (its delivery state depends on the tenant's webhook). */
export type DueAlert = Omit<BudgetAlert, "alertId" | "raisedAt" | "delivery">;

/** What one evaluation knows of a tenant. */
export interface TenantBudgetState {
  tenantId: string;
  budgets: TenantBudgets;
  /** Fractions in (0, 1]. */
  thresholds: readonly number[];
  /** Used today and this month; undefined when the tenant has no usage this month. */
  usage: BudgetUsage | undefined;
  /** Refused calls (outcome budget_rejected) stored for today. */
  rejectedToday: number;
}

interface Measured {
  window: "day" | "month";
  windowKey: string;
  metric: "tokens" | "costUsd";
  used: number;
  limit: number | null;
}

/**
 * Every alert the state calls for, whether raised already or not (the caller drops known keys):
 * - a "threshold" alert per set budget and threshold with used/limit ≥ threshold (a zero budget counts
 *   as crossed once anything is used);
 * - a "rejected" alert when a call was refused today, put in the window of the budget it ran into:
 *   of the set budgets at or over their limit, the most used (month on a tie), so a month budget
 *   exhausted for the rest of the month alerts once, not every day. When no set budget is over (the
 *   runtime refused on a budget of its own), the day window, metric "tokens", limit null.
 */
export function alertsDue(state: TenantBudgetState, windows: AlertWindows): DueAlert[] {
  const u = state.usage ?? { dailyTokensUsed: 0, monthlyTokensUsed: 0, dailyCostUsdUsed: 0, monthlyCostUsdUsed: 0 };
  const b = state.budgets;
  const measured: Measured[] = [
    { window: "day", windowKey: windows.dayKey, metric: "tokens", used: u.dailyTokensUsed, limit: b.dailyTokens },
    { window: "day", windowKey: windows.dayKey, metric: "costUsd", used: u.dailyCostUsdUsed, limit: b.dailyCostUsd },
    { window: "month", windowKey: windows.monthKey, metric: "tokens", used: u.monthlyTokensUsed, limit: b.monthlyTokens },
    { window: "month", windowKey: windows.monthKey, metric: "costUsd", used: u.monthlyCostUsdUsed, limit: b.monthlyCostUsd },
  ];
  const due: DueAlert[] = [];
  for (const m of measured) {
    if (m.limit === null) continue;
    const ratio = utilization(m.used, m.limit);
    for (const threshold of state.thresholds) {
      if (ratio >= threshold) due.push({ tenantId: state.tenantId, kind: "threshold", window: m.window, windowKey: m.windowKey, metric: m.metric, threshold, used: m.used, limit: m.limit });
    }
  }
  if (state.rejectedToday > 0) {
    let hit: Measured | undefined;
    let hitRatio = 0;
    for (const m of measured) {
      if (m.limit === null) continue;
      const ratio = utilization(m.used, m.limit);
      if (ratio >= 1 && (hit === undefined || ratio > hitRatio || (ratio === hitRatio && m.window === "month"))) {
        hit = m;
        hitRatio = ratio;
      }
    }
    const at = hit ?? { window: "day", windowKey: windows.dayKey, metric: "tokens", used: u.dailyTokensUsed, limit: null };
    due.push({ tenantId: state.tenantId, kind: "rejected", window: at.window, windowKey: at.windowKey, metric: at.metric, threshold: null, used: at.used, limit: at.limit });
  }
  return due;
}

function utilization(used: number, limit: number): number {
  if (limit > 0) return used / limit;
  return used > 0 ? Number.POSITIVE_INFINITY : 0;
}
