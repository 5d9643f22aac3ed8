import { PostgresTable, type PostgresTableOptions } from "../postgres/postgres-table.js";
import { budgetExceeded, budgetExceededError, budgetUsage, budgetWindows } from "./budget-ledger.js";
import type { BudgetAmount, BudgetLimits, BudgetReservation, BudgetUsage, WindowTotals } from "./budget-ledger.js";
import { ReservationLedger } from "./reservation-ledger.js";

/** Options of PostgresBudgetLedger (the table defaults to `troupe_llm_budget`). */
export interface PostgresBudgetLedgerOptions extends PostgresTableOptions {
  /**
   * The ledger's id in usage records. Default: `pg:<uuid>`, the uuid created once in the table (a row
   * with tenant ""), so every process using the table shares it and any other table has another.
   */
  readonly id?: string;
}

/** The period of the row holding the table's generated id (tenant ""; no tenant has an empty id). */
const ID_PERIOD_PREFIX = "ledger-id:";

interface PeriodRow {
  period: string;
  tokens: string;
  cost_usd: number;
}

/**
 * A BudgetLedger in a PostgreSQL table, one row per tenant and window
 * (`period` is a UTC day `YYYY-MM-DD` or month `YYYY-MM`), created if missing. Budgets survive a
 * restart, and every process that uses the table shares them. `reserve` locks the tenant's day and
 * month rows (always month first, so reservations never deadlock) and checks and adds inside one
 * transaction, so concurrent reservations from any number of processes never push the reserved
 * total past a limit. `settle`/`release` adjust the windows the reservation was charged to, at most
 * once per reservation (per process that holds it). Past windows stay as a record of what each
 * tenant used, one row per tenant per day and month. Its `id` is read from the table on first use
 * ("" before; `ready()` waits for it) unless given in the options.
 */
export class PostgresBudgetLedger extends ReservationLedger {
  readonly #table: PostgresTable;
  #id: string;
  #idRead: Promise<void> | undefined;

  constructor(options: PostgresBudgetLedgerOptions) {
    super();
    this.#id = options.id ?? "";
    this.#table = new PostgresTable("PostgresBudgetLedger", options, "troupe_llm_budget", (t) => [
      `CREATE TABLE IF NOT EXISTS ${t} (tenant text NOT NULL, period text NOT NULL, tokens bigint NOT NULL DEFAULT 0, ` +
        `cost_usd double precision NOT NULL DEFAULT 0, updated_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (tenant, period))`,
      // Under the table's creation lock: one id per table, whoever comes first.
      `INSERT INTO ${t} (tenant, period) SELECT '', '${ID_PERIOD_PREFIX}' || md5(random()::text || clock_timestamp()::text) ` +
        `WHERE NOT EXISTS (SELECT 1 FROM ${t} WHERE tenant = '' AND period LIKE '${ID_PERIOD_PREFIX}%')`,
    ]);
  }

  get id(): string {
    return this.#id;
  }

  /** Resolves once the table exists and the ledger's id is read from it. */
  ready(): Promise<void> {
    this.#idRead ??= this.#readId().catch((error: unknown) => {
      this.#idRead = undefined;
      throw error;
    });
    return this.#idRead;
  }

  async #readId(): Promise<void> {
    await this.#table.ready();
    if (this.#id !== "") return;
    const { rows } = await this.#table.pool.query<{ period: string }>(
      `SELECT period FROM ${this.#table.qualified} WHERE tenant = '' AND period LIKE '${ID_PERIOD_PREFIX}%' ORDER BY period LIMIT 1`,
    );
    const period = rows[0]?.period;
    if (period === undefined) throw new Error(`the id row of ${this.#table.qualified} is missing`);
    this.#id = `pg:${period.slice(ID_PERIOD_PREFIX.length)}`;
  }

  /** Locks the tenant's month and day rows (created at zero if missing), checks, adds: one transaction. */
  protected async charge(tenant: string, amount: BudgetAmount, limits: BudgetLimits, { day, month }: { day: string; month: string }): Promise<void> {
    await this.ready();
    const t = this.#table.qualified;
    await this.#table.transaction(async (client) => {
      // Month before day in every statement ("YYYY-MM" sorts before "YYYY-MM-DD"): one lock order.
      await client.query(`INSERT INTO ${t} (tenant, period) VALUES ($1, $2), ($1, $3) ON CONFLICT DO NOTHING`, [tenant, month, day]);
      const { rows } = await client.query<PeriodRow>(`SELECT period, tokens, cost_usd FROM ${t} WHERE tenant = $1 AND period IN ($2, $3) ORDER BY period FOR UPDATE`, [
        tenant,
        month,
        day,
      ]);
      const over = budgetExceeded(this.withBaseline(tenant, { day, month }, totals(rows, day, month)), amount, limits);
      if (over !== undefined) throw budgetExceededError(tenant, over);
      await client.query(`UPDATE ${t} SET tokens = tokens + $4, cost_usd = cost_usd + $5, updated_at = now() WHERE tenant = $1 AND period IN ($2, $3)`, [
        tenant,
        month,
        day,
        amount.tokens,
        amount.costUsd,
      ]);
    });
  }

  async usage(tenant: string, limits: BudgetLimits = {}, nowMs: number = Date.now()): Promise<BudgetUsage> {
    const windows = budgetWindows(nowMs);
    await this.ready();
    const { rows } = await this.#table.pool.query<PeriodRow>(`SELECT period, tokens, cost_usd FROM ${this.#table.qualified} WHERE tenant = $1 AND period IN ($2, $3)`, [
      tenant,
      windows.month,
      windows.day,
    ]);
    return budgetUsage(windows, this.withBaseline(tenant, windows, totals(rows, windows.day, windows.month)), limits);
  }

  /** Ends the pool if the ledger created it. */
  async close(): Promise<void> {
    await this.#table.close();
  }

  protected async adjust(r: BudgetReservation, deltaTokens: number, deltaCostUsd: number): Promise<void> {
    await this.#table.ready();
    // No check to make, so one statement: it locks the rows month first, as reserve does.
    const t = this.#table.qualified;
    await this.#table.pool.query(
      `UPDATE ${t} AS w SET tokens = GREATEST(0, w.tokens + $4), cost_usd = GREATEST(0, w.cost_usd + $5), updated_at = now() ` +
        `FROM (SELECT tenant, period FROM ${t} WHERE tenant = $1 AND period IN ($2, $3) ORDER BY period FOR UPDATE) AS l ` +
        `WHERE w.tenant = l.tenant AND w.period = l.period`,
      [r.tenant, r.month, r.day, deltaTokens, deltaCostUsd],
    );
  }
}

function totals(rows: readonly PeriodRow[], day: string, month: string): WindowTotals {
  const of = (period: string): { tokens: number; costUsd: number } => {
    const row = rows.find((r) => r.period === period);
    return row === undefined ? { tokens: 0, costUsd: 0 } : { tokens: Number(row.tokens), costUsd: row.cost_usd };
  };
  const d = of(day);
  const m = of(month);
  return { dayTokens: d.tokens, dayCostUsd: d.costUsd, monthTokens: m.tokens, monthCostUsd: m.costUsd };
}
