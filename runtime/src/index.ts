// @troupe/runtime: the public API. Named exports only; interfaces as `export type`.
export { Runtime } from "./runtime.js";
export type { RuntimeOptions, PassivationOptions } from "./runtime.js";
export { TenantHandle } from "./tenant-handle.js";
export { AgentId, TopicId } from "./agents/ids.js";
export type { Agent, AgentContext, AgentFactory, AgentTypeModule, AgentTypeOptions, MessageContext, SendOptions } from "./agents/agent.js";
export { typeSubscription, prefixSubscription } from "./agents/subscription.js";
export type { Subscription } from "./agents/subscription.js";
export { DROP } from "./agents/interceptor.js";
export type { Interceptor, SendEnvelope, PublishEnvelope, DeliverEnvelope, Drop } from "./agents/interceptor.js";
export { parseTenantId, isTenantId, MAX_TENANT_ID_LENGTH } from "./tenancy/tenant-id.js";
export type { TenantId } from "./tenancy/tenant-id.js";
export { DEFAULT_TENANT_QUOTA } from "./tenancy/tenant-quota.js";
export type { TenantQuota, TenantSettings, TenantConfig, TierConfig, QuotaConfig, IsolationMode } from "./tenancy/tenant-quota.js";
export type { TenantMetrics } from "./tenancy/tenant-metrics.js";
export {
  TroupeError,
  InvalidArgumentError,
  UnknownAgentTypeError,
  CrossTenantError,
  QueueFullError,
  RateLimitedError,
  TimeoutError,
  AbortedError,
  HandlerError,
  LoopDetectedError,
  RuntimeStoppedError,
  MessageDroppedError,
  WorkerCrashedError,
  BudgetExceededError,
  LlmProviderError,
  ToolError,
  StateIntegrityError,
} from "./errors.js";
export {
  ATTR,
  TURN_OUTCOMES,
  SPAN_ATTRIBUTE_ALLOW_LIST,
  RESOURCE_ATTRIBUTE_ALLOW_LIST,
  EVENT_ATTRIBUTE_ALLOW_LIST,
  MAX_ATTRIBUTE_VALUE_LENGTH,
  TENANT_BAGGAGE_KEY,
} from "./tracing/attributes.js";
export type { TurnOutcome } from "./tracing/attributes.js";
export { TRACER_NAME } from "./tracing/runtime-tracing.js";
export { AllowListSpanProcessor } from "./tracing/allow-list-processor.js";
export type { AllowListDropCounts } from "./tracing/allow-list-processor.js";
export { injectContext, extractContext } from "./tracing/propagation.js";
export type { Carrier, ExtractedContext } from "./tracing/propagation.js";
export type { AgentStateStore } from "./state/agent-state-store.js";
export type { TurnHost, HostedTurn, HostedOutbound } from "./isolation/turn-host.js";
export { WorkerThreadTurnHost } from "./isolation/worker-thread-turn-host.js";
export type { WorkerThreadTurnHostOptions, WorkerPoolMetrics } from "./isolation/worker-thread-turn-host.js";
export type { AgentModuleSpec, HostedAgent, HostedAgentInit, HostedAgentFactory, HostedTurnContext } from "./isolation/hosted-agent.js";
