// Usage log records as the runtime emits them, made by the real OpenTelemetry logs SDK (tests only).
import { ROOT_CONTEXT, TraceFlags, trace } from "@opentelemetry/api";
import type { AnyValueMap } from "@opentelemetry/api-logs";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { InMemoryLogRecordExporter, LoggerProvider, SimpleLogRecordProcessor, type ReadableLogRecord } from "@opentelemetry/sdk-logs";
import { USAGE_ATTR, USAGE_EVENT_NAME } from "@troupe/contract";

/** The attributes of a valid usage record of `tenant` with id `id` (10 input, 2 output tokens, $0.25). */
export function usageAttributes(id: string, tenant = "acme", overrides: AnyValueMap = {}): AnyValueMap {
  return {
    [USAGE_ATTR.id]: id,
    [USAGE_ATTR.tenantId]: tenant,
    [USAGE_ATTR.agentType]: "support",
    [USAGE_ATTR.model]: "gpt-4o-mini",
    [USAGE_ATTR.responseModel]: "gpt-4o-mini-2024-07-18",
    [USAGE_ATTR.provider]: "openai",
    [USAGE_ATTR.inputTokens]: 10,
    [USAGE_ATTR.outputTokens]: 2,
    [USAGE_ATTR.cachedInputTokens]: 4,
    [USAGE_ATTR.costUsd]: 0.25,
    [USAGE_ATTR.outcome]: "ok",
    ...overrides,
  };
}

/** One log record to emit: a usage record by default (its event name and time may be changed). */
export interface EmitSpec {
  attributes: AnyValueMap;
  /** Default USAGE_EVENT_NAME; null for none. */
  eventName?: string | null;
  /** ms since the epoch; default now. */
  timeMs?: number;
  /** The call's chat span, when traced. */
  traceId?: string;
  spanId?: string;
}

/** The ReadableLogRecords the real SDK hands to an exporter for these emits, from one resource. */
export async function sdkLogRecords(specs: readonly EmitSpec[], resourceAttributes: AnyValueMap = { "service.name": "billing-test" }): Promise<ReadableLogRecord[]> {
  const exporter = new InMemoryLogRecordExporter();
  const provider = new LoggerProvider({ resource: resourceFromAttributes(resourceAttributes as Record<string, string>), processors: [new SimpleLogRecordProcessor({ exporter })] });
  const logger = provider.getLogger("@troupe/runtime");
  for (const spec of specs) {
    const context =
      spec.traceId && spec.spanId ? trace.setSpanContext(ROOT_CONTEXT, { traceId: spec.traceId, spanId: spec.spanId, traceFlags: TraceFlags.SAMPLED }) : ROOT_CONTEXT;
    logger.emit({
      ...(spec.eventName === null ? {} : { eventName: spec.eventName ?? USAGE_EVENT_NAME }),
      timestamp: spec.timeMs ?? Date.now(),
      attributes: spec.attributes,
      context,
    });
  }
  await provider.forceFlush();
  const records = exporter.getFinishedLogRecords();
  await provider.shutdown();
  return records;
}
