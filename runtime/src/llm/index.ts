// @troupe/runtime/llm: LLM calls per tenant — clients, budgets and their ledgers, prices, retries,
// token estimates — and the tools a model may call. Tools live here because they exist for the
// model: AgentTools.definitions() is the OpenAI `tools` format and runToolLoop drives a TenantLlm,
// so an application wiring an LLM agent imports both from one place.

/** Per-tenant `openai` clients: each tenant's key, base URL, budgets and rate limits, usage on every call. */
export { LlmClients } from "./llm-clients.js";
export type { LlmClientsOptions, LlmConfigSource } from "./llm-clients.js";
export { TenantLlm } from "./tenant-llm.js";
export type { ChatParams, ChatStreamParams, LlmCallOptions } from "./tenant-llm.js";
export { ChatStream } from "./chat-stream.js";
export type { ChatStreamSummary } from "./chat-stream.js";
export { TenantLlmConfigSchema, parseTenantLlmConfig } from "./tenant-llm-config.js";
export type { TenantLlmConfig, TenantLlmConfigInput } from "./tenant-llm-config.js";
export type { ManagedLlmLimits } from "./managed-llm-limits.js";

/** Token budgets, enforced before each call against a ledger: in memory (one process) or PostgreSQL (durable, shared). */
export { InMemoryBudgetLedger } from "./in-memory-budget-ledger.js";
export { PostgresBudgetLedger } from "./postgres-budget-ledger.js";
export type { PostgresBudgetLedgerOptions } from "./postgres-budget-ledger.js";
export { budgetWindows } from "./budget-ledger.js";
export type { BudgetLedger, BudgetLimits, BudgetAmount, BudgetUsage, BudgetReservation, BudgetBaseline } from "./budget-ledger.js";

/** Prices, metrics, retries and token estimates of LLM calls. */
export { ModelPriceTable, DEFAULT_MODEL_PRICES, FALLBACK_MODEL_PRICE } from "./model-prices.js";
export type { ModelPrice } from "./model-prices.js";
export { LlmMetrics } from "./llm-metrics.js";
export type { TenantLlmCounters, LlmCounterName } from "./llm-metrics.js";
export { DEFAULT_RETRY_POLICY } from "./retry-policy.js";
export type { RetryPolicy } from "./retry-policy.js";
export { estimateMessageTokens, estimateMessagesTokens, estimateTextTokens } from "./token-estimator.js";
export type { TokenEstimator } from "./token-estimator.js";

/** Tools registered as factories and built per (tenant, agent); the loop that lets a model call them. */
export { ToolRegistry } from "../tools/tool-registry.js";
export type { ToolRegistryOptions, ToolRateLimit } from "../tools/tool-registry.js";
export { AgentTools } from "../tools/agent-tools.js";
export type { ToolRegistration, ToolInstance, ToolScope, ToolCallContext } from "../tools/tool-registration.js";
export { runToolLoop } from "../tools/tool-loop.js";
export type { ToolLoopOptions, ToolLoopResult } from "../tools/tool-loop.js";
