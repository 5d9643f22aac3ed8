import { BudgetExceededError, BudgetLedgerUnavailableError, InvalidArgumentError, TroupeError } from "../errors.js";

/** A tenant's LLM budget: any limit left out is unlimited. Windows are UTC calendar days and months. */
export interface BudgetLimits {
  readonly tokensPerDay?: number | undefined;
  readonly tokensPerMonth?: number | undefined;
  readonly costUsdPerDay?: number | undefined;
  readonly costUsdPerMonth?: number | undefined;
}

/** An amount charged against a budget. */
export interface BudgetAmount {
  readonly tokens: number;
  readonly costUsd: number;
}

/** Tokens and cost used in the current day and month windows (settled plus reserved). */
export interface BudgetUsage {
  readonly day: string;
  readonly month: string;
  readonly tokensToday: number;
  readonly tokensThisMonth: number;
  readonly costUsdToday: number;
  readonly costUsdThisMonth: number;
  /** Tokens still available today and this month, whichever is smaller; undefined when unlimited. */
  readonly remainingTokens: number | undefined;
}

/** A held reservation; settle it with the real usage or release it when the call failed. */
export interface BudgetReservation {
  readonly tenant: string;
  readonly amount: BudgetAmount;
  /** The windows the reservation was charged to (so a call spanning midnight settles where it reserved). */
  readonly day: string;
  readonly month: string;
}

/**
 * Where per-tenant token and cost budgets are kept. Guarantees:
 * - `reserve` is an atomic check-and-add: it either charges the whole amount to the day and month
 *   windows or throws BudgetExceededError and charges nothing. Concurrent reservations can never
 *   push the reserved total past a limit, so racing callers overshoot a budget only by the
 *   difference between a call's real usage and its reservation.
 * - `settle` replaces a reservation's amount by the real usage; `release` removes it (a failed call
 *   is not charged). Each reservation is settled or released at most once; later calls are no-ops.
 * - Amounts are whole token counts and finite costs, both >= 0; anything else is refused with
 *   InvalidArgumentError and changes nothing.
 * InMemoryBudgetLedger serves one process and starts at zero on restart; PostgresBudgetLedger and
 * KvBudgetLedger keep budgets outside the process, shared by every process that uses them.
 */
export interface BudgetLedger {
  reserve(tenant: string, amount: BudgetAmount, limits: BudgetLimits, nowMs?: number): Promise<BudgetReservation>;
  settle(reservation: BudgetReservation, actual: BudgetAmount): Promise<void>;
  release(reservation: BudgetReservation): Promise<void>;
  usage(tenant: string, limits?: BudgetLimits, nowMs?: number): Promise<BudgetUsage>;
}

/** The UTC day (`YYYY-MM-DD`) and month (`YYYY-MM`) windows of a time. */
export function budgetWindows(nowMs: number): { day: string; month: string } {
  const iso = new Date(nowMs).toISOString();
  return { day: iso.slice(0, 10), month: iso.slice(0, 7) };
}

/** What a tenant has used in its current day and month windows (settled plus reserved). */
export interface WindowTotals {
  readonly dayTokens: number;
  readonly dayCostUsd: number;
  readonly monthTokens: number;
  readonly monthCostUsd: number;
}

/** Why `amount` on top of `used` breaks a limit (the first one it breaks), or undefined when it fits. */
export function budgetExceeded(used: WindowTotals, amount: BudgetAmount, limits: BudgetLimits): string | undefined {
  if (limits.tokensPerDay !== undefined && used.dayTokens + amount.tokens > limits.tokensPerDay) {
    return `${used.dayTokens} of ${limits.tokensPerDay} tokens used today (UTC), this call needs up to ${amount.tokens}`;
  }
  if (limits.tokensPerMonth !== undefined && used.monthTokens + amount.tokens > limits.tokensPerMonth) {
    return `${used.monthTokens} of ${limits.tokensPerMonth} tokens used this month (UTC), this call needs up to ${amount.tokens}`;
  }
  if (limits.costUsdPerDay !== undefined && used.dayCostUsd + amount.costUsd > limits.costUsdPerDay) {
    return `$${used.dayCostUsd.toFixed(4)} of $${limits.costUsdPerDay} spent today (UTC), this call may cost up to $${amount.costUsd.toFixed(4)}`;
  }
  if (limits.costUsdPerMonth !== undefined && used.monthCostUsd + amount.costUsd > limits.costUsdPerMonth) {
    return `$${used.monthCostUsd.toFixed(4)} of $${limits.costUsdPerMonth} spent this month (UTC), this call may cost up to $${amount.costUsd.toFixed(4)}`;
  }
  return undefined;
}

/** The BudgetUsage of window totals: tokens left is the smaller of the day's and the month's, undefined when unlimited. */
export function budgetUsage(windows: { day: string; month: string }, used: WindowTotals, limits: BudgetLimits): BudgetUsage {
  const left: number[] = [];
  if (limits.tokensPerDay !== undefined) left.push(limits.tokensPerDay - used.dayTokens);
  if (limits.tokensPerMonth !== undefined) left.push(limits.tokensPerMonth - used.monthTokens);
  return {
    day: windows.day,
    month: windows.month,
    tokensToday: used.dayTokens,
    tokensThisMonth: used.monthTokens,
    costUsdToday: used.dayCostUsd,
    costUsdThisMonth: used.monthCostUsd,
    remainingTokens: left.length === 0 ? undefined : Math.max(0, Math.min(...left)),
  };
}

/** The refusal of a reservation that breaks a limit (nothing was charged). */
export function budgetExceededError(tenant: string, why: string): BudgetExceededError {
  return new BudgetExceededError(tenant, `tenant "${tenant}" LLM budget exceeded: ${why}; no call was made`);
}

/** Refuses an amount a ledger cannot add up: tokens must be a whole number >= 0, cost a finite number >= 0. */
export function assertBudgetAmount(amount: BudgetAmount, what: string): void {
  if (!Number.isSafeInteger(amount?.tokens) || amount.tokens < 0) throw new InvalidArgumentError(`${what} tokens must be a whole number >= 0; got ${String(amount?.tokens)}`);
  if (!Number.isFinite(amount.costUsd) || amount.costUsd < 0) throw new InvalidArgumentError(`${what} costUsd must be a finite number >= 0; got ${String(amount.costUsd)}`);
}

/** A ledger's failure as the caller sees it: Troupe errors (a refusal, a bad amount) as they are, anything else (a lost connection) as BudgetLedgerUnavailableError. */
export function ledgerFailure(error: unknown, tenant: string, consequence: string): TroupeError {
  if (error instanceof TroupeError) return error;
  const detail = error instanceof Error ? error.message : String(error);
  return new BudgetLedgerUnavailableError(tenant, `the budget ledger of tenant "${tenant}" failed (${detail}); ${consequence}`, { cause: error });
}
