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
 * A tenant's usage charged by other ledgers (other processes, earlier incarnations of this one),
 * as the control plane read it from usage records: it counts toward the tenant's budgets in the
 * windows it names, and in no other (a baseline for a past day or month is ignored).
 */
export interface BudgetBaseline {
  /** The UTC day (`YYYY-MM-DD`) and month (`YYYY-MM`) the totals belong to. */
  readonly day: string;
  readonly month: string;
  readonly dayTokens: number;
  readonly dayCostUsd: number;
  readonly monthTokens: number;
  readonly monthCostUsd: number;
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
 * - A baseline (`setBaseline`: usage charged by other ledgers) is added to the ledger's own totals
 *   in every check and in `usage`, while its day and month are current; it is held by this handle
 *   only (each process sets its own) and replaced by the next one.
 * InMemoryBudgetLedger serves one process and starts at zero on restart; PostgresBudgetLedger and
 * KvBudgetLedger keep budgets outside the process, shared by every process that uses them.
 */
export interface BudgetLedger {
  /**
   * Names the store in usage records (UsageRecord.ledgerId), so a reader of usage so far can leave
   * out what this ledger already counts: the same for every handle on one store, different for
   * different stores. A ledger that reads it from its store has it once `ready()` resolved ("" before).
   */
  readonly id: string;
  /** Resolves once `id` is known, for a ledger that reads it from its store. */
  ready?(): Promise<void>;
  /** Sets (undefined: removes) the usage of `tenant` charged by other ledgers; invalid totals: InvalidArgumentError naming the field. */
  setBaseline(tenant: string, baseline: BudgetBaseline | undefined): void;
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

/** The totals plus the parts of a baseline whose windows are `windows` (a past day or month adds nothing). */
export function plusBaseline(used: WindowTotals, baseline: BudgetBaseline | undefined, windows: { day: string; month: string }): WindowTotals {
  if (baseline === undefined) return used;
  const day = baseline.day === windows.day;
  const month = baseline.month === windows.month;
  if (!day && !month) return used;
  return {
    dayTokens: used.dayTokens + (day ? baseline.dayTokens : 0),
    dayCostUsd: used.dayCostUsd + (day ? baseline.dayCostUsd : 0),
    monthTokens: used.monthTokens + (month ? baseline.monthTokens : 0),
    monthCostUsd: used.monthCostUsd + (month ? baseline.monthCostUsd : 0),
  };
}

/** Refuses a baseline a ledger cannot add up, naming the field. */
export function assertBudgetBaseline(tenant: string, baseline: BudgetBaseline): void {
  const what = `the budget baseline of tenant "${tenant}"`;
  if (typeof baseline?.day !== "string" || !/^\d{4}-\d{2}-\d{2}$/.test(baseline.day)) throw new InvalidArgumentError(`${what}: day must be a UTC day YYYY-MM-DD; got ${String(baseline?.day)}`);
  if (typeof baseline.month !== "string" || !/^\d{4}-\d{2}$/.test(baseline.month)) throw new InvalidArgumentError(`${what}: month must be a UTC month YYYY-MM; got ${String(baseline.month)}`);
  for (const field of ["dayTokens", "dayCostUsd", "monthTokens", "monthCostUsd"] as const) {
    const v = baseline[field];
    if (typeof v !== "number" || !Number.isFinite(v) || v < 0) throw new InvalidArgumentError(`${what}: ${field} must be a finite number >= 0; got ${String(v)}`);
  }
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
