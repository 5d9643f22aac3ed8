import { SpanKind, context } from "@opentelemetry/api";
import type { Attributes, Span, Tracer } from "@opentelemetry/api";
import type OpenAI from "openai";
import { APIConnectionError, APIError, APIUserAbortError } from "openai";
import type {
  ChatCompletion,
  ChatCompletionCreateParamsNonStreaming,
  ChatCompletionCreateParamsStreaming,
} from "openai/resources/chat/completions";
import { AbortedError, BudgetExceededError, LlmProviderError, RateLimitedError } from "../errors.js";
import { ATTR } from "@troupe/contract";
import type { UsageRecorder } from "../usage/usage-recorder.js";
import { ledgerFailure, type BudgetLedger, type BudgetLimits, type BudgetReservation, type BudgetUsage } from "./budget-ledger.js";
import { ChatStream } from "./chat-stream.js";
import { LlmCall, endWithError, toTypedError } from "./llm-call.js";
import { LlmCallUsage, usageOutcomeOf } from "./llm-call-usage.js";
import type { LlmMetrics } from "./llm-metrics.js";
import type { ModelPriceTable } from "./model-prices.js";
import { backoffDelayMs, isRetryableStatus, retryAfterMs } from "./retry-policy.js";
import type { RetryPolicy } from "./retry-policy.js";
import { sleep } from "./sleep.js";
import type { TenantLlmConfig } from "./tenant-llm-config.js";
import { estimateMessagesTokens, estimateTextTokens } from "./token-estimator.js";
import type { TokenBucket } from "../tenancy/token-bucket.js";

/** A non-streaming chat request; `model` defaults to the tenant's default model. */
export type ChatParams = Omit<ChatCompletionCreateParamsNonStreaming, "model" | "stream"> & { model?: string };
/** A streaming chat request; usage is always requested (`stream_options.include_usage`). */
export type ChatStreamParams = Omit<ChatCompletionCreateParamsStreaming, "model" | "stream"> & { model?: string };

/**
 * Who is calling and how the call may be cancelled. Passed explicitly by the agent handler (no
 * ambient lookup), so the chat span names the agent type that spent the tokens.
 */
export interface LlmCallOptions {
  /** The calling agent (an AgentId fits). */
  readonly agent?: { readonly type: string; readonly key?: string } | undefined;
  readonly signal?: AbortSignal | undefined;
  /** The conversation the call belongs to (a ConversationMemory's `conversationId`), recorded as `gen_ai.conversation.id`. */
  readonly conversationId?: string | undefined;
}

/** Everything a TenantLlm needs; built by LlmClients. */
export interface TenantLlmDeps {
  readonly tenant: string;
  readonly config: TenantLlmConfig;
  readonly client: OpenAI;
  readonly tracer: Tracer;
  readonly ledger: BudgetLedger;
  readonly metrics: LlmMetrics;
  readonly prices: ModelPriceTable;
  readonly retry: RetryPolicy;
  readonly requestBucket: TokenBucket | undefined;
  readonly tokenBucket: TokenBucket | undefined;
  readonly random: () => number;
  /** Receives the one usage record of every call. */
  readonly usageRecorder: UsageRecorder;
}

/**
 * One tenant's LLM client. Every call:
 * - is a `chat <model>` CLIENT span (child of the active span) carrying metadata only: provider,
 *   models, token usage, cost, finish reasons, response id, retries, tenant and agent type, never
 *   prompts, completions or tool arguments;
 * - reserves an estimate against the tenant's budget first (over budget: BudgetExceededError, no
 *   HTTP request) and settles the exact usage after (a failed call is released, not charged);
 * - waits for the tenant's requests/min and tokens/min capacity up to `rateLimit.maxWaitMs`, then
 *   fails with RateLimitedError;
 * - retries 408/409/429/5xx and connection failures with exponential backoff and jitter, honouring
 *   Retry-After, at most `retry.maxRetries` times, then fails with LlmProviderError;
 * - hands exactly one usage record (usage-record.ts) to the usage recorder, whatever the trace's
 *   sampling and however the call ends: ok (what was charged), error, budget_rejected, rate_limited
 *   or timeout (nothing charged; a stream cut by its caller is charged its estimate). Metadata only.
 */
export class TenantLlm {
  readonly tenant: string;
  readonly #d: TenantLlmDeps;
  readonly #limits: BudgetLimits;
  readonly #baseAttributes: Attributes;
  /** The GenAI metric attributes every call of this tenant shares (no simulated flag: it is a span-only attribute). */
  readonly #metricBase: Attributes;

  constructor(deps: TenantLlmDeps) {
    this.#d = deps;
    this.tenant = deps.tenant;
    this.#limits = deps.config.budget ?? {};
    this.#metricBase = {
      [ATTR.genAiOperation]: "chat",
      [ATTR.genAiProvider]: deps.config.provider,
      [ATTR.tenantId]: deps.tenant,
      ...serverAttributes(deps.client.baseURL),
    };
    this.#baseAttributes = deps.config.simulated ? { ...this.#metricBase, [ATTR.llmSimulated]: true } : this.#metricBase;
  }

  /** The model used when a call names none. */
  get defaultModel(): string {
    return this.#d.config.defaultModel;
  }

  /** The tenant's budget usage in the current UTC day and month. */
  budgetUsage(nowMs?: number): Promise<BudgetUsage> {
    return this.#d.ledger.usage(this.tenant, this.#limits, nowMs);
  }

  /** A chat completion (tool calls included in the returned message when the model asks for them). */
  async chat(params: ChatParams, options: LlmCallOptions = {}): Promise<ChatCompletion> {
    const model = params.model ?? this.#d.config.defaultModel;
    const { span, call } = await this.#admit(model, params, false, options);
    try {
      const completion = await this.#withRetries(span, call, options.signal, (signal) =>
        this.#d.client.chat.completions.create({ ...params, model, stream: false }, { signal, timeout: this.#d.config.timeoutMs }),
      );
      const usage = completion.usage;
      await call.succeed({
        responseId: completion.id,
        responseModel: completion.model,
        inputTokens: usage?.prompt_tokens ?? call.estimatedInputTokens,
        outputTokens: usage?.completion_tokens ?? call.estimatedOutputTokens,
        cachedInputTokens: usage?.prompt_tokens_details?.cached_tokens,
        reasoningTokens: usage?.completion_tokens_details?.reasoning_tokens,
        finishReasons: completion.choices.map((c) => c.finish_reason),
        usageExact: usage !== undefined,
      });
      return completion;
    } catch (error) {
      throw await call.fail(error);
    }
  }

  /**
   * A streaming chat completion. Resolves once the provider accepted the request (retries happen
   * before that); iterate the result for chunks and await `done()` for the exact usage and cost.
   */
  async chatStream(params: ChatStreamParams, options: LlmCallOptions = {}): Promise<ChatStream> {
    const model = params.model ?? this.#d.config.defaultModel;
    const { span, call } = await this.#admit(model, params, true, options);
    try {
      const stream = await this.#withRetries(span, call, options.signal, (signal) =>
        this.#d.client.chat.completions.create(
          { ...params, model, stream: true, stream_options: { ...params.stream_options, include_usage: true } },
          { signal, timeout: this.#d.config.timeoutMs },
        ),
      );
      return new ChatStream(stream, call, options.signal);
    } catch (error) {
      throw await call.fail(error);
    }
  }

  async #admit(
    model: string,
    params: ChatParams | ChatStreamParams,
    stream: boolean,
    options: LlmCallOptions,
  ): Promise<{ span: Span; call: LlmCall }> {
    const d = this.#d;
    const usage = new LlmCallUsage(d.usageRecorder, { tenant: this.tenant, agentType: options.agent?.type ?? "", provider: d.config.provider, model }, d.ledger);
    let span: Span | undefined;
    try {
      span = this.#startSpan(model, params, stream, options);
      return await this.#reserve(model, params, options, span, usage);
    } catch (error) {
      // Every refusal below ends the record itself; this catches what nobody expected.
      usage.end(usageOutcomeOf(toTypedError(error), options.signal), span);
      throw error;
    }
  }

  #startSpan(model: string, params: ChatParams | ChatStreamParams, stream: boolean, options: LlmCallOptions): Span {
    const d = this.#d;
    const maxTokens = params.max_completion_tokens ?? params.max_tokens ?? undefined;
    const attributes: Attributes = { ...this.#baseAttributes, [ATTR.genAiRequestModel]: model, [ATTR.genAiRequestStream]: stream };
    if (maxTokens != null) attributes[ATTR.genAiRequestMaxTokens] = maxTokens;
    if (options.agent) attributes[ATTR.agentType] = options.agent.type;
    if (options.conversationId) attributes[ATTR.genAiConversationId] = options.conversationId;
    const span = d.tracer.startSpan(`chat ${model}`, { kind: SpanKind.CLIENT, attributes }, context.active());
    d.metrics.add(this.tenant, "calls");
    return span;
  }

  async #reserve(model: string, params: ChatParams | ChatStreamParams, options: LlmCallOptions, span: Span, usage: LlmCallUsage): Promise<{ span: Span; call: LlmCall }> {
    const d = this.#d;
    const maxTokens = params.max_completion_tokens ?? params.max_tokens ?? undefined;
    const inputTokens = estimateMessagesTokens(params.messages) + (params.tools ? estimateTextTokens(JSON.stringify(params.tools)) : 0);
    const outputTokens = maxTokens ?? d.config.defaultCompletionReservation;
    const tokens = inputTokens + outputTokens;
    const costUsd = d.prices.costUsd(model, inputTokens, outputTokens);

    if (options.signal?.aborted) {
      const aborted = new AbortedError();
      const outcome = usageOutcomeOf(aborted, options.signal);
      usage.end(outcome, span);
      endWithError(span, aborted, outcome);
      throw aborted;
    }
    let reservation: BudgetReservation;
    try {
      reservation = await d.ledger.reserve(this.tenant, { tokens, costUsd }, this.#limits);
    } catch (error) {
      const typed = ledgerFailure(error, this.tenant, "no call was made");
      const outcome = usageOutcomeOf(typed, options.signal);
      usage.end(outcome, span);
      if (typed instanceof BudgetExceededError) d.metrics.add(this.tenant, "rejectedBudget", 1, options.agent?.type);
      const budget = await d.ledger.usage(this.tenant, this.#limits).catch(() => undefined);
      if (budget?.remainingTokens !== undefined) span.setAttribute(ATTR.budgetRemainingTokens, budget.remainingTokens);
      endWithError(span, typed, outcome);
      throw typed;
    }
    try {
      await this.#waitForCapacity(tokens, options.signal);
    } catch (error) {
      const typed = toTypedError(error);
      const outcome = usageOutcomeOf(typed, options.signal);
      usage.end(outcome, span);
      await d.ledger.release(reservation);
      if (typed instanceof RateLimitedError) d.metrics.add(this.tenant, "rejectedRateLimit");
      endWithError(span, typed, outcome);
      throw typed;
    }
    const metricAttributes: Attributes = { ...this.#metricBase, [ATTR.genAiRequestModel]: model };
    if (options.agent) metricAttributes[ATTR.agentType] = options.agent.type;
    const call = new LlmCall(
      { tenant: this.tenant, span, ledger: d.ledger, metrics: d.metrics, metricAttributes, prices: d.prices, model, tokenBucket: d.tokenBucket, usage, signal: options.signal },
      reservation,
      { inputTokens, outputTokens },
    );
    return { span, call };
  }

  async #waitForCapacity(tokens: number, signal: AbortSignal | undefined): Promise<void> {
    const { requestBucket, tokenBucket, config } = this.#d;
    if (!requestBucket && !tokenBucket) return;
    const maxWaitMs = config.rateLimit?.maxWaitMs ?? 0;
    const requestWait = requestBucket ? requestBucket.tryReserve(1, maxWaitMs) : 0;
    if (requestWait === undefined) {
      throw new RateLimitedError(this.tenant, `tenant "${this.tenant}" is over its LLM limit of ${config.rateLimit?.requestsPerMinute} requests/min (waited at most ${maxWaitMs} ms)`, requestBucket?.waitTimeMs(1));
    }
    const tokenWait = tokenBucket ? tokenBucket.tryReserve(tokens, maxWaitMs) : 0;
    if (tokenWait === undefined) {
      requestBucket?.refund(1);
      throw new RateLimitedError(this.tenant, `tenant "${this.tenant}" is over its LLM limit of ${config.rateLimit?.tokensPerMinute} tokens/min (waited at most ${maxWaitMs} ms)`, tokenBucket?.waitTimeMs(tokens));
    }
    try {
      await sleep(Math.max(requestWait, tokenWait), signal);
    } catch (error) {
      requestBucket?.refund(1);
      tokenBucket?.refund(tokens);
      throw error;
    }
  }

  async #withRetries<T>(span: Span, call: LlmCall, signal: AbortSignal | undefined, attempt: (signal: AbortSignal | undefined) => Promise<T>): Promise<T> {
    const { retry, metrics, random } = this.#d;
    for (let retries = 0; ; retries++) {
      const startedAtMs = performance.now();
      try {
        const value = await attempt(signal);
        call.accepted(startedAtMs);
        return value;
      } catch (error) {
        const aborted = signal?.aborted === true || error instanceof APIUserAbortError;
        call.attemptFailed(startedAtMs, aborted ? new AbortedError() : error);
        if (aborted) throw new AbortedError();
        const status = error instanceof APIError && typeof error.status === "number" ? error.status : undefined;
        if (status === 429) metrics.add(this.tenant, "status429");
        else if (status !== undefined && status >= 500) metrics.add(this.tenant, "status5xx");
        const retryable = isRetryableStatus(status) || (error instanceof APIConnectionError && status === undefined);
        if (!retryable) throw error;
        if (retries >= retry.maxRetries) {
          throw new LlmProviderError(
            `the LLM provider failed ${retries + 1} times (last: ${status === undefined ? (error as Error).name : `HTTP ${status}`}); gave up after ${retries} retries`,
            status,
            { cause: error },
          );
        }
        const askedMs = retryAfterMs(error instanceof APIError ? error.headers : undefined);
        if (askedMs !== undefined && askedMs > retry.maxRetryAfterMs) {
          throw new LlmProviderError(
            `the LLM provider asked to retry after ${Math.round(askedMs)} ms, longer than the ${retry.maxRetryAfterMs} ms this tenant may wait`,
            status,
            { cause: error },
          );
        }
        const delayMs = askedMs ?? backoffDelayMs(retry, retries + 1, random);
        metrics.add(this.tenant, "retries");
        span.setAttribute(ATTR.llmRetryCount, retries + 1);
        await sleep(delayMs, signal);
      }
    }
  }
}

function serverAttributes(baseURL: string): Attributes {
  try {
    const url = new URL(baseURL);
    const port = url.port ? Number(url.port) : url.protocol === "https:" ? 443 : 80;
    return { [ATTR.serverAddress]: url.hostname, [ATTR.serverPort]: port };
  } catch {
    return {};
  }
}
