// @troupe/runtime: the core API (runtime, agents, tenancy, errors, telemetry names, control plane,
// isolation). Named exports only; interfaces as `export type`.
export { Runtime } from "./runtime.js";
export type { RuntimeOptions, PassivationOptions } from "./runtime.js";
export { TenantHandle } from "./tenant-handle.js";
export { AgentId, TopicId } from "./agents/ids.js";
export type { Agent, AgentContext, AgentFactory, AgentTypeModule, AgentTypeOptions, MessageContext, SendOptions } from "./agents/agent.js";
export { typeSubscription, prefixSubscription } from "./agents/subscription.js";
export type { Subscription } from "./agents/subscription.js";
export { DROP } from "./agents/interceptor.js";
export type { Interceptor, SendEnvelope, PublishEnvelope, DeliverEnvelope, Drop } from "./agents/interceptor.js";
export { parseTenantId } from "./tenancy/parse-tenant-id.js";
export { isTenantId, MAX_TENANT_ID_LENGTH } from "@troupe/contract";
export type { TenantId } from "@troupe/contract";
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
  WorkerTierFullError,
  BudgetExceededError,
  BudgetLedgerUnavailableError,
  LlmProviderError,
  ToolError,
  StateIntegrityError,
  PoisonMessageError,
  ControlPlaneError,
} from "./errors.js";
export type { ControlPlaneFailure } from "./errors.js";
export {
  ATTR,
  TURN_OUTCOMES,
  SPAN_ATTRIBUTE_ALLOW_LIST,
  RESOURCE_ATTRIBUTE_ALLOW_LIST,
  EVENT_ATTRIBUTE_ALLOW_LIST,
  MAX_ATTRIBUTE_VALUE_LENGTH,
  TENANT_BAGGAGE_KEY,
  SAMPLING_KEPT_BY,
} from "@troupe/contract";
export type { TurnOutcome, SamplingKeptBy } from "@troupe/contract";
export { METRIC, METRIC_ATTR, QUOTA_KINDS, GEN_AI_TOKEN_USAGE_BUCKETS, GEN_AI_OPERATION_DURATION_BUCKETS, TURN_DURATION_BUCKETS } from "./metrics/metric-names.js";
export type { QuotaKind } from "./metrics/metric-names.js";
export { METER_NAME } from "./metrics/runtime-metrics.js";
export { USAGE_EVENT_NAME, USAGE_OUTCOMES, USAGE_ATTR, usageRecordSchema, checkUsageRecord } from "@troupe/contract";
export type { UsageRecord, UsageOutcome } from "@troupe/contract";
export type { UsageRecorder } from "./usage/usage-recorder.js";
export {
  CONTROL_PATHS,
  CONTROL_HEADERS,
  MAX_SETTINGS_WAIT_S,
  TENANT_TIERS,
  managedQuotasSchema,
  managedBudgetsSchema,
  managedRateLimitsSchema,
  samplingRatioSchema,
  managedTenantSettingsSchema,
  controlSettingsResponseSchema,
  controlUsageResponseSchema,
  UNSET_QUOTAS,
  UNSET_BUDGETS,
  UNSET_RATE_LIMITS,
} from "@troupe/contract";
export type {
  TenantTier,
  ManagedQuotas,
  ManagedBudgets,
  ManagedRateLimits,
  ManagedTenantSettings,
  ControlSettingsResponse,
  TenantUsageSoFar,
  ControlUsageResponse,
} from "@troupe/contract";
export { followControlPlane } from "./control/follow-control-plane.js";
export type { ControlPlaneFollower } from "./control/follow-control-plane.js";
export type { FollowControlPlaneOptions } from "./control/follow-control-plane-options.js";
export { CONTROL_METRICS } from "./control/control-status.js";
export type { ControlPlaneStatus, ControlPlaneState } from "./control/control-status.js";
export type { ManagedTenantConfig, TierPlacement } from "./control/managed-tenant-config.js";
export type { ManagedSettingsTarget, ManagedLimitsTarget, ManagedSamplingTarget } from "./control/apply-managed-settings.js";
export { OtlpUsageRecorder, USAGE_LOGGER_NAME } from "./usage/otlp-usage-recorder.js";
export type { OtlpUsageRecorderOptions } from "./usage/otlp-usage-recorder.js";
export { TRACER_NAME } from "./tracing/runtime-tracing.js";
export { AllowListSpanProcessor } from "./tracing/allow-list-processor.js";
export type { AllowListDropCounts } from "./tracing/allow-list-processor.js";
export { injectContext, extractContext } from "./tracing/propagation.js";
export type { Carrier, ExtractedContext } from "./tracing/propagation.js";
export type { AgentStateStore } from "./state/agent-state-store.js";
export type { TurnHost, HostedTurn, HostedOutbound } from "./isolation/turn-host.js";
export { WorkerThreadTurnHost } from "./isolation/worker-thread-turn-host.js";
export type { WorkerThreadTurnHostOptions, WorkerPoolMetrics } from "./isolation/worker-thread-turn-host.js";
export type { TenantWorkerMetrics } from "./isolation/tenant-workers.js";
export type { WorkerCrashEvent, WorkerSlotMetrics } from "./isolation/worker-slot.js";
export type { AgentModuleSpec, HostedAgent, HostedAgentInit, HostedAgentFactory, HostedTurnContext } from "./isolation/hosted-agent.js";

// The purpose-specific entry points are the documented homes of what follows:
// @troupe/runtime/llm, /state and /distributed (and /testing for the mock OpenAI server, which the
// root no longer exports). The root re-exports their user-facing names so that existing imports keep
// working; placement internals are only in /distributed.

// LLM clients, budgets, prices and tools (@troupe/runtime/llm).
export {
  LlmClients,
  TenantLlm,
  ChatStream,
  TenantLlmConfigSchema,
  parseTenantLlmConfig,
  InMemoryBudgetLedger,
  PostgresBudgetLedger,
  budgetWindows,
  ModelPriceTable,
  DEFAULT_MODEL_PRICES,
  FALLBACK_MODEL_PRICE,
  LlmMetrics,
  DEFAULT_RETRY_POLICY,
  estimateMessageTokens,
  estimateMessagesTokens,
  estimateTextTokens,
  ToolRegistry,
  AgentTools,
  runToolLoop,
} from "./llm/index.js";
export type {
  LlmClientsOptions,
  LlmConfigSource,
  ChatParams,
  ChatStreamParams,
  LlmCallOptions,
  ChatStreamSummary,
  TenantLlmConfig,
  TenantLlmConfigInput,
  PostgresBudgetLedgerOptions,
  BudgetLedger,
  BudgetLimits,
  BudgetAmount,
  BudgetUsage,
  BudgetReservation,
  BudgetBaseline,
  ManagedLlmLimits,
  ModelPrice,
  TenantLlmCounters,
  LlmCounterName,
  RetryPolicy,
  TokenEstimator,
  ToolRegistryOptions,
  ToolRateLimit,
  ToolRegistration,
  ToolInstance,
  ToolScope,
  ToolCallContext,
  ToolLoopOptions,
  ToolLoopResult,
} from "./llm/index.js";

// Encrypted agent state, blob stores, keyring, conversation memory (@troupe/runtime/state).
export { EncryptedStateStore, FileBlobStore, PostgresBlobStore, MasterKeyring, parseMasterKey, ConversationMemory } from "./state/index.js";
export type {
  EncryptedStateStoreOptions,
  BlobStore,
  PostgresBlobStoreOptions,
  MasterKey,
  MasterKeyInput,
  ConversationMemoryOptions,
  ConversationMemorySnapshot,
  Summarizer,
} from "./state/index.js";

// The distributed runtime over NATS JetStream (@troupe/runtime/distributed).
export { DistributedRuntime, deleteDistributedNamespace, KvBudgetLedger, KvRateLimiter, tenantPermissions, tenantToken, inspectCluster } from "./distributed/index.js";
export type {
  DistributedRuntimeOptions,
  DistributedStats,
  KvBudgetLedgerOptions,
  RateLimit,
  KvRateLimiterOptions,
  KvRateLimiterStats,
  NatsPermissions,
  ClusterStatus,
  PartitionStatus,
} from "./distributed/index.js";
