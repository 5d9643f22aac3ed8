/**
 * The telemetry contract: attribute names Troupe emits, and the allow-list that both the runtime's
 * span processor and the collector's filter enforce. Anything not listed is metadata we did not
 * promise to keep, or content; it is dropped. There is deliberately no entry for prompts,
 * completions, message bodies, tool arguments or tool results.
 */
export const ATTR = {
  // Troupe's own namespace.
  tenantId: "troupe.tenant.id",
  tier: "troupe.tenant.tier",
  agentType: "troupe.agent.type",
  agentKey: "troupe.agent.key",
  hopCount: "troupe.message.hop_count",
  deliveryId: "troupe.message.delivery_id",
  /** One of TURN_OUTCOMES. */
  outcome: "troupe.turn.outcome",
  queueWaitMs: "troupe.queue.wait_ms",
  handlerWallMs: "troupe.handler.wall_ms",
  handlerBlockedMs: "troupe.handler.blocked_ms",
  /** On the process span of a turn that ran in the runtime's worker TurnHost: "worker" (absent: the main event loop). */
  turnIsolation: "troupe.turn.isolation",
  llmCostUsd: "troupe.llm.cost_usd",
  llmRetryCount: "troupe.llm.retry_count",
  llmSimulated: "troupe.llm.simulated",
  budgetRemainingTokens: "troupe.budget.remaining_tokens",
  /** On the local root span of an exported trace: the sampling ratio of its tenant when the trace started here (a number 0..1). */
  samplingRatio: "troupe.sampling.ratio",
  /** On the local root span of an exported trace: why it was kept, one of SAMPLING_KEPT_BY. */
  samplingKeptBy: "troupe.sampling.kept_by",
  // OpenTelemetry semantic conventions: messaging.
  messagingSystem: "messaging.system",
  messagingOperationType: "messaging.operation.type",
  messagingOperationName: "messaging.operation.name",
  messagingDestination: "messaging.destination.name",
  messagingMessageId: "messaging.message.id",
  // OpenTelemetry semantic conventions: GenAI.
  genAiOperation: "gen_ai.operation.name",
  genAiProvider: "gen_ai.provider.name",
  genAiRequestModel: "gen_ai.request.model",
  genAiResponseModel: "gen_ai.response.model",
  genAiResponseId: "gen_ai.response.id",
  genAiInputTokens: "gen_ai.usage.input_tokens",
  genAiOutputTokens: "gen_ai.usage.output_tokens",
  genAiFinishReasons: "gen_ai.response.finish_reasons",
  genAiAgentName: "gen_ai.agent.name",
  genAiAgentId: "gen_ai.agent.id",
  genAiToolName: "gen_ai.tool.name",
  genAiToolCallId: "gen_ai.tool.call.id",
  genAiToolType: "gen_ai.tool.type",
  genAiRequestMaxTokens: "gen_ai.request.max_tokens",
  genAiRequestStream: "gen_ai.request.stream",
  /** On the chat spans of an agent that keeps a ConversationMemory: the memory's conversation id (the console groups traces by it). */
  genAiConversationId: "gen_ai.conversation.id",
  // General.
  errorType: "error.type",
  serverAddress: "server.address",
  serverPort: "server.port",
  httpStatusCode: "http.response.status_code",
} as const;

/** Values of `troupe.turn.outcome`. */
export const TURN_OUTCOMES = ["ok", "error", "timeout", "quota_rejected", "budget_rejected", "rate_limited", "loop_dropped", "dropped"] as const;
/** One of TURN_OUTCOMES. */
export type TurnOutcome = (typeof TURN_OUTCOMES)[number];

/**
 * Values of `troupe.sampling.kept_by`: `ratio` (the tenant's head-sampling ratio picked it), `parent`
 * (the caller in another process sampled it), or the keep rule that kept it whatever the ratio — a
 * budget rejection, a rate-limit rejection, a timeout, an error, or a span slower than the threshold.
 */
export const SAMPLING_KEPT_BY = ["ratio", "parent", "budget_rejected", "rate_limited", "timeout", "error", "slow"] as const;
/** One of SAMPLING_KEPT_BY. */
export type SamplingKeptBy = (typeof SAMPLING_KEPT_BY)[number];

/** Span attribute names allowed past the runtime's processor and the collector's filter. */
export const SPAN_ATTRIBUTE_ALLOW_LIST: ReadonlySet<string> = new Set<string>(Object.values(ATTR));

/** Resource attribute names allowed (who emitted the span, never what it carried). */
export const RESOURCE_ATTRIBUTE_ALLOW_LIST: ReadonlySet<string> = new Set<string>([
  "service.name",
  "service.namespace",
  "service.version",
  "service.instance.id",
  "deployment.environment",
  "deployment.environment.name",
  "host.name",
  "host.arch",
  "os.type",
  "process.pid",
  "process.runtime.name",
  "process.runtime.version",
  "telemetry.sdk.name",
  "telemetry.sdk.language",
  "telemetry.sdk.version",
  ATTR.tenantId,
]);

/**
 * Span event attributes allowed: exception events keep only the type, never the message or the stack;
 * GenAI events (e.g. `gen_ai.client.inference.operation.details`) keep their metadata — operation,
 * provider, models, response id, finish reasons, token counts — never the messages, instructions or
 * tool arguments they may carry.
 */
export const EVENT_ATTRIBUTE_ALLOW_LIST: ReadonlySet<string> = new Set<string>([
  "exception.type",
  ATTR.errorType,
  ATTR.genAiOperation,
  ATTR.genAiProvider,
  ATTR.genAiRequestModel,
  ATTR.genAiResponseModel,
  ATTR.genAiResponseId,
  ATTR.genAiFinishReasons,
  ATTR.genAiInputTokens,
  ATTR.genAiOutputTokens,
]);

/** The longest string attribute value kept; longer values are truncated to this many characters. */
export const MAX_ATTRIBUTE_VALUE_LENGTH = 256;

/** The baggage entry that carries the tenant across process boundaries. */
export const TENANT_BAGGAGE_KEY = ATTR.tenantId;
