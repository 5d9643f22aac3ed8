/**
 * Keeps a budget ledger's baselines equal to the usage other ledgers charged, as the collector sums
 * it from usage records. Guarantee: after a successful refresh, each tenant's budget checks count
 * everything the collector had stored for its current UTC day and month, except this ledger's own
 * records (which the ledger counts itself); a failed refresh changes no baseline.
 */
import type { BudgetLedger } from "../llm/budget-ledger.js";
import type { ControlPlaneClient } from "./control-plane-client.js";

/** Refreshes the baselines of one ledger. */
export class UsageBaseline {
  readonly #client: ControlPlaneClient;
  readonly #ledger: BudgetLedger;
  readonly #tenants: readonly string[] | undefined;
  readonly #set = new Set<string>();
  /** When the baselines were last read (the collector's clock), undefined before. */
  asOf: string | undefined;

  constructor(client: ControlPlaneClient, ledger: BudgetLedger, tenants: readonly string[] | undefined) {
    this.#client = client;
    this.#ledger = ledger;
    this.#tenants = tenants;
  }

  #lastAnswer = "";

  /**
   * Reads usage so far and sets every listed tenant's baseline; true when it differs from the last
   * read. Throws ControlPlaneError (nothing changed) when the read fails.
   */
  async refresh(appliedVersion: number, signal: AbortSignal): Promise<boolean> {
    if (this.#ledger.id === "") await this.#ledger.ready?.();
    const usage = await this.#client.readUsage({ tenants: this.#tenants, excludeLedger: this.#ledger.id, appliedVersion, signal });
    const listed = new Set<string>();
    for (const t of usage.tenants) {
      listed.add(t.id);
      this.#ledger.setBaseline(t.id, { day: usage.day, month: usage.month, dayTokens: t.dayTokens, dayCostUsd: t.dayCostUsd, monthTokens: t.monthTokens, monthCostUsd: t.monthCostUsd });
      this.#set.add(t.id);
    }
    for (const id of this.#set) {
      if (listed.has(id)) continue;
      this.#ledger.setBaseline(id, undefined);
      this.#set.delete(id);
    }
    this.asOf = usage.asOf;
    const answer = `${usage.day}|${usage.month}|${JSON.stringify(usage.tenants)}`;
    const changed = answer !== this.#lastAnswer;
    this.#lastAnswer = answer;
    return changed;
  }
}
