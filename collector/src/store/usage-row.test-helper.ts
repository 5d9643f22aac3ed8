import { randomUUID } from "node:crypto";
import type { UsageRecordRow } from "./usage-record-row.js";

/** `n` valid usage record rows of tenant "acme" a minute old, each its own id, with `overrides` (tests only). */
export function usageRecordRows(n: number, overrides: Partial<UsageRecordRow> = {}): UsageRecordRow[] {
  const timeMs = Date.now() - 60_000;
  return Array.from({ length: n }, (_, i) => ({
    id: randomUUID(),
    tenant: "acme",
    agentType: "a",
    model: "m",
    responseModel: "",
    provider: "openai",
    inputTokens: 10 + i,
    outputTokens: 1,
    cachedInputTokens: 0,
    reasoningTokens: 0,
    costUsd: 0.5,
    outcome: "ok",
    usageExact: true,
    timeMs: timeMs + i,
    traceId: "",
    spanId: "",
    ledgerId: "",
    serviceName: "svc",
    retentionDays: 30,
    ...overrides,
  }));
}
