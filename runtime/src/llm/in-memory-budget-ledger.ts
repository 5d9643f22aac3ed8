import { randomUUID } from "node:crypto";
import { budgetExceeded, budgetExceededError, budgetUsage, budgetWindows } from "./budget-ledger.js";
import type { BudgetAmount, BudgetLimits, BudgetReservation, BudgetUsage, WindowTotals } from "./budget-ledger.js";
import { ReservationLedger } from "./reservation-ledger.js";

interface Window {
  key: string;
  tokens: number;
  costUsd: number;
}

interface TenantWindows {
  day: Window;
  month: Window;
}

/**
 * A BudgetLedger in process memory. Every method does its check-and-add synchronously (before any
 * await), so reservations made by concurrent calls in this process are serialized. Memory is one
 * small record per tenant: windows roll over in place when the UTC day or month changes. Its `id` is
 * random per instance (`memory:<uuid>`): what it counts dies with it, so a restarted process reads
 * its earlier incarnation's usage back through a baseline.
 */
export class InMemoryBudgetLedger extends ReservationLedger {
  readonly id = `memory:${randomUUID()}`;
  readonly #tenants = new Map<string, TenantWindows>();

  #windows(tenant: string, nowMs: number): TenantWindows & { dayKey: string; monthKey: string } {
    const { day, month } = budgetWindows(nowMs);
    let windows = this.#tenants.get(tenant);
    if (!windows) {
      windows = { day: { key: day, tokens: 0, costUsd: 0 }, month: { key: month, tokens: 0, costUsd: 0 } };
      this.#tenants.set(tenant, windows);
    }
    if (windows.day.key !== day) windows.day = { key: day, tokens: 0, costUsd: 0 };
    if (windows.month.key !== month) windows.month = { key: month, tokens: 0, costUsd: 0 };
    return { ...windows, dayKey: day, monthKey: month };
  }

  protected async charge(tenant: string, amount: BudgetAmount, limits: BudgetLimits, _windows: unknown, nowMs: number): Promise<void> {
    const { day, month, dayKey, monthKey } = this.#windows(tenant, nowMs);
    const over = budgetExceeded(this.withBaseline(tenant, { day: dayKey, month: monthKey }, totals(day, month)), amount, limits);
    if (over !== undefined) throw budgetExceededError(tenant, over);
    day.tokens += amount.tokens;
    day.costUsd += amount.costUsd;
    month.tokens += amount.tokens;
    month.costUsd += amount.costUsd;
  }

  async usage(tenant: string, limits: BudgetLimits = {}, nowMs: number = Date.now()): Promise<BudgetUsage> {
    const { day, month, dayKey, monthKey } = this.#windows(tenant, nowMs);
    const windows = { day: dayKey, month: monthKey };
    return budgetUsage(windows, this.withBaseline(tenant, windows, totals(day, month)), limits);
  }

  protected async adjust(reservation: BudgetReservation, deltaTokens: number, deltaCostUsd: number): Promise<void> {
    const windows = this.#tenants.get(reservation.tenant);
    if (!windows) return;
    // A window that rolled over since the reservation no longer holds it: nothing to adjust there.
    if (windows.day.key === reservation.day) {
      windows.day.tokens = Math.max(0, windows.day.tokens + deltaTokens);
      windows.day.costUsd = Math.max(0, windows.day.costUsd + deltaCostUsd);
    }
    if (windows.month.key === reservation.month) {
      windows.month.tokens = Math.max(0, windows.month.tokens + deltaTokens);
      windows.month.costUsd = Math.max(0, windows.month.costUsd + deltaCostUsd);
    }
  }
}

function totals(day: Window, month: Window): WindowTotals {
  return { dayTokens: day.tokens, dayCostUsd: day.costUsd, monthTokens: month.tokens, monthCostUsd: month.costUsd };
}
