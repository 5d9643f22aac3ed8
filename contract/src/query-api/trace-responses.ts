// Answers of the query API's trace endpoints: the trace search, one trace's span tree, the
// conversations, and the sampling in force. Times are ISO-8601 UTC strings with millisecond
// precision; durations are milliseconds (floating point); costs are US dollars.

/** One trace in a search result, summarised by its root span. Newest first. */
export interface TraceSummary {
  traceId: string;
  /** Name of the root span (the earliest span without a parent in the trace; earliest span if none). */
  rootName: string;
  /** Service of the root span. */
  serviceName: string;
  startTime: string;
  /** From the earliest span start to the latest span end. */
  durationMs: number;
  spanCount: number;
  errorCount: number;
  /** Distinct agent types seen in the trace, sorted. */
  agentTypes: string[];
  /**
   * Tokens and cost summed over the trace's LLM spans (`gen_ai.operation.name` chat,
   * text_completion, generate_content or embeddings) in the range: figures of the stored (sampled)
   * traces only; exact totals come from usage records (GET /usage).
   */
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  /**
   * True while the trace's root has not arrived: no span without a parent, and some span's parent
   * missing although it is local (not remote). Spans are exported when they end, parents after their
   * children, so such a trace is still running (or its root was lost). `rootName` is then the
   * earliest span's name, not a root's. A root that started before the range (up to 24 h) is found
   * and named, with `startTime` and `durationMs` taken from it.
   */
  inProgress: boolean;
}

/** Answer of GET /api/v1/traces. */
export interface TraceSearchResponse {
  tenantId: string;
  traces: TraceSummary[];
  /** Pass as `cursor` to get the next (older) page; null when there is none. */
  nextCursor: string | null;
}

/**
 * The trace sampling in force over a range, read from the `troupe.sampling.ratio` attribute of the
 * root spans (no parent) started in it. A root span without the attribute counts as ratio 1.
 */
export interface SamplingInForce {
  /** The distinct ratios (0-1], ascending; [1] when no root span carries one (nothing was sampled out). */
  ratios: number[];
  /**
   * True when some ratio is below 1: span and trace counts then cover only the kept traces, while
   * LLM calls, tokens and cost (from usage records) stay exact.
   */
  sampled: boolean;
}

/** One span of a trace, metadata only. */
export interface TraceSpan {
  spanId: string;
  /** "" for a root span. */
  parentSpanId: string;
  /** Depth in the tree (0 for roots and for spans whose parent is not in the trace). */
  depth: number;
  name: string;
  /** OTLP SpanKind number (0 unspecified, 1 internal, 2 server, 3 client, 4 producer, 5 consumer). */
  kind: number;
  startTime: string;
  /** Nanoseconds since the epoch, as a decimal string (exact). */
  startTimeUnixNano: string;
  durationMs: number;
  /** OTLP status code: 0 unset, 1 ok, 2 error. */
  statusCode: number;
  serviceName: string;
  agentType: string;
  operation: string;
  model: string;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  /** `troupe.turn.outcome` or "". */
  outcome: string;
  /** Allow-listed span attributes, each with the type it was sent with (see AttributeValue). */
  attributes: Record<string, AttributeValue>;
  /** Keys of `attributes` whose value was cut to the length cap (a string now, whatever it was); absent when none. */
  truncatedAttributes?: string[];
  /** Allow-listed resource attributes, typed like `attributes`. */
  resourceAttributes: Record<string, AttributeValue>;
  /** Keys of `resourceAttributes` whose value was cut to the length cap; absent when none. */
  truncatedResourceAttributes?: string[];
  /** The instrumentation scope that emitted the span ("" for a name or version not sent). */
  scope: { name: string; version: string };
  /** The W3C tracestate of the span's context, as sent ("" for none). */
  traceState: string;
  /** OTLP span flags: W3C trace flags in bits 0-7 (bit 0: sampled), has-is-remote and is-remote in bits 8 and 9; 0 when not sent. */
  flags: number;
  /** The span's events in the order sent. */
  events: TraceSpanEvent[];
  /** The span's links in the order sent. */
  links: TraceSpanLink[];
}

/**
 * An attribute value with the OTLP type it was sent with: a string, a JSON boolean, a JSON number
 * (an int64 past 2^53 is its exact decimal string, as OTLP/JSON writes it; a NaN or infinite double
 * the string "NaN", "Infinity" or "-Infinity"), or an array of those. Bytes are base64 strings;
 * key-value lists and mixed arrays are their JSON text. Spans stored before types were kept
 * (schema version 7) answer every value as the string it was stored as.
 */
export type AttributeValue = string | number | boolean | (string | number | boolean)[];

/** A span event: when, what, and its allow-listed attributes (never a message or a stack trace). */
export interface TraceSpanEvent {
  time: string;
  /** Nanoseconds since the epoch, as a decimal string (exact). */
  timeUnixNano: string;
  name: string;
  attributes: Record<string, AttributeValue>;
  /** Keys of `attributes` cut to the length cap; absent when none. */
  truncatedAttributes?: string[];
}

/** A link from a span to a span of this trace or of another. */
export interface TraceSpanLink {
  traceId: string;
  spanId: string;
  /** The linked span context's W3C tracestate ("" for none). */
  traceState: string;
  /** The linked span context's OTLP flags (0 when not sent). */
  flags: number;
  attributes: Record<string, AttributeValue>;
  /** Keys of `attributes` cut to the length cap; absent when none. */
  truncatedAttributes?: string[];
  /**
   * True when the caller's tenant has spans of the linked trace (GET /traces/{traceId} answers it).
   * False when it does not: a trace of another tenant and a trace that does not exist answer alike.
   */
  sameTenant: boolean;
}

/**
 * Answer of GET /api/v1/traces/{traceId}: the span tree as a flat list in depth-first order (each
 * parent before its children, siblings by start time), so it renders directly as a waterfall.
 */
export interface TraceDetailResponse {
  tenantId: string;
  traceId: string;
  startTime: string;
  durationMs: number;
  spanCount: number;
  errorCount: number;
  /** The root has not arrived yet (the rule of `TraceSummary.inProgress`). */
  inProgress: boolean;
  /** LLM spans of the trace, and their tokens and cost (as in `TraceSummary`). */
  llmCalls: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  spans: TraceSpan[];
}

/**
 * One conversation: the spans of the range carrying its `gen_ai.conversation.id` (the runtime sets
 * it on the chat spans of an agent that keeps a ConversationMemory). Its traces are
 * `GET /api/v1/traces?attr=gen_ai.conversation.id=<id>`.
 */
export interface ConversationSummary {
  conversationId: string;
  /** Distinct traces with a span of the conversation. */
  traceCount: number;
  /** The first span's start and the last span's end. */
  firstTime: string;
  lastTime: string;
  /** Agent types of the conversation's spans, sorted. */
  agentTypes: string[];
  /** LLM spans of the conversation, their tokens and cost (sampled traces only, as in `TraceSummary`). */
  llmCalls: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  errorCount: number;
}

/** Answer of GET /api/v1/conversations: most recently active first. */
export interface ConversationsResponse {
  tenantId: string;
  from: string;
  to: string;
  conversations: ConversationSummary[];
  /** True when the range holds more conversations than `limit`. */
  truncated: boolean;
}

/**
 * Answer of GET /api/v1/sampling: the trace sampling in force over the range, for pages that show
 * span or trace counts (the trace list) and must say when those cover only the kept traces.
 */
export interface SamplingResponse {
  tenantId: string;
  from: string;
  to: string;
  sampling: SamplingInForce;
}
