/**
 * The metrics contract: the names, units and bucket boundaries of every instrument the runtime
 * records, and the attribute names only metrics carry (the rest are `ATTR`, shared with the spans).
 * Every data point carries `troupe.tenant.id`; like the spans, metrics carry metadata only.
 */
export const METRIC = {
  /** Histogram `{token}`: tokens charged per LLM call, one point per `gen_ai.token.type`. OpenTelemetry GenAI semconv. */
  genAiTokenUsage: "gen_ai.client.token.usage",
  /** Histogram `s`: one point per request attempt sent to the LLM provider, `error.type` when it failed. OpenTelemetry GenAI semconv. */
  genAiOperationDuration: "gen_ai.client.operation.duration",
  /** Counter `{turn}`: turns that ended, by `troupe.turn.outcome`. */
  turns: "troupe.turns",
  /** Histogram `s`: how long a message waited in its tenant's queue before its turn started. */
  turnQueueWait: "troupe.turn.queue_wait",
  /** Histogram `s`: a turn's handler time, start to settle (or to its abandonment), by `troupe.turn.outcome`. */
  turnHandlerDuration: "troupe.turn.handler_duration",
  /** Counter `{message}`: messages refused by a tenant quota, by `troupe.quota.kind`. */
  quotaRejections: "troupe.quota.rejections",
  /** Counter `{call}`: LLM calls refused by the tenant's budget before any request was made. */
  llmBudgetRejections: "troupe.llm.budget_rejections",
} as const;

/** Attribute names that only metrics carry. */
export const METRIC_ATTR = {
  /** `input` or `output` on `gen_ai.client.token.usage` (OpenTelemetry GenAI semconv). */
  genAiTokenType: "gen_ai.token.type",
  /** One of QUOTA_KINDS on `troupe.quota.rejections`. */
  quotaKind: "troupe.quota.kind",
} as const;

/**
 * Values of `troupe.quota.kind`, named after the quota that refused the message: the tenant's queue
 * was full (`maxQueuedMessages`), or its message rate was spent (`messagesPerSecond`).
 */
export const QUOTA_KINDS = ["max_queued_messages", "messages_per_second"] as const;
/** One of QUOTA_KINDS. */
export type QuotaKind = (typeof QUOTA_KINDS)[number];

/** The bucket boundaries the GenAI semconv recommends for `gen_ai.client.token.usage`. */
export const GEN_AI_TOKEN_USAGE_BUCKETS: readonly number[] = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864];

/** The bucket boundaries the GenAI semconv recommends for `gen_ai.client.operation.duration` (seconds). */
export const GEN_AI_OPERATION_DURATION_BUCKETS: readonly number[] = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92];

/** The bucket boundaries of the runtime's turn histograms (seconds): from sub-millisecond turns to the default 30 s turn budget and beyond. */
export const TURN_DURATION_BUCKETS: readonly number[] = [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];
