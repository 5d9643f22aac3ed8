import { randomUUID } from "node:crypto";
import type { ClickHouseGateway } from "@troupe/collector";
import type { UsageOutcome } from "@troupe/runtime";

/** One LLM call attempt's usage record, for tests that seed the collector's store directly. */
export interface SeedUsage {
  tenant: string;
  timeMs: number;
  agentType?: string;
  model?: string;
  outcome?: UsageOutcome;
  inputTokens?: number;
  outputTokens?: number;
  costUsd?: number;
  traceId?: string;
  spanId?: string;
}

/**
 * Inserts usage records into the collector's `usage_records` table through its gateway, one batch
 * (the batch id is the deduplication token, as the collector's writer uses it). For tests of what
 * reads usage (API, console, CLI, demo) that do not depend on a runtime exporting records.
 */
export async function seedUsageRecords(gateway: ClickHouseGateway, records: readonly SeedUsage[], batchId: string = randomUUID()): Promise<void> {
  const rows = records.map((r) => ({
    tenant_id: r.tenant,
    time: new Date(r.timeMs).toISOString().replace("T", " ").replace("Z", ""),
    record_id: randomUUID(),
    agent_type: r.agentType ?? "",
    provider: "openai",
    model: r.model ?? "gpt-4o-mini",
    response_model: (r.outcome ?? "ok") === "ok" ? (r.model ?? "gpt-4o-mini") : "",
    outcome: r.outcome ?? "ok",
    input_tokens: r.inputTokens ?? 0,
    output_tokens: r.outputTokens ?? 0,
    cached_input_tokens: 0,
    reasoning_tokens: 0,
    cost_usd: r.costUsd ?? 0,
    usage_exact: true,
    trace_id: r.traceId ?? "",
    span_id: r.spanId ?? "",
    service_name: "test",
    retention_days: 30,
  }));
  await gateway.insert("usage_records", rows, { dedupToken: batchId });
}
