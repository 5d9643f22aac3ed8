// Answers of the query API's report endpoints: agents, usage and the overview. Figures named as
// from usage records are exact whatever the trace sampling; span figures cover the kept traces.
import type { SamplingInForce } from "./trace-responses.js";
import type { UsageGroupBy } from "./query-params.js";

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
