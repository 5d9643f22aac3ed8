import { metrics, ValueType } from "@opentelemetry/api";
import type { Attributes, Counter, Histogram, MeterProvider } from "@opentelemetry/api";
import { GEN_AI_OPERATION_DURATION_BUCKETS, GEN_AI_TOKEN_USAGE_BUCKETS, METRIC, METRIC_ATTR } from "../metrics/metric-names.js";
import { ATTR } from "@troupe/contract";

/** Per-tenant LLM counters. Exact: counted on every call, independent of trace sampling. */
export interface TenantLlmCounters {
  calls: number;
  succeeded: number;
  failed: number;
  retries: number;
  status429: number;
  status5xx: number;
  rejectedBudget: number;
  rejectedRateLimit: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
}

export type LlmCounterName = keyof TenantLlmCounters;

const NAMES: readonly LlmCounterName[] = [
  "calls", "succeeded", "failed", "retries", "status429", "status5xx", "rejectedBudget", "rejectedRateLimit", "inputTokens", "outputTokens", "costUsd",
];

const OTEL_NAMES: Record<LlmCounterName, string> = {
  calls: "troupe.llm.calls",
  succeeded: "troupe.llm.succeeded",
  failed: "troupe.llm.failed",
  retries: "troupe.llm.retries",
  status429: "troupe.llm.status_429",
  status5xx: "troupe.llm.status_5xx",
  rejectedBudget: METRIC.llmBudgetRejections,
  rejectedRateLimit: "troupe.llm.rejected_rate_limit",
  inputTokens: "troupe.llm.input_tokens",
  outputTokens: "troupe.llm.output_tokens",
  costUsd: "troupe.llm.cost_usd",
};

function zero(): TenantLlmCounters {
  return { calls: 0, succeeded: 0, failed: 0, retries: 0, status429: 0, status5xx: 0, rejectedBudget: 0, rejectedRateLimit: 0, inputTokens: 0, outputTokens: 0, costUsd: 0 };
}

/**
 * Per-tenant LLM call counters (calls, retries, 429s, 5xx, rejections, tokens, cost), kept in memory
 * for `snapshot()` and mirrored to OpenTelemetry counters tagged with the tenant id, and the
 * OpenTelemetry GenAI client metrics (`gen_ai.client.token.usage`, `gen_ai.client.operation.duration`,
 * with the semconv's bucket boundaries). Bounded: at most `maxTenants` tenants are tracked in memory;
 * increments for further tenants go to OpenTelemetry only and are counted in `untrackedIncrements`.
 * The instruments come from the meter provider given at construction (default: the global one then).
 */
export class LlmMetrics {
  readonly #tenants = new Map<string, TenantLlmCounters>();
  readonly #otel: Record<LlmCounterName, Counter>;
  readonly #tokenUsage: Histogram;
  readonly #operationDuration: Histogram;
  readonly #maxTenants: number;
  #untracked = 0;
  #totalCalls = 0;

  constructor(options: { meterProvider?: MeterProvider; maxTenants?: number } = {}) {
    const meter = (options.meterProvider ?? metrics.getMeterProvider()).getMeter("@troupe/runtime/llm");
    this.#otel = Object.fromEntries(NAMES.map((n) => [n, meter.createCounter(OTEL_NAMES[n])])) as Record<LlmCounterName, Counter>;
    this.#tokenUsage = meter.createHistogram(METRIC.genAiTokenUsage, {
      description: "Number of input and output tokens used",
      unit: "{token}",
      valueType: ValueType.INT,
      advice: { explicitBucketBoundaries: [...GEN_AI_TOKEN_USAGE_BUCKETS] },
    });
    this.#operationDuration = meter.createHistogram(METRIC.genAiOperationDuration, {
      description: "GenAI operation duration",
      unit: "s",
      advice: { explicitBucketBoundaries: [...GEN_AI_OPERATION_DURATION_BUCKETS] },
    });
    this.#maxTenants = options.maxTenants ?? 100_000;
  }

  /** Adds `by` (default 1) to `name` for `tenant`; the OpenTelemetry point also names the calling agent type when given. */
  add(tenant: string, name: LlmCounterName, by = 1, agentType?: string): void {
    if (name === "calls") this.#totalCalls += by;
    let counters = this.#tenants.get(tenant);
    if (!counters) {
      if (this.#tenants.size >= this.#maxTenants) this.#untracked++;
      else this.#tenants.set(tenant, (counters = zero()));
    }
    if (counters) counters[name] += by;
    this.#otel[name].add(by, agentType === undefined ? { [ATTR.tenantId]: tenant } : { [ATTR.tenantId]: tenant, [ATTR.agentType]: agentType });
  }

  /**
   * Records what one call was charged as `gen_ai.client.token.usage`: one point of type `input` and
   * one of type `output`. `call` is the call's attributes (operation, provider, request model,
   * server, tenant, agent type); the response model is added when the provider named one.
   */
  recordTokenUsage(call: Attributes, responseModel: string | undefined, inputTokens: number, outputTokens: number): void {
    const base = withResponseModel(call, responseModel);
    this.#tokenUsage.record(inputTokens, { ...base, [METRIC_ATTR.genAiTokenType]: "input" });
    this.#tokenUsage.record(outputTokens, { ...base, [METRIC_ATTR.genAiTokenType]: "output" });
  }

  /**
   * Records one request attempt sent to the provider as `gen_ai.client.operation.duration`, with
   * `error.type` when it failed (each retry is an attempt of its own).
   */
  recordOperation(call: Attributes, durationS: number, responseModel: string | undefined, errorType: string | undefined): void {
    const base = withResponseModel(call, responseModel);
    this.#operationDuration.record(durationS, errorType === undefined ? base : { ...base, [ATTR.errorType]: errorType });
  }

  /** A copy of one tenant's counters (all zero when it never called). */
  snapshot(tenant: string): TenantLlmCounters {
    return { ...(this.#tenants.get(tenant) ?? zero()) };
  }

  /** Copies of every tracked tenant's counters. */
  snapshotAll(): Record<string, TenantLlmCounters> {
    return Object.fromEntries([...this.#tenants].map(([t, c]) => [t, { ...c }]));
  }

  /** Calls of every tenant so far (tracked or not): a cheap sign of activity. */
  get totalCalls(): number {
    return this.#totalCalls;
  }

  /** Increments dropped from the in-memory view because `maxTenants` was reached. */
  get untrackedIncrements(): number {
    return this.#untracked;
  }
}

function withResponseModel(call: Attributes, responseModel: string | undefined): Attributes {
  return responseModel ? { ...call, [ATTR.genAiResponseModel]: responseModel } : call;
}
