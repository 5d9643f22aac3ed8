import { assertBudgetAmount, assertBudgetBaseline, budgetWindows, plusBaseline } from "./budget-ledger.js";
import type { BudgetAmount, BudgetBaseline, BudgetLedger, BudgetLimits, BudgetReservation, BudgetUsage, WindowTotals } from "./budget-ledger.js";

/**
 * What every BudgetLedger does the same way, whatever keeps its totals: amounts are checked before
 * anything is charged, a reservation records the UTC day and month it was charged to, and each
 * reservation is settled or released at most once (per process that holds it), and baselines (usage
 * charged by other ledgers) are kept per tenant on this handle. A ledger supplies `id`, `charge`
 * (the atomic check-and-add of a reservation, throwing BudgetExceededError; it checks
 * `withBaseline` of its totals), `adjust` (moving the windows a reservation was charged to by a
 * delta, never below zero) and `usage` (reporting `withBaseline` of its totals).
 */
export abstract class ReservationLedger implements BudgetLedger {
  abstract readonly id: string;
  readonly #open = new WeakSet<BudgetReservation>();
  readonly #baselines = new Map<string, BudgetBaseline>();

  setBaseline(tenant: string, baseline: BudgetBaseline | undefined): void {
    if (baseline === undefined) {
      this.#baselines.delete(tenant);
      return;
    }
    assertBudgetBaseline(tenant, baseline);
    const { day, month, dayTokens, dayCostUsd, monthTokens, monthCostUsd } = baseline;
    this.#baselines.set(tenant, { day, month, dayTokens, dayCostUsd, monthTokens, monthCostUsd });
  }

  /** A tenant's own totals in `windows` plus its baseline there (a baseline of another day or month adds nothing). */
  protected withBaseline(tenant: string, windows: { day: string; month: string }, own: WindowTotals): WindowTotals {
    return plusBaseline(own, this.#baselines.get(tenant), windows);
  }

  async reserve(tenant: string, amount: BudgetAmount, limits: BudgetLimits, nowMs: number = Date.now()): Promise<BudgetReservation> {
    assertBudgetAmount(amount, "a reservation's");
    const windows = budgetWindows(nowMs);
    await this.charge(tenant, amount, limits, windows, nowMs);
    const reservation: BudgetReservation = { tenant, amount, ...windows };
    this.#open.add(reservation);
    return reservation;
  }

  async settle(reservation: BudgetReservation, actual: BudgetAmount): Promise<void> {
    assertBudgetAmount(actual, "a settled usage's");
    await this.#adjustOnce(reservation, actual.tokens - reservation.amount.tokens, actual.costUsd - reservation.amount.costUsd);
  }

  async release(reservation: BudgetReservation): Promise<void> {
    await this.#adjustOnce(reservation, -reservation.amount.tokens, -reservation.amount.costUsd);
  }

  abstract usage(tenant: string, limits?: BudgetLimits, nowMs?: number): Promise<BudgetUsage>;

  /** Charges `amount` to the tenant's current windows if it fits every limit; else throws and charges nothing. */
  protected abstract charge(tenant: string, amount: BudgetAmount, limits: BudgetLimits, windows: { day: string; month: string }, nowMs: number): Promise<void>;

  /** Adds the deltas (negative to give back) to the windows the reservation was charged to. */
  protected abstract adjust(reservation: BudgetReservation, deltaTokens: number, deltaCostUsd: number): Promise<void>;

  async #adjustOnce(reservation: BudgetReservation, deltaTokens: number, deltaCostUsd: number): Promise<void> {
    if (!this.#open.delete(reservation)) return;
    await this.adjust(reservation, deltaTokens, deltaCostUsd);
  }
}
