import { trace } from "@opentelemetry/api";
import type { MeterProvider, TracerProvider } from "@opentelemetry/api";
import type { LoggerProvider } from "@opentelemetry/api-logs";
import OpenAI from "openai";
import { InvalidArgumentError } from "../errors.js";
import { OtlpUsageRecorder } from "../usage/otlp-usage-recorder.js";
import type { UsageRecorder } from "../usage/usage-recorder.js";
import type { BudgetLedger, BudgetUsage } from "./budget-ledger.js";
import { InMemoryBudgetLedger } from "./in-memory-budget-ledger.js";
import { LlmMetrics } from "./llm-metrics.js";
import { parseManagedLlmLimits, withManagedLlmLimits, type ManagedLlmLimits } from "./managed-llm-limits.js";
import { ModelPriceTable } from "./model-prices.js";
import { DEFAULT_RETRY_POLICY } from "./retry-policy.js";
import { TenantLlm } from "./tenant-llm.js";
import { parseTenantLlmConfig } from "./tenant-llm-config.js";
import type { TenantLlmConfig, TenantLlmConfigInput } from "./tenant-llm-config.js";
import { TokenBucket, perMinute } from "../tenancy/token-bucket.js";

/**
 * Where tenants' LLM configuration comes from: a function (return undefined for "no LLM for this
 * tenant"), a Map or a plain object keyed by tenant id. Tenants of one tier may share one
 * configuration object; they then share one HTTP client, while budgets and rate limits stay per tenant.
 */
export type LlmConfigSource =
  | ((tenant: string) => TenantLlmConfigInput | undefined)
  | ReadonlyMap<string, TenantLlmConfigInput>
  | Readonly<Record<string, TenantLlmConfigInput>>;

/** Options of LlmClients. Everything but `config` has a working default. */
export interface LlmClientsOptions {
  readonly config: LlmConfigSource;
  /** Budget bookkeeping; default: one InMemoryBudgetLedger for this process. */
  readonly ledger?: BudgetLedger;
  /** Default: the global tracer provider (`trace.getTracerProvider()`). */
  readonly tracerProvider?: TracerProvider;
  /** Default: the global meter provider. */
  readonly meterProvider?: MeterProvider;
  /**
   * Receives the usage record of every call (exactly one per call, whatever the trace sampling).
   * Default: an OtlpUsageRecorder emitting OTLP log records through `loggerProvider`.
   */
  readonly usageRecorder?: UsageRecorder;
  /**
   * Where the default usage recorder emits (e.g. `telemetry.loggerProvider` of a telemetry started
   * with `registerGlobal: false`). Default: the global logger provider of `@opentelemetry/api-logs`,
   * which `startTelemetry` registers; without one, records go nowhere.
   */
  readonly loggerProvider?: LoggerProvider;
  /** A custom fetch for the openai client (proxies, tests). */
  readonly fetch?: typeof fetch;
  /** Randomness for retry jitter (tests pin it). */
  readonly random?: () => number;
}

interface CachedTenant {
  readonly input: TenantLlmConfigInput;
  readonly managed: ManagedLlmLimits | undefined;
  readonly llm: TenantLlm;
}

interface Buckets {
  requests?: TokenBucket;
  tokens?: TokenBucket;
}

const MAX_CACHED_CLIENTS = 1_000;

/**
 * The per-tenant LLM clients of one runtime. `forTenant` returns the tenant's TenantLlm built from its
 * current configuration: one openai client per distinct (apiKey, baseURL, organization, timeout),
 * the openai client's own retries disabled (Troupe retries, attributing each retry to the tenant).
 * Configuration is re-read on every `forTenant`: a source returning a new object for a tenant takes
 * effect on the next call, keeping the tenant's budget usage and rate-limit balance. Managed limits
 * (`setManagedLimits`, the control plane's) lie over the budget and rate limits of that configuration.
 */
export class LlmClients {
  /** Per-tenant counters: calls, retries, 429s, 5xx, rejections, tokens, cost. */
  readonly metrics: LlmMetrics;
  /** The budget ledger all tenants' calls reserve against. */
  readonly ledger: BudgetLedger;
  /** Where every call's usage record goes. */
  readonly usageRecorder: UsageRecorder;
  #source: LlmConfigSource;
  readonly #options: LlmClientsOptions;
  readonly #tenants = new Map<string, CachedTenant>();
  readonly #clients = new Map<string, OpenAI>();
  readonly #buckets = new Map<string, Buckets>();
  readonly #managed = new Map<string, ManagedLlmLimits>();

  constructor(options: LlmClientsOptions) {
    this.#options = options;
    this.#source = options.config;
    this.ledger = options.ledger ?? new InMemoryBudgetLedger();
    this.usageRecorder = options.usageRecorder ?? new OtlpUsageRecorder(options.loggerProvider ? { loggerProvider: options.loggerProvider } : {});
    this.metrics = new LlmMetrics(options.meterProvider ? { meterProvider: options.meterProvider } : {});
  }

  /** Replaces the configuration source; every tenant picks up its new configuration on its next call. */
  setConfigSource(source: LlmConfigSource): void {
    this.#source = source;
    this.#tenants.clear();
  }

  /**
   * Sets (undefined: removes) a tenant's managed budget and rate limits, the control plane's values:
   * a non-null value replaces the code configuration's, null keeps it. Applies from the tenant's
   * next call, keeping its budget usage and rate-limit balance. Invalid values: InvalidArgumentError
   * naming the field.
   */
  setManagedLimits(tenant: string, limits: ManagedLlmLimits | undefined): void {
    if (limits === undefined) this.#managed.delete(tenant);
    else this.#managed.set(tenant, parseManagedLlmLimits(tenant, limits));
  }

  /** True when the source has a configuration for `tenant`. */
  has(tenant: string): boolean {
    return this.#lookup(tenant) !== undefined;
  }

  /**
   * The tenant's LLM client. Throws InvalidArgumentError when the tenant has no configuration or
   * its configuration is invalid (the message names the fields).
   */
  forTenant(tenant: string): TenantLlm {
    const input = this.#lookup(tenant);
    if (input === undefined) throw new InvalidArgumentError(`tenant "${tenant}" has no LLM configuration`);
    const managed = this.#managed.get(tenant);
    const cached = this.#tenants.get(tenant);
    if (cached && cached.input === input && cached.managed === managed) return cached.llm;
    const config = withManagedLlmLimits(parseTenantLlmConfig(tenant, input), managed);
    const llm = this.#build(tenant, config);
    this.#tenants.set(tenant, { input, managed, llm });
    return llm;
  }

  /** The tenant's budget usage in the current UTC day and month. */
  budgetUsage(tenant: string): Promise<BudgetUsage> {
    return this.forTenant(tenant).budgetUsage();
  }

  #lookup(tenant: string): TenantLlmConfigInput | undefined {
    const source = this.#source;
    if (typeof source === "function") return source(tenant);
    if (source instanceof Map) return source.get(tenant);
    return Object.prototype.hasOwnProperty.call(source, tenant) ? (source as Record<string, TenantLlmConfigInput>)[tenant] : undefined;
  }

  #build(tenant: string, config: TenantLlmConfig): TenantLlm {
    const tracerProvider = this.#options.tracerProvider ?? trace.getTracerProvider();
    return new TenantLlm({
      tenant,
      config,
      client: this.#client(config),
      tracer: tracerProvider.getTracer("@troupe/runtime/llm"),
      ledger: this.ledger,
      metrics: this.metrics,
      prices: new ModelPriceTable(config.prices),
      retry: { ...DEFAULT_RETRY_POLICY, ...config.retry },
      ...this.#bucketsFor(tenant, config),
      random: this.#options.random ?? Math.random,
      usageRecorder: this.usageRecorder,
    });
  }

  #client(config: TenantLlmConfig): OpenAI {
    const key = JSON.stringify([config.apiKey, config.baseURL ?? null, config.organization ?? null, config.timeoutMs]);
    let client = this.#clients.get(key);
    if (!client) {
      client = new OpenAI({
        apiKey: config.apiKey,
        baseURL: config.baseURL ?? null,
        organization: config.organization ?? null,
        timeout: config.timeoutMs,
        maxRetries: 0,
        ...(this.#options.fetch ? { fetch: this.#options.fetch } : {}),
      });
      if (this.#clients.size >= MAX_CACHED_CLIENTS) this.#clients.delete(this.#clients.keys().next().value as string);
      this.#clients.set(key, client);
    }
    return client;
  }

  #bucketsFor(tenant: string, config: TenantLlmConfig): { requestBucket: TokenBucket | undefined; tokenBucket: TokenBucket | undefined } {
    let buckets = this.#buckets.get(tenant);
    if (!buckets) this.#buckets.set(tenant, (buckets = {}));
    const rpm = config.rateLimit?.requestsPerMinute;
    const tpm = config.rateLimit?.tokensPerMinute;
    if (rpm === undefined) delete buckets.requests;
    else if (buckets.requests) buckets.requests.reconfigure(perMinute(rpm));
    else buckets.requests = new TokenBucket(perMinute(rpm));
    if (tpm === undefined) delete buckets.tokens;
    else if (buckets.tokens) buckets.tokens.reconfigure(perMinute(tpm));
    else buckets.tokens = new TokenBucket(perMinute(tpm));
    return { requestBucket: buckets.requests, tokenBucket: buckets.tokens };
  }
}
