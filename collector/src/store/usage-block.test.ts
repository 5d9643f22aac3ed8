import { describe, expect, it } from "vitest";
import { NativeFormatError } from "./native-block.js";
import { encodeSpanBlock } from "./span-block.js";
import { decodeUsageBlocks, encodeUsageBlock } from "./usage-block.js";
import type { UsageRecordRow } from "./usage-record-row.js";

function row(i: number, overrides: Partial<UsageRecordRow> = {}): UsageRecordRow {
  return {
    id: `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`,
    tenant: i % 2 === 0 ? "acme" : "globex",
    agentType: "support",
    model: "gpt-4o-mini",
    responseModel: "gpt-4o-mini-2024-07-18",
    provider: "openai",
    inputTokens: 1_000 + i,
    outputTokens: 20 * i,
    cachedInputTokens: 0,
    reasoningTokens: 7,
    costUsd: 0.000_123 * i,
    outcome: "ok",
    usageExact: true,
    timeMs: 1_796_570_141_123 + i,
    traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
    spanId: "00f067aa0ba902b7",
    ledgerId: "",
    serviceName: "checkout",
    retentionDays: 30,
    ...overrides,
  };
}

describe("usage blocks", () => {
  it("decode to the rows they were encoded from: every field, any text, the largest counts, costs bit for bit", () => {
    const rows = [
      row(0),
      row(1, { model: "modèle-ünïcode-✓", agentType: "", responseModel: "", outcome: "error", usageExact: false, ledgerId: "ledger-1" }),
      row(2, { inputTokens: Number.MAX_SAFE_INTEGER, outputTokens: 0, costUsd: 0.1 + 0.2, retentionDays: 65_535 }),
      row(3, { costUsd: Number.MIN_VALUE, timeMs: 0, traceId: "", spanId: "", serviceName: "unknown_service" }),
    ];
    expect(decodeUsageBlocks(encodeUsageBlock(rows))).toEqual(rows);
    // One stream of several blocks (what a spool record's bytes or a batch of them are).
    expect(decodeUsageBlocks(Buffer.concat([encodeUsageBlock(rows.slice(0, 1)), encodeUsageBlock(rows.slice(1))]))).toEqual(rows);
    expect(decodeUsageBlocks(encodeUsageBlock([]))).toEqual([]);
  });

  it("give back what is stored, not more: whole milliseconds and retention within the column's range", () => {
    const [decoded] = decodeUsageBlocks(encodeUsageBlock([row(0, { timeMs: 1_796_570_141_123.9, retentionDays: 100_000 })]));
    expect(decoded).toMatchObject({ timeMs: 1_796_570_141_123, retentionDays: 65_535 });
  });

  it("refuse bytes that are not usage blocks", () => {
    const bytes = encodeUsageBlock([row(0), row(1)]);
    expect(() => decodeUsageBlocks(bytes.subarray(0, bytes.length - 3))).toThrow(NativeFormatError);
    // A span block starts with the same tenant column, then its own.
    expect(() => decodeUsageBlocks(encodeSpanBlock([], () => 30))).toThrow(/usage block without column time DateTime64\(3, 'UTC'\) in place 2/);
  });
});
