import { BudgetExceededError } from "../errors.js";
import { budgetWindows } from "./budget-ledger.js";
import type { BudgetAmount, BudgetLedger, BudgetLimits, BudgetReservation, BudgetUsage } from "./budget-ledger.js";

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
 * small record per tenant: windows roll over in place when the UTC day or month changes.
 */
export class InMemoryBudgetLedger implements BudgetLedger {
  readonly #tenants = new Map<string, TenantWindows>();
  readonly #open = new WeakSet<BudgetReservation>();

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

  async reserve(tenant: string, amount: BudgetAmount, limits: BudgetLimits, nowMs: number = Date.now()): Promise<BudgetReservation> {
    const { day, month, dayKey, monthKey } = this.#windows(tenant, nowMs);
    const over = exceeded(day, month, amount, limits);
    if (over) {
      throw new BudgetExceededError(tenant, `tenant "${tenant}" LLM budget exceeded: ${over}; no call was made`);
    }
    day.tokens += amount.tokens;
    day.costUsd += amount.costUsd;
    month.tokens += amount.tokens;
    month.costUsd += amount.costUsd;
    const reservation: BudgetReservation = { tenant, amount, day: dayKey, month: monthKey };
    this.#open.add(reservation);
    return reservation;
  }

  async settle(reservation: BudgetReservation, actual: BudgetAmount): Promise<void> {
    this.#apply(reservation, actual.tokens - reservation.amount.tokens, actual.costUsd - reservation.amount.costUsd);
  }

  async release(reservation: BudgetReservation): Promise<void> {
    this.#apply(reservation, -reservation.amount.tokens, -reservation.amount.costUsd);
  }

  async usage(tenant: string, limits: BudgetLimits = {}, nowMs: number = Date.now()): Promise<BudgetUsage> {
    const { day, month, dayKey, monthKey } = this.#windows(tenant, nowMs);
    return {
      day: dayKey,
      month: monthKey,
      tokensToday: day.tokens,
      tokensThisMonth: month.tokens,
      costUsdToday: day.costUsd,
      costUsdThisMonth: month.costUsd,
      remainingTokens: remainingTokens(day, month, limits),
    };
  }

  #apply(reservation: BudgetReservation, deltaTokens: number, deltaCostUsd: number): void {
    if (!this.#open.delete(reservation)) return;
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

function exceeded(day: Window, month: Window, amount: BudgetAmount, limits: BudgetLimits): string | undefined {
  if (limits.tokensPerDay !== undefined && day.tokens + amount.tokens > limits.tokensPerDay) {
    return `${day.tokens} of ${limits.tokensPerDay} tokens used today (UTC), this call needs up to ${amount.tokens}`;
  }
  if (limits.tokensPerMonth !== undefined && month.tokens + amount.tokens > limits.tokensPerMonth) {
    return `${month.tokens} of ${limits.tokensPerMonth} tokens used this month (UTC), this call needs up to ${amount.tokens}`;
  }
  if (limits.costUsdPerDay !== undefined && day.costUsd + amount.costUsd > limits.costUsdPerDay) {
    return `$${day.costUsd.toFixed(4)} of $${limits.costUsdPerDay} spent today (UTC), this call may cost up to $${amount.costUsd.toFixed(4)}`;
  }
  if (limits.costUsdPerMonth !== undefined && month.costUsd + amount.costUsd > limits.costUsdPerMonth) {
    return `$${month.costUsd.toFixed(4)} of $${limits.costUsdPerMonth} spent this month (UTC), this call may cost up to $${amount.costUsd.toFixed(4)}`;
  }
  return undefined;
}

function remainingTokens(day: Window, month: Window, limits: BudgetLimits): number | undefined {
  const left: number[] = [];
  if (limits.tokensPerDay !== undefined) left.push(limits.tokensPerDay - day.tokens);
  if (limits.tokensPerMonth !== undefined) left.push(limits.tokensPerMonth - month.tokens);
  return left.length === 0 ? undefined : Math.max(0, Math.min(...left));
}
