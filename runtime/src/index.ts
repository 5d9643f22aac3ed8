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
} from "./tracing/attributes.js";
export type { TurnOutcome, SamplingKeptBy } from "./tracing/attributes.js";
export { METRIC, METRIC_ATTR, QUOTA_KINDS, GEN_AI_TOKEN_USAGE_BUCKETS, GEN_AI_OPERATION_DURATION_BUCKETS, TURN_DURATION_BUCKETS } from "./metrics/metric-names.js";
export type { QuotaKind } from "./metrics/metric-names.js";
export { METER_NAME } from "./metrics/runtime-metrics.js";
export { USAGE_EVENT_NAME, USAGE_OUTCOMES, USAGE_ATTR, usageRecordSchema, checkUsageRecord } from "./usage/usage-record.js";
export type { UsageRecord, UsageOutcome } from "./usage/usage-record.js";
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
} from "./control/control-wire.js";
export type {
  TenantTier,
  ManagedQuotas,
  ManagedBudgets,
  ManagedRateLimits,
  ManagedTenantSettings,
  ControlSettingsResponse,
  TenantUsageSoFar,
  ControlUsageResponse,
} from "./control/control-wire.js";
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

// --- LLM clients, tools, encrypted agent state, conversation memory (issue 3) ---
export { LlmClients } from "./llm/llm-clients.js";
export type { LlmClientsOptions, LlmConfigSource } from "./llm/llm-clients.js";
export { TenantLlm } from "./llm/tenant-llm.js";
export type { ChatParams, ChatStreamParams, LlmCallOptions } from "./llm/tenant-llm.js";
export { ChatStream } from "./llm/chat-stream.js";
export type { ChatStreamSummary } from "./llm/chat-stream.js";
export { TenantLlmConfigSchema, parseTenantLlmConfig } from "./llm/tenant-llm-config.js";
export type { TenantLlmConfig, TenantLlmConfigInput } from "./llm/tenant-llm-config.js";
export { InMemoryBudgetLedger } from "./llm/in-memory-budget-ledger.js";
export { PostgresBudgetLedger } from "./llm/postgres-budget-ledger.js";
export type { PostgresBudgetLedgerOptions } from "./llm/postgres-budget-ledger.js";
export { budgetWindows } from "./llm/budget-ledger.js";
export type { BudgetLedger, BudgetLimits, BudgetAmount, BudgetUsage, BudgetReservation, BudgetBaseline } from "./llm/budget-ledger.js";
export type { ManagedLlmLimits } from "./llm/managed-llm-limits.js";
export { ModelPriceTable, DEFAULT_MODEL_PRICES, FALLBACK_MODEL_PRICE } from "./llm/model-prices.js";
export type { ModelPrice } from "./llm/model-prices.js";
export { LlmMetrics } from "./llm/llm-metrics.js";
export type { TenantLlmCounters, LlmCounterName } from "./llm/llm-metrics.js";
export { DEFAULT_RETRY_POLICY } from "./llm/retry-policy.js";
export type { RetryPolicy } from "./llm/retry-policy.js";
export { estimateMessageTokens, estimateMessagesTokens, estimateTextTokens } from "./llm/token-estimator.js";
export type { TokenEstimator } from "./llm/token-estimator.js";
export { startMockOpenAiServer, echoBehaviour, sequenceBehaviour } from "./llm/testing/mock-openai-server.js";
export type { MockOpenAiServer, MockOpenAiServerOptions, MockBehaviour, MockReply, MockChatRequest, MockToolCall } from "./llm/testing/mock-openai-server.js";
export { ToolRegistry } from "./tools/tool-registry.js";
export type { ToolRegistryOptions, ToolRateLimit } from "./tools/tool-registry.js";
export { AgentTools } from "./tools/agent-tools.js";
export type { ToolRegistration, ToolInstance, ToolScope, ToolCallContext } from "./tools/tool-registration.js";
export { runToolLoop } from "./tools/tool-loop.js";
export type { ToolLoopOptions, ToolLoopResult } from "./tools/tool-loop.js";
export { EncryptedStateStore } from "./state/encrypted-state-store.js";
export type { EncryptedStateStoreOptions } from "./state/encrypted-state-store.js";
export type { BlobStore } from "./state/blob-store.js";
export { FileBlobStore } from "./state/file-blob-store.js";
export { PostgresBlobStore } from "./state/postgres-blob-store.js";
export type { PostgresBlobStoreOptions } from "./state/postgres-blob-store.js";
export { MasterKeyring, parseMasterKey } from "./state/master-keyring.js";
export type { MasterKey, MasterKeyInput } from "./state/master-keyring.js";
export { ConversationMemory } from "./memory/conversation-memory.js";
export type { ConversationMemoryOptions, ConversationMemorySnapshot, Summarizer } from "./memory/conversation-memory.js";

// --- Distributed runtime over NATS JetStream (issue 8) ---
export { DistributedRuntime, deleteDistributedNamespace, openLeaseBucket } from "./distributed/distributed-runtime.js";
export type { DistributedRuntimeOptions, DistributedStats } from "./distributed/distributed-runtime.js";
export { KvBudgetLedger, budgetBucketName } from "./distributed/kv-budget-ledger.js";
export type { KvBudgetLedgerOptions } from "./distributed/kv-budget-ledger.js";
export { tenantPermissions, tenantToken, partitionOf } from "./distributed/subjects.js";
export type { NatsPermissions } from "./distributed/subjects.js";
export { readLeases, rendezvousOwner, placePartitions } from "./distributed/partition-leases.js";
export { inspectCluster } from "./distributed/cluster-status.js";
export type { ClusterStatus, PartitionStatus } from "./distributed/cluster-status.js";
export { KvRateLimiter, rateBucketName } from "./distributed/kv-rate-limiter.js";
export type { RateLimit, KvRateLimiterOptions, KvRateLimiterStats } from "./distributed/kv-rate-limiter.js";
