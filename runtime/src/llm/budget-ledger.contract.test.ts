import { jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KvBudgetLedger, budgetBucketName } from "../distributed/kv-budget-ledger.js";
import { BudgetExceededError, InvalidArgumentError } from "../errors.js";
import { postgresTestUrl } from "../postgres/postgres-test-url.test-helper.js";
import type { BudgetLedger } from "./budget-ledger.js";
import { InMemoryBudgetLedger } from "./in-memory-budget-ledger.js";
import { PostgresBudgetLedger } from "./postgres-budget-ledger.js";

// One contract, every ledger: process memory, JetStream KV (the real nats-server) and PostgreSQL
// (a real server: the machine's, or the embedded one the test setup starts). Each opens three
// handles on one store — three connections for the shared ledgers, as three processes would.
const PG_URL = postgresTestUrl(process.env);
const runId = `${process.pid}_${Date.now().toString(36)}`;
const schema = `troupe_budget_test_${runId}`;
const namespace = `ledger-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6).toString(36)}`;

interface Backend {
  name: string;
  /** Three handles on one store. */
  open(): Promise<BudgetLedger[]>;
  /** A fresh handle on the same store after the others closed (a restart), when the store outlives the process. */
  reopen?(): Promise<BudgetLedger>;
  close(): Promise<void>;
}

const natsConns: NatsConnection[] = [];
const pgLedgers: PostgresBudgetLedger[] = [];
const backends: Backend[] = [
  {
    name: "InMemoryBudgetLedger",
    async open() {
      const ledger = new InMemoryBudgetLedger();
      return [ledger, ledger, ledger];
    },
    async close() {},
  },
  {
    name: "KvBudgetLedger",
    async open() {
      for (let i = 0; i < 3; i++) natsConns.push(await connect({ servers: "127.0.0.1:4222" }));
      return Promise.all(natsConns.map((c) => KvBudgetLedger.open(c, namespace)));
    },
    async reopen() {
      const c = await connect({ servers: "127.0.0.1:4222" });
      natsConns.push(c);
      return KvBudgetLedger.open(c, namespace);
    },
    async close() {
      await (await jetstreamManager(natsConns[0]!)).streams.delete(`KV_${budgetBucketName(namespace)}`).catch(() => false);
      await Promise.all(natsConns.map((c) => c.close()));
    },
  },
  {
    name: "PostgresBudgetLedger",
    async open() {
      for (let i = 0; i < 3; i++) pgLedgers.push(new PostgresBudgetLedger({ connectionString: PG_URL, schema, maxConnections: 4 }));
      return pgLedgers.slice(0, 3);
    },
    async reopen() {
      await Promise.all(pgLedgers.map((l) => l.close()));
      pgLedgers.length = 0;
      const ledger = new PostgresBudgetLedger({ connectionString: PG_URL, schema, maxConnections: 2 });
      pgLedgers.push(ledger);
      return ledger;
    },
    async close() {
      await Promise.all(pgLedgers.map((l) => l.close()));
      const client = new pg.Client({ connectionString: PG_URL });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await client.end();
    },
  },
];

const MAR31 = Date.UTC(2025, 2, 31, 23, 59);
const APR1 = Date.UTC(2025, 3, 1, 0, 1);
const APR2 = Date.UTC(2025, 3, 2, 12);

describe.each(backends)("$name contract", (backend) => {
  let ledgers: BudgetLedger[];
  beforeAll(async () => {
    ledgers = await backend.open();
  });
  afterAll(async () => {
    await backend.close();
  });

  it("never lets concurrent reservations from three handles push the total past a limit", async () => {
    const attempts = Array.from({ length: 45 }, (_, i) =>
      ledgers[i % 3]!.reserve("acme", { tokens: 100, costUsd: 0.01 }, { tokensPerDay: 1500 }, APR2).then(
        () => true,
        (e: unknown) => (e instanceof BudgetExceededError ? false : Promise.reject(e)),
      ),
    );
    expect((await Promise.all(attempts)).filter(Boolean).length).toBe(15);
    const usage = await ledgers[1]!.usage("acme", { tokensPerDay: 1500 }, APR2);
    expect([usage.tokensToday, usage.remainingTokens]).toEqual([1500, 0]);
    expect(usage.costUsdToday).toBeCloseTo(0.15, 9);
  });

  it("loses no update when reservations and settlements of one tenant interleave across handles", async () => {
    await Promise.all(
      Array.from({ length: 30 }, async (_, i) => {
        const r = await ledgers[i % 3]!.reserve("hooli", { tokens: 100, costUsd: 0.002 }, {}, APR2);
        await ledgers[i % 3]!.settle(r, { tokens: 50, costUsd: 0.001 });
      }),
    );
    const usage = await ledgers[2]!.usage("hooli", {}, APR2);
    expect([usage.tokensToday, usage.tokensThisMonth]).toEqual([1500, 1500]);
    expect(usage.costUsdThisMonth).toBeCloseTo(0.03, 9);
  });

  it("settles to the real usage and releases failed calls, once each", async () => {
    const ledger = ledgers[0]!;
    const a = await ledger.reserve("globex", { tokens: 100, costUsd: 0.1 }, {}, APR2);
    const b = await ledger.reserve("globex", { tokens: 100, costUsd: 0.1 }, {}, APR2);
    await ledger.settle(a, { tokens: 40, costUsd: 0.04 });
    await ledger.settle(a, { tokens: 1_000, costUsd: 1 });
    await ledger.release(b);
    await ledger.release(b);
    const usage = await ledger.usage("globex", { tokensPerMonth: 100 }, APR2);
    expect([usage.tokensToday, usage.remainingTokens]).toEqual([40, 60]);
    expect(usage.costUsdToday).toBeCloseTo(0.04, 9);
  });

  it("rolls the day over at UTC midnight, the month with it at a month's end, and enforces cost limits", async () => {
    const ledger = ledgers[0]!;
    await ledger.reserve("initech", { tokens: 10, costUsd: 0.5 }, { costUsdPerDay: 0.5 }, MAR31);
    await expect(ledger.reserve("initech", { tokens: 10, costUsd: 0.01 }, { costUsdPerDay: 0.5 }, MAR31)).rejects.toThrow(/spent today/);
    await ledger.reserve("initech", { tokens: 20, costUsd: 0.01 }, { costUsdPerDay: 0.5 }, APR1);
    await ledger.reserve("initech", { tokens: 30, costUsd: 0 }, { tokensPerMonth: 50 }, APR2);
    await expect(ledger.reserve("initech", { tokens: 1, costUsd: 0 }, { tokensPerMonth: 50 }, APR2)).rejects.toThrow(/tokens used this month/);
    const usage = await ledger.usage("initech", {}, APR2);
    expect([usage.day, usage.month, usage.tokensToday, usage.tokensThisMonth]).toEqual(["2025-04-02", "2025-04", 30, 50]);
  });

  it("keeps tenants apart", async () => {
    await ledgers[0]!.reserve("alpha", { tokens: 100, costUsd: 0 }, { tokensPerDay: 100 }, APR2);
    await expect(ledgers[1]!.reserve("beta", { tokens: 100, costUsd: 0 }, { tokensPerDay: 100 }, APR2)).resolves.toBeDefined();
    expect((await ledgers[2]!.usage("beta", {}, APR2)).tokensToday).toBe(100);
  });

  it("refuses amounts it cannot add up, naming the problem and charging nothing", async () => {
    const ledger = ledgers[0]!;
    for (const amount of [
      { tokens: -1, costUsd: 0 },
      { tokens: 1.5, costUsd: 0 },
      { tokens: Number.NaN, costUsd: 0 },
      { tokens: 1, costUsd: Number.POSITIVE_INFINITY },
      { tokens: 1, costUsd: -0.5 },
    ]) {
      const error = await ledger.reserve("umbrella", amount, {}, APR2).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect((error as Error).message).toMatch(/reservation's (tokens|costUsd) must be/);
    }
    const r = await ledger.reserve("umbrella", { tokens: 10, costUsd: 0 }, {}, APR2);
    await expect(ledger.settle(r, { tokens: 3.2, costUsd: 0 })).rejects.toBeInstanceOf(InvalidArgumentError);
    // Refused settlements leave the reservation open: the right usage still settles it.
    await ledger.settle(r, { tokens: 4, costUsd: 0 });
    expect((await ledger.usage("umbrella", {}, APR2)).tokensToday).toBe(4);
  });

  it("names its store: one id for every handle on it, in use once ready", async () => {
    await Promise.all(ledgers.map((l) => l.ready?.()));
    const ids = new Set(ledgers.map((l) => l.id));
    expect(ids.size).toBe(1);
    expect([...ids][0]).toMatch(/^(memory|kv|pg):\S+$/);
    expect(new InMemoryBudgetLedger().id).not.toBe(new InMemoryBudgetLedger().id);
  });

  it("counts a baseline of 80% in every check and in usage: only the remaining 20% can be reserved", async () => {
    const ledger = ledgers[0]!;
    const limits = { tokensPerDay: 1000, costUsdPerMonth: 10 };
    ledger.setBaseline("wayne", { day: "2025-04-02", month: "2025-04", dayTokens: 800, dayCostUsd: 0.8, monthTokens: 800, monthCostUsd: 8 });
    await ledger.reserve("wayne", { tokens: 150, costUsd: 1 }, limits, APR2);
    await expect(ledger.reserve("wayne", { tokens: 51, costUsd: 0 }, limits, APR2)).rejects.toThrow(/950 of 1000 tokens used today/);
    await expect(ledger.reserve("wayne", { tokens: 10, costUsd: 1.5 }, limits, APR2)).rejects.toThrow(/spent this month/);
    await ledger.reserve("wayne", { tokens: 50, costUsd: 1 }, limits, APR2);
    const usage = await ledger.usage("wayne", limits, APR2);
    expect([usage.tokensToday, usage.tokensThisMonth, usage.remainingTokens]).toEqual([1000, 1000, 0]);
    expect(usage.costUsdThisMonth).toBeCloseTo(10, 9);
    // Removing the baseline leaves the ledger's own totals.
    ledger.setBaseline("wayne", undefined);
    expect((await ledger.usage("wayne", limits, APR2)).tokensToday).toBe(200);
  });

  it("ignores the parts of a baseline for a past day or month, and keeps a baseline to the handle it was given to", async () => {
    const limits = { tokensPerDay: 100 };
    ledgers[0]!.setBaseline("stark", { day: "2025-04-01", month: "2025-04", dayTokens: 100, dayCostUsd: 0, monthTokens: 500, monthCostUsd: 0 });
    const usage = await ledgers[0]!.usage("stark", limits, APR2);
    expect([usage.tokensToday, usage.tokensThisMonth, usage.remainingTokens]).toEqual([0, 500, 100]);
    await ledgers[0]!.reserve("stark", { tokens: 100, costUsd: 0 }, limits, APR2);
    ledgers[0]!.setBaseline("stark", { day: "2025-03-31", month: "2025-03", dayTokens: 1e6, dayCostUsd: 0, monthTokens: 1e6, monthCostUsd: 0 });
    expect((await ledgers[0]!.usage("stark", {}, APR2)).tokensThisMonth).toBe(100);
    if (ledgers[1] !== ledgers[0]) {
      ledgers[1]!.setBaseline("stark", { day: "2025-04-02", month: "2025-04", dayTokens: 1e6, dayCostUsd: 0, monthTokens: 1e6, monthCostUsd: 0 });
      expect((await ledgers[2]!.usage("stark", {}, APR2)).tokensToday).toBe(100);
    }
  });

  it("refuses a baseline it cannot add up, naming the field", () => {
    const good = { day: "2025-04-02", month: "2025-04", dayTokens: 1, dayCostUsd: 0, monthTokens: 1, monthCostUsd: 0 };
    expect(() => ledgers[0]!.setBaseline("acme", { ...good, dayTokens: -1 })).toThrow(/dayTokens must be a finite number >= 0/);
    expect(() => ledgers[0]!.setBaseline("acme", { ...good, monthCostUsd: Number.NaN })).toThrow(InvalidArgumentError);
    expect(() => ledgers[0]!.setBaseline("acme", { ...good, day: "April 2" })).toThrow(/day must be a UTC day/);
  });

  it.runIf(backend.reopen !== undefined)("keeps the budgets after a restart", async () => {
    await ledgers[0]!.reserve("durable", { tokens: 700, costUsd: 0 }, { tokensPerDay: 1000 }, APR2);
    const id = ledgers[0]!.id;
    const fresh = await backend.reopen!();
    await fresh.ready?.();
    expect(fresh.id).toBe(id);
    await expect(fresh.reserve("durable", { tokens: 400, costUsd: 0 }, { tokensPerDay: 1000 }, APR2)).rejects.toBeInstanceOf(BudgetExceededError);
    expect((await fresh.usage("durable", { tokensPerDay: 1000 }, APR2)).remainingTokens).toBe(300);
  });
});
