import { describe, expect, it } from "vitest";
import { alertKeyOf, alertWindowsAt } from "./alert-windows.js";
import { alertsDue, type TenantBudgetState } from "./alerts-due.js";

const windows = alertWindowsAt(Date.UTC(2026, 11, 6, 12));
const none = { dailyTokens: null, monthlyTokens: null, dailyCostUsd: null, monthlyCostUsd: null };
const state = (over: Partial<TenantBudgetState>): TenantBudgetState => ({
  tenantId: "t",
  budgets: none,
  thresholds: [0.8, 0.95],
  usage: { dailyTokensUsed: 0, monthlyTokensUsed: 0, dailyCostUsdUsed: 0, monthlyCostUsdUsed: 0 },
  rejectedToday: 0,
  ...over,
});
const keys = (s: TenantBudgetState) => alertsDue(s, windows).map(alertKeyOf).sort();

describe("alertsDue", () => {
  it("names windows in UTC", () => {
    expect(windows).toMatchObject({ dayKey: "2026-12-06", monthKey: "2026-12" });
  });

  it("asks for each crossed threshold of each set budget, day and month, tokens and cost", () => {
    const budgets = { dailyTokens: 1000, monthlyTokens: 10_000, dailyCostUsd: 1, monthlyCostUsd: 10 };
    expect(keys(state({ budgets, usage: { dailyTokensUsed: 799, monthlyTokensUsed: 7999, dailyCostUsdUsed: 0.79, monthlyCostUsdUsed: 7.9 } }))).toEqual([]);
    expect(keys(state({ budgets, usage: { dailyTokensUsed: 800, monthlyTokensUsed: 9500, dailyCostUsdUsed: 0.96, monthlyCostUsdUsed: 1 } }))).toEqual([
      "day:2026-12-06:costUsd:0.8",
      "day:2026-12-06:costUsd:0.95",
      "day:2026-12-06:tokens:0.8",
      "month:2026-12:tokens:0.8",
      "month:2026-12:tokens:0.95",
    ]);
  });

  it("asks for nothing without budgets, however much is used", () => {
    expect(keys(state({ usage: { dailyTokensUsed: 1e9, monthlyTokensUsed: 1e9, dailyCostUsdUsed: 1e6, monthlyCostUsdUsed: 1e6 } }))).toEqual([]);
  });

  it("counts a zero budget as crossed once anything is used", () => {
    const budgets = { ...none, dailyTokens: 0 };
    expect(keys(state({ budgets }))).toEqual([]);
    expect(keys(state({ budgets, usage: { dailyTokensUsed: 1, monthlyTokensUsed: 1, dailyCostUsdUsed: 0, monthlyCostUsdUsed: 0 } }))).toEqual(["day:2026-12-06:tokens:0.8", "day:2026-12-06:tokens:0.95"]);
  });

  it("puts a refusal in the window of the budget it ran into, else the day", () => {
    const refusal = (s: TenantBudgetState) => alertsDue(s, windows).find((a) => a.kind === "rejected");
    expect(refusal(state({ rejectedToday: 0 }))).toBeUndefined();
    expect(refusal(state({ rejectedToday: 1 }))).toMatchObject({ window: "day", windowKey: "2026-12-06", metric: "tokens", threshold: null, limit: null });
    const monthOver = state({ budgets: { ...none, dailyTokens: 1000, monthlyCostUsd: 5 }, usage: { dailyTokensUsed: 100, monthlyTokensUsed: 100, dailyCostUsdUsed: 1, monthlyCostUsdUsed: 5 }, rejectedToday: 2 });
    expect(refusal(monthOver)).toMatchObject({ window: "month", windowKey: "2026-12", metric: "costUsd", used: 5, limit: 5 });
    expect(alertKeyOf(refusal(monthOver)!)).toBe("month:2026-12:rejected");
    const dayOver = state({ budgets: { ...none, dailyTokens: 1000, monthlyTokens: 100_000 }, usage: { dailyTokensUsed: 1000, monthlyTokensUsed: 5000, dailyCostUsdUsed: 0, monthlyCostUsdUsed: 0 }, rejectedToday: 1 });
    expect(alertKeyOf(refusal(dayOver)!)).toBe("day:2026-12-06:rejected");
  });
});
