import { ROOT_CONTEXT, TraceFlags, diag, trace } from "@opentelemetry/api";
import type { Context } from "@opentelemetry/api";
import { logs } from "@opentelemetry/api-logs";
import type { LogAttributes, LogRecord, Logger, LoggerProvider } from "@opentelemetry/api-logs";
import { USAGE_ATTR, USAGE_EVENT_NAME, type UsageRecord } from "@troupe/contract";
import type { UsageRecorder } from "./usage-recorder.js";

/** The instrumentation scope name of usage log records. */
export const USAGE_LOGGER_NAME = "@troupe/runtime/usage";

/** Options of OtlpUsageRecorder. */
export interface OtlpUsageRecorderOptions {
  /**
   * Where records are emitted. Default: the global logger provider of `@opentelemetry/api-logs`,
   * looked up again whenever it changes (so a provider registered after this recorder was built,
   * e.g. by `startTelemetry`, receives the records). Without an SDK the API is a no-op.
   */
  readonly loggerProvider?: LoggerProvider;
}

/**
 * Emits each usage record as one OpenTelemetry log record shaped by the usage-record contract
 * (usage-record.ts): event name USAGE_EVENT_NAME, time = when the call started, the call's trace and
 * span id when its span was sampled (else none, never the active span's), every field an attribute
 * of its OTLP type, no body. Depends only on the logs API: the SDK pipeline behind it (see
 * `startTelemetry`) batches and exports over OTLP, independently of trace sampling. Never throws:
 * a failing logger is counted in `failedRecords` and reported once through the OpenTelemetry diag logger.
 */
export class OtlpUsageRecorder implements UsageRecorder {
  readonly #fixedProvider: LoggerProvider | undefined;
  #provider: LoggerProvider | undefined;
  #logger: Logger | undefined;
  #failed = 0;

  constructor(options: OtlpUsageRecorderOptions = {}) {
    this.#fixedProvider = options.loggerProvider;
  }

  /** Records whose emission threw (they are lost). */
  get failedRecords(): number {
    return this.#failed;
  }

  record(record: UsageRecord): void {
    try {
      this.#currentLogger().emit(usageLogRecord(record));
    } catch (error) {
      if (this.#failed++ === 0) diag.error(`usage records: emitting a record failed; it is lost (counted in failedRecords): ${String(error)}`);
    }
  }

  #currentLogger(): Logger {
    const provider = this.#fixedProvider ?? logs.getLoggerProvider();
    if (provider !== this.#provider || this.#logger === undefined) {
      this.#provider = provider;
      this.#logger = provider.getLogger(USAGE_LOGGER_NAME);
    }
    return this.#logger;
  }
}

/**
 * The log record of a usage record, per the contract: ints as whole numbers, cost as a number, the
 * optional fields (agent type, response model, cached and reasoning tokens, `usageExact` when true,
 * an empty ledger id)
 * left out when they carry nothing, and an explicit context so the record never picks up the
 * active span.
 */
export function usageLogRecord(record: UsageRecord): LogRecord {
  const attributes: LogAttributes = {
    [USAGE_ATTR.id]: record.id,
    [USAGE_ATTR.tenantId]: record.tenant,
    [USAGE_ATTR.provider]: record.provider,
    [USAGE_ATTR.model]: record.model,
    [USAGE_ATTR.outcome]: record.outcome,
    [USAGE_ATTR.inputTokens]: record.inputTokens,
    [USAGE_ATTR.outputTokens]: record.outputTokens,
    [USAGE_ATTR.costUsd]: record.costUsd,
  };
  if (record.agentType !== "") attributes[USAGE_ATTR.agentType] = record.agentType;
  if (record.responseModel !== "") attributes[USAGE_ATTR.responseModel] = record.responseModel;
  if (record.cachedInputTokens > 0) attributes[USAGE_ATTR.cachedInputTokens] = record.cachedInputTokens;
  if (record.reasoningTokens > 0) attributes[USAGE_ATTR.reasoningTokens] = record.reasoningTokens;
  if (!record.usageExact) attributes[USAGE_ATTR.usageExact] = false;
  if (record.ledgerId !== "") attributes[USAGE_ATTR.ledgerId] = record.ledgerId;
  return { eventName: USAGE_EVENT_NAME, timestamp: record.timeMs, attributes, context: spanContextOf(record) };
}

function spanContextOf(record: UsageRecord): Context {
  if (record.traceId === "" || record.spanId === "") return ROOT_CONTEXT;
  return trace.setSpanContext(ROOT_CONTEXT, { traceId: record.traceId, spanId: record.spanId, traceFlags: TraceFlags.SAMPLED });
}
