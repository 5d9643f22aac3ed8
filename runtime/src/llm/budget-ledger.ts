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
 * The in-memory implementation serves one process; a distributed runtime supplies a shared one.
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
