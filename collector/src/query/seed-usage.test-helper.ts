import { randomUUID } from "node:crypto";
import type { UsageOutcome } from "@troupe/contract";
import type { ClickHouseGateway } from "../store/clickhouse-gateway.js";
import { toClickHouseDateTime } from "../store/clickhouse-time.js";
import type { SpanRow } from "../store/span-row.js";

/** One synthetic usage record (tests only): one LLM call attempt. */
export interface UsageSpec {
  tenantId: string;
  timeMs: number;
  agentType?: string;
  model?: string;
  outcome?: UsageOutcome;
  inputTokens?: number;
  outputTokens?: number;
  cachedInputTokens?: number;
  reasoningTokens?: number;
  costUsd?: number;
  /** Default: a fresh UUID. Pass the same id twice to model a re-sent record. */
  recordId?: string;
  traceId?: string;
  spanId?: string;
  /** The budget ledger that charged it; default "" (unknown). */
  ledgerId?: string;
}

/** A `usage_records` row (columns of migrations 0004 and 0005) for a spec; refused attempts default to no tokens. */
export function usageRow(spec: UsageSpec): Record<string, unknown> {
  const outcome = spec.outcome ?? "ok";
  const charged = outcome === "ok" || outcome === "error" || outcome === "timeout";
  return {
    tenant_id: spec.tenantId,
    time: toClickHouseDateTime(spec.timeMs),
    record_id: spec.recordId ?? randomUUID(),
    agent_type: spec.agentType ?? "",
    provider: "openai",
    model: spec.model ?? "gpt-4o",
    response_model: outcome === "ok" ? (spec.model ?? "gpt-4o") : "",
    outcome,
    input_tokens: spec.inputTokens ?? (charged ? 100 : 0),
    output_tokens: spec.outputTokens ?? (charged ? 20 : 0),
    cached_input_tokens: spec.cachedInputTokens ?? 0,
    reasoning_tokens: spec.reasoningTokens ?? 0,
    cost_usd: spec.costUsd ?? (charged ? 0.001 : 0),
    usage_exact: true,
    trace_id: spec.traceId ?? "",
    span_id: spec.spanId ?? "",
    service_name: "svc",
    retention_days: 30,
    ledger_id: spec.ledgerId ?? "",
  };
}

/**
 * Inserts usage rows through the gateway as the usage writer would: one insert per batch, the batch
 * id as deduplication token (a replayed batch writes nothing; a record re-sent in another batch is
 * collapsed by FINAL).
 */
export async function insertUsageRows(gateway: ClickHouseGateway, rows: readonly Record<string, unknown>[], batchId: string): Promise<void> {
  await gateway.insert("usage_records", rows, { dedupToken: batchId });
}

/** Inserts usage records for specs in one batch; returns their rows (with ids) for re-sending. */
export async function insertUsage(gateway: ClickHouseGateway, specs: readonly UsageSpec[], batchId: string = randomUUID()): Promise<Record<string, unknown>[]> {
  const rows = specs.map(usageRow);
  await insertUsageRows(gateway, rows, batchId);
  return rows;
}

/**
 * The usage record the runtime emits beside a traced LLM call: the `chat` span's numbers, tenant,
 * agent, time and ids (tests only). Span attributes are strings as stored.
 */
export function usageOfChatSpan(span: SpanRow, outcome: UsageOutcome = span.statusCode === 2 ? "error" : "ok"): UsageSpec {
  const a = span.attributes;
  return {
    tenantId: span.tenantId,
    timeMs: Number(BigInt(span.startTimeUnixNano) / 1_000_000n),
    agentType: a["troupe.agent.type"] ?? "",
    model: a["gen_ai.request.model"] ?? "",
    outcome,
    inputTokens: Number(a["gen_ai.usage.input_tokens"] ?? 0),
    outputTokens: Number(a["gen_ai.usage.output_tokens"] ?? 0),
    costUsd: Number(a["troupe.llm.cost_usd"] ?? 0),
    traceId: span.traceId,
    spanId: span.spanId,
  };
}
