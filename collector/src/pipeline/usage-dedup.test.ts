import { describe, expect, it } from "vitest";
import type { UsageRecordRow } from "../store/usage-record-row.js";
import { dedupeUsage } from "./usage-dedup.js";

const base: UsageRecordRow = {
  id: "6f1c1f2e-8c7a-4d5e-9a3b-2c1d0e9f8a7b",
  tenant: "acme",
  agentType: "a",
  model: "m",
  responseModel: "m-1",
  provider: "openai",
  inputTokens: 10,
  outputTokens: 2,
  cachedInputTokens: 0,
  reasoningTokens: 0,
  costUsd: 0.1 + 0.2,
  outcome: "ok",
  usageExact: true,
  timeMs: 1_700_000_000_123.75,
  traceId: "",
  spanId: "",
  ledgerId: "",
  serviceName: "svc",
  retentionDays: 30,
};
const other = { ...base, id: "0b5e7c1d-2f3a-4b6c-8d9e-0f1a2b3c4d5e" };

describe("dedupeUsage", () => {
  it("keeps the first copy of each id, counts identical copies as duplicates and different ones as conflicts", () => {
    const result = dedupeUsage([base, { ...base, serviceName: "another sender" }, { ...base, inputTokens: 11 }, other, { ...other, tenant: "globex" }], []);
    expect(result.fresh).toEqual([base, other, { ...other, tenant: "globex" }]);
    expect(result.duplicates).toBe(1);
    expect(result.conflicts).toBe(1);
  });

  it("drops records already stored: the same figures (time to the stored millisecond) are duplicates, others conflicts", () => {
    const stored = { ...base, timeMs: 1_700_000_000_123 };
    const result = dedupeUsage([base, { ...other }, { ...base, costUsd: 0.3 }], [stored, stored]);
    expect(result.fresh).toEqual([other]);
    expect(result.duplicates).toBe(1);
    expect(result.conflicts).toBe(1);
  });

  it("with restoreStored, puts one copy of each record stored with the same figures in `restored`, never a conflict", () => {
    const stored = { ...base, timeMs: 1_700_000_000_123 };
    const result = dedupeUsage([base, other, { ...base }, { ...other }, { ...base, costUsd: 0.3 }], [stored], { restoreStored: true });
    expect(result.fresh).toEqual([other]);
    expect(result.restored).toEqual([base]);
    expect(result.duplicates).toBe(3);
    expect(result.conflicts).toBe(1);
    expect(dedupeUsage([base], [stored]).restored).toEqual([]);
  });

  it("tells every field apart", () => {
    const changes: Partial<UsageRecordRow>[] = [
      { timeMs: base.timeMs + 1 },
      { outputTokens: 3 },
      { cachedInputTokens: 1 },
      { reasoningTokens: 1 },
      { outcome: "error" },
      { usageExact: false },
      { model: "n" },
      { responseModel: "" },
      { provider: "anthropic" },
      { agentType: "" },
      { traceId: "0af7651916cd43dd8448eb211c80319c" },
      { spanId: "b7ad6b7169203331" },
    ];
    for (const change of changes) expect(dedupeUsage([{ ...base, ...change }], [base]).conflicts).toBe(1);
  });
});
