import { randomUUID } from "node:crypto";
import { jetstream } from "@nats-io/jetstream";
import { Kvm, type KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { TroupeError } from "../errors.js";
import { budgetExceeded, budgetExceededError, budgetUsage, budgetWindows, type BudgetAmount, type BudgetLimits, type BudgetReservation, type BudgetUsage } from "../llm/budget-ledger.js";
import { ReservationLedger } from "../llm/reservation-ledger.js";
import { parseNamespace } from "./subjects.js";

/** One tenant's windows as stored in the bucket (JSON). */
interface Stored {
  day: string;
  dayTokens: number;
  dayCostUsd: number;
  month: string;
  monthTokens: number;
  monthCostUsd: number;
}

/** Options of a KV budget ledger. */
export interface KvBudgetLedgerOptions {
  /**
   * The ledger's id in usage records. Default (`open`): `kv:<bucket>:<uuid>`, the uuid created once
   * in the bucket, so every process of the cluster shares it and another cluster's bucket of the
   * same name has another. A ledger built on a KV directly should be given the id `open` would
   * read (else it defaults to `kv:<bucket>`).
   */
  id?: string;
  /** Compare-and-set attempts before a reservation gives up (BudgetContendedError). Default 64. */
  maxAttempts?: number;
}

/**
 * A BudgetLedger in a JetStream KV bucket, shared by every process of a cluster. Each tenant's day
 * and month windows are one entry, changed only by compare-and-set on its revision, so `reserve`'s
 * check-and-add is atomic across processes: concurrent reservations from any number of workers can
 * never push the reserved total past a limit. `settle`/`release` apply at most once per reservation
 * (per process that holds it). Throws TroupeError `BUDGET_CONTENDED` when the entry keeps changing
 * under it for `maxAttempts` tries (nothing is charged then).
 */
export class KvBudgetLedger extends ReservationLedger {
  readonly id: string;
  readonly #maxAttempts: number;

  readonly #kv: KV;

  constructor(
    kv: KV,
    options: KvBudgetLedgerOptions = {},
  ) {
    super();
    this.#kv = kv;
    this.#maxAttempts = options.maxAttempts ?? 64;
    this.id = options.id ?? `kv:${(kv as { bucket?: unknown }).bucket ?? "budgets"}`;
  }

  /** Opens (creating if needed) the budget bucket of a namespace, and reads (creating if needed) its id. */
  static async open(nc: NatsConnection, namespace: string, options: KvBudgetLedgerOptions = {}): Promise<KvBudgetLedger> {
    const bucket = budgetBucketName(namespace);
    const kv = await new Kvm(jetstream(nc)).create(bucket, { history: 1 });
    return new KvBudgetLedger(kv, { ...options, id: options.id ?? `kv:${bucket}:${await storedId(kv)}` });
  }

  protected async charge(tenant: string, amount: BudgetAmount, limits: BudgetLimits, _windows: unknown, nowMs: number): Promise<void> {
    await this.#change(tenant, nowMs, (s) => {
      const over = budgetExceeded(this.withBaseline(tenant, s, s), amount, limits);
      if (over !== undefined) throw budgetExceededError(tenant, over);
      s.dayTokens += amount.tokens;
      s.dayCostUsd += amount.costUsd;
      s.monthTokens += amount.tokens;
      s.monthCostUsd += amount.costUsd;
    });
  }

  async usage(tenant: string, limits: BudgetLimits = {}, nowMs: number = Date.now()): Promise<BudgetUsage> {
    const e = await this.#kv.get(keyOf(tenant));
    const s = rolled(e !== null && e.operation === "PUT" ? e.json<Stored>() : undefined, nowMs);
    return budgetUsage(s, this.withBaseline(tenant, s, s), limits);
  }

  protected async adjust(r: BudgetReservation, deltaTokens: number, deltaCostUsd: number): Promise<void> {
    await this.#change(r.tenant, undefined, (s) => {
      // A window that rolled over since the reservation no longer holds it: nothing to adjust there.
      if (s.day === r.day) {
        s.dayTokens = Math.max(0, s.dayTokens + deltaTokens);
        s.dayCostUsd = Math.max(0, s.dayCostUsd + deltaCostUsd);
      }
      if (s.month === r.month) {
        s.monthTokens = Math.max(0, s.monthTokens + deltaTokens);
        s.monthCostUsd = Math.max(0, s.monthCostUsd + deltaCostUsd);
      }
    });
  }

  /** Read, change, compare-and-set; retried with jittered backoff while other writers win. */
  async #change(tenant: string, nowMs: number | undefined, mutate: (s: Stored) => void): Promise<void> {
    const key = keyOf(tenant);
    for (let attempt = 0; attempt < this.#maxAttempts; attempt++) {
      const e = await this.#kv.get(key);
      const live = e !== null && e.operation === "PUT";
      const current = live ? e.json<Stored>() : undefined;
      const s = nowMs === undefined && current !== undefined ? { ...current } : rolled(current, nowMs ?? Date.now());
      mutate(s);
      const data = JSON.stringify(s);
      try {
        if (e === null) await this.#kv.create(key, data);
        else await this.#kv.update(key, data, e.revision);
        return;
      } catch (err) {
        if (!isConflict(err)) throw err;
        await new Promise((r) => setTimeout(r, Math.random() * Math.min(50, 2 ** attempt)));
      }
    }
    throw new TroupeError("BUDGET_CONTENDED", `the budget of tenant "${tenant}" kept changing during ${this.#maxAttempts} attempts; retry later`);
  }
}

/** The KV bucket holding a namespace's budgets. */
export function budgetBucketName(namespace: string): string {
  return `troupe_${parseNamespace(namespace)}_budgets`;
}

/** The bucket's id, created by the first process to open it (the others read it). */
async function storedId(kv: KV): Promise<string> {
  for (let attempt = 0; attempt < 8; attempt++) {
    const e = await kv.get(ID_KEY);
    if (e !== null && e.operation === "PUT") return e.string();
    try {
      await kv.create(ID_KEY, randomUUID());
    } catch (err) {
      if (!isConflict(err)) throw err;
    }
  }
  throw new TroupeError("BUDGET_CONTENDED", "the id of the budget bucket kept changing while it was read; retry later");
}

/** Not a tenant key (those start with "t."). */
const ID_KEY = "ledger_id";

function keyOf(tenant: string): string {
  // Tenant ids are [a-z0-9_-]: valid KV key characters as they are.
  return `t.${tenant}`;
}

function rolled(s: Stored | undefined, nowMs: number): Stored {
  const { day, month } = budgetWindows(nowMs);
  const out: Stored = s === undefined ? { day, dayTokens: 0, dayCostUsd: 0, month, monthTokens: 0, monthCostUsd: 0 } : { ...s };
  if (out.day !== day) Object.assign(out, { day, dayTokens: 0, dayCostUsd: 0 });
  if (out.month !== month) Object.assign(out, { month, monthTokens: 0, monthCostUsd: 0 });
  return out;
}

function isConflict(err: unknown): boolean {
  const text = err instanceof Error ? `${err.message} ${String((err as { code?: unknown }).code ?? "")}` : String(err);
  return /wrong last sequence|10071|key exists|already exists/i.test(text);
}
