import { describe, expect, it } from "vitest";
import { BudgetExceededError } from "../errors.js";
import { InMemoryBudgetLedger } from "./in-memory-budget-ledger.js";

const DAY1 = Date.parse("2025-03-31T23:59:00Z");
const DAY2 = Date.parse("2025-04-01T00:01:00Z");

describe("InMemoryBudgetLedger", () => {
  it("reserves atomically: concurrent reservations never exceed the limit", async () => {
    const ledger = new InMemoryBudgetLedger();
    const results = await Promise.allSettled(Array.from({ length: 50 }, () => ledger.reserve("t", { tokens: 30, costUsd: 0 }, { tokensPerDay: 1_000 }, DAY1)));
    expect(results.filter((r) => r.status === "fulfilled").length).toBe(33);
    expect(results.filter((r) => r.status === "rejected").every((r) => r.reason instanceof BudgetExceededError)).toBe(true);
    expect((await ledger.usage("t", {}, DAY1)).tokensToday).toBe(990);
  });

  it("settles real usage, releases failures, and ignores a second settle", async () => {
    const ledger = new InMemoryBudgetLedger();
    const a = await ledger.reserve("t", { tokens: 100, costUsd: 0.1 }, {}, DAY1);
    const b = await ledger.reserve("t", { tokens: 100, costUsd: 0.1 }, {}, DAY1);
    await ledger.settle(a, { tokens: 40, costUsd: 0.04 });
    await ledger.settle(a, { tokens: 1_000, costUsd: 1 });
    await ledger.release(b);
    const usage = await ledger.usage("t", { tokensPerMonth: 100 }, DAY1);
    expect(usage.tokensToday).toBe(40);
    expect(usage.costUsdToday).toBeCloseTo(0.04);
    expect(usage.remainingTokens).toBe(60);
  });

  it("rolls day and month windows over at UTC midnight; enforces cost limits", async () => {
    const ledger = new InMemoryBudgetLedger();
    await ledger.reserve("t", { tokens: 10, costUsd: 0.5 }, { costUsdPerDay: 0.5 }, DAY1);
    await expect(ledger.reserve("t", { tokens: 10, costUsd: 0.01 }, { costUsdPerDay: 0.5 }, DAY1)).rejects.toThrow(/spent today/);
    await expect(ledger.reserve("t", { tokens: 10, costUsd: 0.01 }, { costUsdPerDay: 0.5 }, DAY2)).resolves.toBeDefined();
    const usage = await ledger.usage("t", {}, DAY2);
    expect(usage.month).toBe("2025-04");
    expect(usage.tokensThisMonth).toBe(10);
  });

  it("keeps tenants apart", async () => {
    const ledger = new InMemoryBudgetLedger();
    await ledger.reserve("a", { tokens: 100, costUsd: 0 }, { tokensPerDay: 100 }, DAY1);
    await expect(ledger.reserve("b", { tokens: 100, costUsd: 0 }, { tokensPerDay: 100 }, DAY1)).resolves.toBeDefined();
  });
});
