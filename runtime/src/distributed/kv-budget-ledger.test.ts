import { jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BudgetExceededError } from "../errors.js";
import { KvBudgetLedger, budgetBucketName } from "./kv-budget-ledger.js";

const ns = `ledger-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6).toString(36)}`;
const conns: NatsConnection[] = [];

beforeAll(async () => {
  for (let i = 0; i < 3; i++) conns.push(await connect({ servers: "127.0.0.1:4222" }));
});

afterAll(async () => {
  await (await jetstreamManager(conns[0]!)).streams.delete(`KV_${budgetBucketName(ns)}`).catch(() => false);
  for (const c of conns) await c.close();
});

describe("KvBudgetLedger", () => {
  it("never lets concurrent reservations from several connections exceed a limit", async () => {
    const ledgers = await Promise.all(conns.map((c) => KvBudgetLedger.open(c, ns)));
    const attempts = Array.from({ length: 45 }, (_, i) => ledgers[i % 3]!.reserve("acme", { tokens: 100, costUsd: 0.01 }, { tokensPerDay: 1500 }).then(() => true, (e: unknown) => (e instanceof BudgetExceededError ? false : Promise.reject(e))));
    const ok = (await Promise.all(attempts)).filter(Boolean).length;
    expect(ok).toBe(15);
    const usage = await ledgers[0]!.usage("acme", { tokensPerDay: 1500 });
    expect(usage.tokensToday).toBe(1500);
    expect(usage.remainingTokens).toBe(0);
    expect(usage.costUsdToday).toBeCloseTo(0.15, 6);
  });

  it("settles to the real usage and releases failed calls, once each", async () => {
    const ledger = await KvBudgetLedger.open(conns[0]!, ns);
    const r1 = await ledger.reserve("globex", { tokens: 500, costUsd: 0 }, { tokensPerMonth: 10_000 });
    const r2 = await ledger.reserve("globex", { tokens: 300, costUsd: 0 }, {});
    await ledger.settle(r1, { tokens: 120, costUsd: 0 });
    await ledger.settle(r1, { tokens: 9999, costUsd: 0 });
    await ledger.release(r2);
    await ledger.release(r2);
    expect((await ledger.usage("globex")).tokensThisMonth).toBe(120);
  });

  it("rolls the day window over while keeping the month", async () => {
    const ledger = await KvBudgetLedger.open(conns[1]!, ns);
    const day1 = Date.UTC(2030, 0, 10, 12);
    const day2 = Date.UTC(2030, 0, 11, 12);
    await ledger.reserve("initech", { tokens: 90, costUsd: 0 }, { tokensPerDay: 100 }, day1);
    await expect(ledger.reserve("initech", { tokens: 20, costUsd: 0 }, { tokensPerDay: 100 }, day1)).rejects.toBeInstanceOf(BudgetExceededError);
    await ledger.reserve("initech", { tokens: 20, costUsd: 0 }, { tokensPerDay: 100 }, day2);
    const u = await ledger.usage("initech", {}, day2);
    expect([u.tokensToday, u.tokensThisMonth]).toEqual([20, 110]);
  });
});
