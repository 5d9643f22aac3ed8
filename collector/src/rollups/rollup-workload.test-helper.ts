import type { UsageOutcome } from "@troupe/contract";
import { plainSpanFields, type SpanRow } from "../store/span-row.js";
import { usageRow } from "../query/seed-usage.test-helper.js";

/**
 * Agent workloads for the rollup tests (tests only): turns as the runtime traces them (a `process`
 * span, maybe an LLM call with its usage record, maybe a refused send), placed in the minutes of a
 * few hours after a base time.
 */

const MIN = 60_000;
const HOUR = 3_600_000;

/** One generated turn; times are offsets from the workload's base hour. */
export interface TurnGen {
  tenant: number;
  agent: string;
  hour: number;
  minute: number;
  ms: number;
  durationUs: number;
  outcome: string;
  llm: boolean;
  llmError: boolean;
  model: string;
  inputTokens: number;
  outputTokens: number;
  costMicros: number;
  ratio: string | null;
  refusedSend: string | null;
  queueWaitUs: number;
  handlerUs: number;
  ledger: string;
  usageOutcome: UsageOutcome;
}

let counter = 0;
const hex = (bytes: number) => (++counter).toString(16).padStart(bytes * 2, "0").slice(-bytes * 2);

function nanos(ms: number): string {
  return (BigInt(ms) * 1_000_000n).toString();
}

function span(tenantId: string, o: Partial<SpanRow> & Pick<SpanRow, "traceId" | "spanId" | "kind" | "name" | "attributes">, startMs: number, durationUs: number): SpanRow {
  return {
    tenantId,
    parentSpanId: "",
    startTimeUnixNano: nanos(startMs),
    durationNs: durationUs * 1000,
    statusCode: 0,
    serviceName: "svc",
    resourceAttributes: { "service.name": "svc" },
    ...plainSpanFields(),
    ...o,
  };
}

/** The spans and usage records of one batch of turns. */
export function batchRows(turns: readonly TurnGen[], tenantIds: readonly string[], baseMs: number): { spans: SpanRow[]; usage: Record<string, unknown>[] } {
  const spans: SpanRow[] = [];
  const usage: Record<string, unknown>[] = [];
  for (const t of turns) {
    const tenantId = tenantIds[t.tenant]!;
    const startMs = baseMs + t.hour * HOUR + t.minute * MIN + t.ms;
    const traceId = hex(16);
    const rootId = hex(8);
    const rootAttributes: Record<string, string> = {
      "troupe.agent.type": t.agent,
      "troupe.turn.outcome": t.outcome,
      "messaging.operation.name": "process",
      "troupe.queue.wait_ms": String(t.queueWaitUs / 1000),
      "troupe.handler.wall_ms": String(t.handlerUs / 1000),
    };
    if (t.ratio !== null) rootAttributes["troupe.sampling.ratio"] = t.ratio;
    spans.push(span(tenantId, { traceId, spanId: rootId, kind: 5, name: `process ${t.agent}`, attributes: rootAttributes, statusCode: t.outcome === "ok" ? 1 : 2 }, startMs, t.durationUs));
    if (t.llm) {
      const chatId = hex(8);
      // A call that starts in the next minute (or hour) when the turn starts at the end of one.
      const chatStart = startMs + 7;
      spans.push(
        span(
          tenantId,
          {
            traceId,
            spanId: chatId,
            parentSpanId: rootId,
            kind: 3,
            name: `chat ${t.model}`,
            statusCode: t.llmError ? 2 : 0,
            attributes: {
              "troupe.agent.type": t.agent,
              "gen_ai.operation.name": "chat",
              "gen_ai.request.model": t.model,
              "gen_ai.usage.input_tokens": String(t.inputTokens),
              "gen_ai.usage.output_tokens": String(t.outputTokens),
              "troupe.llm.cost_usd": String(t.costMicros / 1e6),
            },
          },
          chatStart,
          Math.max(0, t.durationUs - 10),
        ),
      );
      usage.push(
        usageRow({
          tenantId,
          timeMs: chatStart,
          agentType: t.agent,
          model: t.model,
          outcome: t.usageOutcome,
          inputTokens: t.inputTokens,
          outputTokens: t.outputTokens,
          cachedInputTokens: t.inputTokens % 7,
          reasoningTokens: t.outputTokens % 5,
          costUsd: t.costMicros / 1e6,
          ledgerId: t.ledger,
          recordId: `rec-${traceId}`,
          traceId,
          spanId: chatId,
        }),
      );
    }
    if (t.refusedSend !== null) {
      spans.push(
        span(tenantId, { traceId: hex(16), spanId: hex(8), kind: 4, name: `send ${t.agent}`, statusCode: 2, attributes: { "troupe.agent.type": t.agent, "troupe.turn.outcome": t.refusedSend, "messaging.operation.name": "send" } }, startMs + 3, 50),
      );
    }
  }
  return { spans, usage };
}
