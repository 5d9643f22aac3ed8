/**
 * Request and response types of the collector's query and admin API (mounted under /api/v1). Shared
 * by the server (collector/src/query) and its clients (the console, the CLI). Types only: importing
 * this file pulls in no runtime code.
 *
 * Conventions:
 * - Times in responses are ISO-8601 strings in UTC with millisecond precision ("2025-01-02T03:04:05.678Z").
 *   Time parameters (`from`, `to`) accept ISO-8601 or epoch milliseconds. `from` is inclusive, `to`
 *   exclusive. Defaults: `to` = now, `from` = `to` - 1 hour (traces, agents, overview, sampling) or - 24 hours (usage).
 * - Durations are milliseconds (floating point) unless the name says otherwise.
 * - Costs are US dollars (floating point); token counts are integers.
 * - Console keys see only their own tenant. Admin keys may pass `tenant=<id>` to the tenant-scoped
 *   endpoints (required for traces/agents/usage/overview/sampling with an admin key).
 * - Every error is `ApiErrorBody` with the HTTP status of its code.
 */

/** The JSON body of every error answer. `code` is stable; `message` names the problem (e.g. the bad parameter). */
import type { ManagedBudgets, ManagedQuotas, ManagedRateLimits, TenantTier } from "@troupe/runtime";
export interface ApiErrorBody {
  error: { code: ApiErrorCode; message: string };
}

/** Stable error codes (a subset of the collector's CollectorErrorCode that the query API uses). */
export type ApiErrorCode =
  | "bad_request"
  | "unauthenticated"
  | "forbidden"
  | "not_found"
  | "conflict"
  | "store_unavailable"
  | "internal";

// ---------------------------------------------------------------------------------------------
// Traces

/** Query parameters of GET /api/v1/traces (all optional). */
export interface TraceSearchParams {
  /** Admin keys only: the tenant to read. */
  tenant?: string;
  from?: string;
  to?: string;
  /** Traces containing at least one span of this agent type (`troupe.agent.type`). */
  agentType?: string;
  /** Traces containing at least one span with this `gen_ai.operation.name` / `messaging.operation.name`. */
  operation?: string;
  /** "error": traces with at least one error span; "ok": traces with none. */
  status?: "ok" | "error";
  /** Traces containing at least one span of this model (response model, else request model). */
  model?: string;
  /**
   * `key=value`: traces containing at least one span whose attribute `key` has exactly this text
   * (numbers and booleans as written: `gen_ai.request.max_tokens=400`, `troupe.llm.simulated=true`).
   * The key must be an allow-listed span attribute (another is a 400 naming it). The parameter may be
   * repeated (at most 5, all must match); this client sends one.
   */
  attr?: string;
  /** Trace duration (first span start to last span end) at least this many ms. */
  minDurationMs?: number;
  /** Trace duration at most this many ms (not below `minDurationMs`). */
  maxDurationMs?: number;
  /** Case-insensitive substring of any span name in the trace (matched literally, no wildcards). */
  q?: string;
  /** Page size, 1-500, default 50. */
  limit?: number;
  /** Opaque cursor from a previous page's `nextCursor`. */
  cursor?: string;
}

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

// ---------------------------------------------------------------------------------------------
// Conversations

/** Query parameters of GET /api/v1/conversations. */
export interface ConversationsParams {
  tenant?: string;
  from?: string;
  to?: string;
  /** Only this conversation (its figures over the range). */
  id?: string;
  /** Most conversations answered, 1-500, default 100. */
  limit?: number;
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

// ---------------------------------------------------------------------------------------------
// Agents

/** Query parameters of GET /api/v1/agents. */
export interface AgentsParams {
  tenant?: string;
  from?: string;
  to?: string;
  format?: "json" | "csv";
}

/**
 * Per agent type over the range. Turn figures come from spans: a turn is a span carrying
 * `troupe.turn.outcome`, latencies are of those spans' durations, and under trace sampling they
 * cover the kept traces only. LLM figures (`llmCalls`, tokens, cost, `budgetRejections`,
 * `llmRateLimited`) come from usage records and are exact whatever the sampling.
 */
export interface AgentSummary {
  agentType: string;
  turns: number;
  errors: number;
  timeouts: number;
  quotaRejections: number;
  /** LLM call attempts of this agent type refused by the tenant's budget (usage records). */
  budgetRejections: number;
  /** Messages to this agent type refused by the tenant's message rate limit (turns). */
  rateLimited: number;
  /** Every LLM call attempt of this agent type, refused ones included (usage records). */
  llmCalls: number;
  /** LLM call attempts refused by the tenant's LLM rate limit (usage records). */
  llmRateLimited: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  queueWaitAvgMs: number;
  queueWaitP95Ms: number;
  /** Sum of `troupe.handler.wall_ms` over the turns. */
  handlerWallMsTotal: number;
}

/** Answer of GET /api/v1/agents (sorted by turns, descending). */
export interface AgentsResponse {
  tenantId: string;
  from: string;
  to: string;
  agents: AgentSummary[];
}

// ---------------------------------------------------------------------------------------------
// Usage

/** How usage rows are grouped. */
export type UsageGroupBy = "hour" | "day" | "model" | "agent";

/** Query parameters of GET /api/v1/usage. */
export interface UsageParams {
  tenant?: string;
  from?: string;
  to?: string;
  /** Default "day". */
  groupBy?: UsageGroupBy;
  /**
   * Default "json". CSV columns: group, calls, inputTokens, outputTokens, costUsd, errors,
   * budgetRejections, rateLimited, timeouts, cachedInputTokens, reasoningTokens.
   */
  format?: "json" | "csv";
}

/**
 * Usage figures, summed from usage records: one record per LLM call attempt, exported whatever the
 * trace sampling, so the figures are exact even when traces are sampled. Exact under retries too: a
 * record re-sent in any batch counts once. LLM calls stored as spans before usage records existed
 * were carried over into records, so earlier periods read the same.
 */
export interface UsageFigures {
  /**
   * Every LLM call attempt, whatever its outcome: calls = succeeded + errors + timeouts +
   * rateLimited + budgetRejections. Attempts refused before reaching the provider count here too.
   */
  calls: number;
  /** What the attempts were charged: the provider's counts, or the estimate when it reported none. */
  inputTokens: number;
  outputTokens: number;
  /** The part of inputTokens read from the provider's prompt cache (0 when not reported). */
  cachedInputTokens: number;
  /** The part of outputTokens spent on reasoning (0 when not reported). */
  reasoningTokens: number;
  costUsd: number;
  /** Attempts that failed at the provider or on the way (outcome "error"). */
  errors: number;
  /** Attempts that ran out of time (outcome "timeout"). */
  timeouts: number;
  /** Attempts refused by the tenant's LLM rate limit (outcome "rate_limited"). */
  rateLimited: number;
  /** Attempts refused by the tenant's token or cost budget before reaching the provider (outcome "budget_rejected"). */
  budgetRejections: number;
}

/** One group of a usage report. */
export interface UsageRow extends UsageFigures {
  /** The hour or day start (ISO), the requested model, or the agent type ("" when the call named none). */
  group: string;
}

/** Answer of GET /api/v1/usage (JSON). Rows sorted by group ascending (time), or by cost descending. */
export interface UsageResponse {
  tenantId: string;
  from: string;
  to: string;
  groupBy: UsageGroupBy;
  rows: UsageRow[];
  totals: UsageFigures;
}

// ---------------------------------------------------------------------------------------------
// Overview (console home page)

/** Query parameters of GET /api/v1/overview. */
export interface OverviewParams {
  tenant?: string;
  from?: string;
  to?: string;
}

/**
 * One time bucket of the overview series. `spans` and `errors` count stored spans (only the kept
 * traces when sampled); `llmCalls`, tokens and cost come from usage records (exact).
 */
export interface OverviewPoint {
  /** Bucket start (ISO). */
  time: string;
  spans: number;
  /** Spans with error status. */
  errors: number;
  /** Every LLM call attempt, budget-rejected and rate-limited ones included. */
  llmCalls: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
}

/** An agent type ranked in the overview: turns and latency from spans, cost from usage records. */
export interface OverviewTopAgent {
  agentType: string;
  turns: number;
  errors: number;
  p95Ms: number;
  costUsd: number;
}

/**
 * Answer of GET /api/v1/overview. Buckets are one minute, widened (to a whole number of minutes)
 * so that a range yields at most 1440 points; empty buckets are omitted.
 */
export interface OverviewResponse {
  tenantId: string;
  from: string;
  to: string;
  stepSeconds: number;
  series: OverviewPoint[];
  /**
   * Sums over the range. `spans`, `errors` and `traces` count what was stored (the kept traces when
   * `sampling.sampled`); the LLM figures come from usage records and are exact. `llmCalls` counts
   * every attempt; `budgetRejections` and `rateLimited` are the attempts among them that were refused.
   */
  totals: {
    spans: number;
    errors: number;
    llmCalls: number;
    inputTokens: number;
    outputTokens: number;
    costUsd: number;
    traces: number;
    budgetRejections: number;
    rateLimited: number;
  };
  /** Up to 10 agent types by turns. */
  topAgents: OverviewTopAgent[];
  /** Trace sampling in force over the range. */
  sampling: SamplingInForce;
}

// ---------------------------------------------------------------------------------------------
// Sampling

/** Query parameters of GET /api/v1/sampling. Default range: the last hour. */
export interface SamplingParams {
  tenant?: string;
  from?: string;
  to?: string;
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

// ---------------------------------------------------------------------------------------------
// Admin: tenants, keys

export type { ControlSettingsResponse, ControlUsageResponse, ManagedBudgets, ManagedQuotas, ManagedRateLimits, ManagedTenantSettings, TenantTier, TenantUsageSoFar } from "@troupe/runtime";

/** Token and cost budgets; null: none set here (a runtime's own code budget applies, if any; else unlimited). */
export type TenantBudgets = ManagedBudgets;

/** When a tenant's operator hears about its budgets: warnings at these fractions of any budget (default 0.8 and 0.95), and the first refusal of a window. */
export interface TenantAlertSettings {
  /** 1-5 distinct fractions in (0, 1], ascending. */
  thresholds: number[];
}

/** A tenant as stored: the one source of the settings its runtimes follow. */
export interface TenantRecord {
  id: string;
  name: string;
  tier: TenantTier;
  /** Spans and usage records older than this are deleted. */
  retentionDays: number;
  budgets: TenantBudgets;
  /** Runtime quotas; a null field leaves the runtime's code option in force. */
  quotas: ManagedQuotas;
  /** LLM rate limits; a null field leaves the runtime's code option in force. */
  rateLimits: ManagedRateLimits;
  /** Head-sampling ratio of new traces; null leaves the runtime's own. */
  samplingRatio: number | null;
  alerts: TenantAlertSettings;
  /** Increases on every change; runtimes report the version they applied. */
  settingsVersion: number;
  createdAt: string;
  updatedAt: string;
}

/** Kinds of keys the admin API issues for a tenant. */
export type TenantKeyKind = "ingest" | "console";

/** A key as listed: never its secret. */
export interface ApiKeyInfo {
  keyId: string;
  kind: "ingest" | "console" | "service";
  /** "" for a service key. */
  tenantId: string;
  /** Service keys only. */
  allowedTenants: string[];
  createdAt: string;
  /** null while active. */
  revokedAt: string | null;
}

/** A freshly issued key. `secret` is shown this once and never stored or shown again. */
export interface IssuedKey {
  keyId: string;
  kind: "ingest" | "console" | "service";
  tenantId: string;
  allowedTenants: string[];
  /** `trp_<kind>_<base62>`: send as `Authorization: Bearer <secret>`. */
  secret: string;
  createdAt: string;
}

/** Body of POST /api/v1/admin/tenants. */
export interface CreateTenantRequest {
  /** Tenant id: lowercase letters, digits, "_" and "-", 1-63 characters, starting with a letter or digit. */
  id: string;
  /** Display name; defaults to the id. */
  name?: string;
  /** Default "shared". */
  tier?: TenantTier;
  /** Default 30, range 1-3650. */
  retentionDays?: number;
  budgets?: Partial<TenantBudgets>;
  quotas?: Partial<ManagedQuotas>;
  rateLimits?: Partial<ManagedRateLimits>;
  samplingRatio?: number | null;
  alerts?: TenantAlertSettings;
  /** Keys to issue with the tenant; default ["ingest", "console"]. */
  keys?: TenantKeyKind[];
}

/** Answer of POST /api/v1/admin/tenants (201). 409 when the id exists. */
export interface CreateTenantResponse {
  tenant: TenantRecord;
  keys: IssuedKey[];
}

/** Body of PUT /api/v1/admin/tenants/{id}: every field optional; budgets, quotas and rate limits merge field by field (null clears one). */
export interface UpdateTenantRequest {
  name?: string;
  tier?: TenantTier;
  retentionDays?: number;
  budgets?: Partial<TenantBudgets>;
  quotas?: Partial<ManagedQuotas>;
  rateLimits?: Partial<ManagedRateLimits>;
  samplingRatio?: number | null;
  alerts?: TenantAlertSettings;
}

/** Body of POST /api/v1/admin/tenants/{id}/keys. */
export interface IssueKeyRequest {
  kind: TenantKeyKind;
  /** When true, every active key of this kind of this tenant is revoked once the new one exists. */
  rotate?: boolean;
}

/** Answer of POST /api/v1/admin/tenants/{id}/keys (201). */
export interface IssueKeyResponse {
  key: IssuedKey;
  revokedKeyIds: string[];
}

/** Body of POST /api/v1/admin/service-keys. */
export interface CreateServiceKeyRequest {
  /** Tenants this ingest key may write; each must exist. 1-1000 entries. */
  allowedTenants: string[];
}

/** Answer of POST /api/v1/admin/service-keys (201). */
export interface CreateServiceKeyResponse {
  key: IssuedKey;
}

/** Answer of DELETE /api/v1/admin/keys/{keyId}. */
export interface RevokeKeyResponse {
  keyId: string;
  revokedAt: string;
}

/** Where a tenant stands against its budgets today and this month (UTC), from its usage records. */
export interface BudgetStatus {
  dailyTokensUsed: number;
  monthlyTokensUsed: number;
  dailyCostUsdUsed: number;
  monthlyCostUsdUsed: number;
  /** The highest used/limit ratio over the set budgets, or null when none is set. */
  maxUtilization: number | null;
  /** "over" at ≥ 100%, "near" at ≥ 80%, "ok" otherwise or when no budget is set. */
  state: "ok" | "near" | "over";
}

/**
 * A tenant's activity over the range of an admin overview: the usage figures from usage records
 * (exact), the span, turn and time figures from stored spans (the kept traces when sampled).
 */
export interface TenantActivity extends UsageFigures {
  spans: number;
  /** Spans with error status (any kind). */
  spanErrors: number;
  turns: number;
  queueWaitMsTotal: number;
  handlerWallMsTotal: number;
  /** This tenant's share (0-1) of all tenants' queue wait over the range. */
  queueWaitShare: number;
  /** This tenant's share (0-1) of all tenants' handler wall time over the range. */
  handlerTimeShare: number;
}

/** One row of the all-tenant overview. */
export interface AdminTenantOverview {
  tenant: TenantRecord;
  activity: TenantActivity;
  budget: BudgetStatus;
}

/** Query parameters of GET /api/v1/admin/tenants. */
export interface AdminTenantsParams {
  from?: string;
  to?: string;
  format?: "json" | "csv";
}

/** Answer of GET /api/v1/admin/tenants (sorted by cost, descending, then id). */
export interface AdminTenantsResponse {
  from: string;
  to: string;
  tenants: AdminTenantOverview[];
}

/** Query parameters of GET /api/v1/budget: a console key reads its own tenant; an admin key names one. */
export interface BudgetParams {
  tenant?: string;
}

/**
 * Answer of GET /api/v1/budget: one tenant's budgets as the operator set them and where its usage
 * stands against them (today and this month, UTC, from usage records), the same figures the
 * operator's view shows. Read-only.
 */
export interface BudgetResponse {
  tenantId: string;
  budgets: TenantBudgets;
  status: BudgetStatus;
}

/** Answer of GET /api/v1/admin/tenants/{id}. */
export interface AdminTenantDetailResponse extends AdminTenantOverview {
  keys: ApiKeyInfo[];
}

/** Answer of PUT /api/v1/admin/tenants/{id}. */
export interface UpdateTenantResponse {
  tenant: TenantRecord;
}

// ---------------------------------------------------------------------------------------------
// Control plane: runtimes following their tenants' settings, budget alerts, webhooks

/** A runtime's last check-in: a read of its tenants' settings (every long poll, at least every 30 s while it runs). */
export interface RuntimeCheckIn {
  runtimeId: string;
  /** Service name and host, as the runtime reported them. */
  name: string;
  /** The tenants its last read covered. */
  tenants: string[];
  /** The settings version it had applied at that read (0 before any). */
  appliedVersion: number;
  firstSeenAt: string;
  lastSeenAt: string;
}

/** Answer of GET /api/v1/admin/tenants/{id}/runtimes: runtimes seen within the last 24 h, newest check-in first. */
export interface TenantRuntimesResponse {
  tenantId: string;
  /** The tenant's current settings version: a runtime with a lower appliedVersion has not caught up. */
  settingsVersion: number;
  runtimes: RuntimeCheckIn[];
}

/** What a budget alert is about. */
export type BudgetAlertKind = "threshold" | "rejected";

/** One budget alert: a threshold crossed in a window, or the window's first refused call. Raised once per (window, metric, threshold). */
export interface BudgetAlert {
  alertId: string;
  tenantId: string;
  kind: BudgetAlertKind;
  window: "day" | "month";
  /** `YYYY-MM-DD` or `YYYY-MM` (UTC). */
  windowKey: string;
  /** For "rejected": the budget the refused call ran into, when known, else "tokens". */
  metric: "tokens" | "costUsd";
  /** The fraction crossed (threshold alerts); null for "rejected". */
  threshold: number | null;
  /** Used so far in the window when the alert was raised. */
  used: number;
  /** The budget it is measured against (null when none applies). */
  limit: number | null;
  raisedAt: string;
  /** Where its webhook delivery stands ("none": no webhook configured when it was raised). */
  delivery: "none" | "pending" | "delivered" | "failed";
}

/** One attempt to deliver an alert to the tenant's webhook. */
export interface WebhookDelivery {
  alertId: string;
  tenantId: string;
  /** 1 for the first attempt. */
  attempt: number;
  at: string;
  url: string;
  /** The receiver's HTTP status; null when none came (timeout, refused connection). */
  statusCode: number | null;
  outcome: "delivered" | "retrying" | "failed";
  /** Why it was not delivered; null when it was. */
  error: string | null;
  durationMs: number;
}

/** Answer of GET /api/v1/admin/tenants/{id}/alerts and GET /api/v1/alerts (a tenant's own): newest first. */
export interface TenantAlertsResponse {
  tenantId: string;
  thresholds: number[];
  /** The configured webhook (never its secret); null when none. */
  webhook: { url: string; updatedAt: string } | null;
  alerts: BudgetAlert[];
  /** Admin only (empty for a tenant's own view): the latest delivery attempts, newest first. */
  deliveries: WebhookDelivery[];
}

/** Body of PUT /api/v1/admin/tenants/{id}/webhook. */
export interface SetWebhookRequest {
  /** http(s) URL receiving alert events as signed JSON POSTs. */
  url: string;
}

/** Answer of PUT /api/v1/admin/tenants/{id}/webhook: the signing secret, shown this once. */
export interface SetWebhookResponse {
  url: string;
  /** `whsec_<base62>`: verify `Troupe-Signature: t=<unix s>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`. */
  secret: string;
}

/** The JSON body POSTed to a webhook (also sent by POST /api/v1/admin/tenants/{id}/webhook/test with type "test"). */
export interface WebhookEvent {
  /** Unique per alert; the same on every retry (deduplicate on it). Header `Troupe-Event-Id` too. */
  id: string;
  type: "budget.threshold" | "budget.rejected" | "test";
  createdAt: string;
  tenantId: string;
  alert: BudgetAlert | null;
}

/** `GET /api/v1/sessions/ended/{digest}`: whether that console session was signed out. */
export interface SessionEndedResponse {
  ended: boolean;
}
