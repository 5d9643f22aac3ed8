import { SpanStatusCode } from "@opentelemetry/api";
import type { Attributes, Span } from "@opentelemetry/api";
import { APIError } from "openai";
import { AbortedError, LlmProviderError, TroupeError } from "../errors.js";
import { ATTR, type UsageOutcome } from "@troupe/contract";
import { ledgerFailure, type BudgetLedger, type BudgetReservation } from "./budget-ledger.js";
import { NO_CHARGE, usageOutcomeOf, type LlmCallUsage } from "./llm-call-usage.js";
import type { LlmMetrics } from "./llm-metrics.js";
import type { ModelPriceTable } from "./model-prices.js";
import type { TokenBucket } from "../tenancy/token-bucket.js";

/** What a finished call reports: exact usage from the provider (estimates only when it sent none). */
export interface LlmCallOutcome {
  readonly responseId?: string | undefined;
  readonly responseModel?: string | undefined;
  readonly inputTokens: number;
  readonly outputTokens: number;
  /** Prompt tokens the provider served from its cache (`usage.prompt_tokens_details.cached_tokens`), if it said. */
  readonly cachedInputTokens?: number | undefined;
  /** Reasoning tokens (`usage.completion_tokens_details.reasoning_tokens`), if the provider said. */
  readonly reasoningTokens?: number | undefined;
  readonly finishReasons: readonly string[];
  /** False when the provider reported no usage and the reservation's estimate was charged instead. */
  readonly usageExact: boolean;
}

/** What a call was charged: the provider's usage, or the estimate where the provider reported none (or nonsense). */
export interface LlmCallCharge {
  readonly inputTokens: number;
  readonly outputTokens: number;
  /** Part of inputTokens: the provider's cached prompt tokens (0 when it reported none). */
  readonly cachedInputTokens: number;
  /** Part of outputTokens: the provider's reasoning tokens (0 when it reported none). */
  readonly reasoningTokens: number;
  readonly costUsd: number;
  /** False when any of the estimate was charged instead of the provider's count. */
  readonly usageExact: boolean;
}

/** The per-call bookkeeping shared by streaming and non-streaming calls. */
export interface LlmCallDeps {
  readonly tenant: string;
  readonly span: Span;
  readonly ledger: BudgetLedger;
  readonly metrics: LlmMetrics;
  /** The call's GenAI metric attributes (operation, provider, request model, server, tenant, agent type). */
  readonly metricAttributes: Attributes;
  readonly prices: ModelPriceTable;
  readonly model: string;
  readonly tokenBucket: TokenBucket | undefined;
  /** The call's usage record, handed over when the call settles. */
  readonly usage: LlmCallUsage;
  /** The caller's signal: tells a timeout from a plain abort. */
  readonly signal: AbortSignal | undefined;
}

/**
 * One LLM call's lifecycle after admission: it owns the span, the budget reservation, the
 * tokens/min charge and the usage record, and settles all four exactly once, as a success (charged
 * with the real usage) or a failure (reservation released: a failed call is not charged). The usage
 * record states what was charged, and is handed over before the ledger is written, so a ledger
 * failure never loses it. Its GenAI metrics: one duration point per request attempt (a failed one
 * when it fails, the accepted one when the call settles, so a stream counts until its end), and
 * the tokens charged, once per token type, when it succeeds.
 */
export class LlmCall {
  #done = false;
  /** When the attempt the provider accepted began (`performance.now()`); undefined before one was. */
  #acceptedAtMs: number | undefined;
  readonly #deps: LlmCallDeps;
  readonly #reservation: BudgetReservation;
  /** Estimated prompt tokens (charged when the provider reports no usage). */
  readonly estimatedInputTokens: number;
  /** Reserved completion tokens (charged when the provider reports no usage). */
  readonly estimatedOutputTokens: number;

  constructor(deps: LlmCallDeps, reservation: BudgetReservation, estimate: { inputTokens: number; outputTokens: number }) {
    this.#deps = deps;
    this.#reservation = reservation;
    this.estimatedInputTokens = estimate.inputTokens;
    this.estimatedOutputTokens = estimate.outputTokens;
  }

  get #reservedTokens(): number {
    return this.estimatedInputTokens + this.estimatedOutputTokens;
  }

  /** The request attempt that began at `startedAtMs` was accepted: its duration is recorded when the call settles. */
  accepted(startedAtMs: number): void {
    this.#acceptedAtMs = startedAtMs;
  }

  /** Records the duration of a request attempt that began at `startedAtMs` and failed with `error`. */
  attemptFailed(startedAtMs: number, error: unknown): void {
    this.#deps.metrics.recordOperation(this.#deps.metricAttributes, (performance.now() - startedAtMs) / 1000, undefined, errorType(toTypedError(error)));
  }

  #recordAccepted(responseModel: string | undefined, failure: string | undefined): void {
    if (this.#acceptedAtMs === undefined) return;
    this.#deps.metrics.recordOperation(this.#deps.metricAttributes, (performance.now() - this.#acceptedAtMs) / 1000, responseModel, failure);
  }

  /** Whether the call was already settled (succeeded or failed). */
  get settled(): boolean {
    return this.#done;
  }

  /**
   * Charges the real usage, records it on the span, in metrics and in the usage record, and ends the
   * span. `ending` is how the call ended: "ok", or for a stream cut by its caller (charged all the
   * same) "error" or "timeout". Returns what was charged.
   */
  async succeed(outcome: LlmCallOutcome, ending: UsageOutcome = "ok"): Promise<LlmCallCharge> {
    if (this.#done) return { ...NO_CHARGE, usageExact: outcome.usageExact };
    this.#done = true;
    const { span, metrics, tenant, prices, ledger } = this.#deps;
    // Priced by the requested model: tenants write price overrides against the names they request,
    // while providers may answer with a dated snapshot or a tag ("llama3:latest").
    // A provider's usage counts only as whole token counts; anything else is charged at the estimate.
    const inputTokens = wholeTokens(outcome.inputTokens) ?? this.estimatedInputTokens;
    const outputTokens = wholeTokens(outcome.outputTokens) ?? this.estimatedOutputTokens;
    const costUsd = prices.costUsd(this.#deps.model, inputTokens, outputTokens);
    const tokens = inputTokens + outputTokens;
    const charge: LlmCallCharge = {
      inputTokens,
      outputTokens,
      cachedInputTokens: Math.min(wholeTokens(outcome.cachedInputTokens) ?? 0, inputTokens),
      reasoningTokens: Math.min(wholeTokens(outcome.reasoningTokens) ?? 0, outputTokens),
      costUsd,
      usageExact: outcome.usageExact && inputTokens === outcome.inputTokens && outputTokens === outcome.outputTokens,
    };
    this.#deps.usage.end(ending, span, charge, outcome.responseModel ?? "");
    span.setAttribute(ATTR.genAiInputTokens, inputTokens);
    span.setAttribute(ATTR.genAiOutputTokens, outputTokens);
    span.setAttribute(ATTR.llmCostUsd, costUsd);
    if (outcome.responseModel) span.setAttribute(ATTR.genAiResponseModel, outcome.responseModel);
    if (outcome.responseId) span.setAttribute(ATTR.genAiResponseId, outcome.responseId);
    if (outcome.finishReasons.length > 0) span.setAttribute(ATTR.genAiFinishReasons, [...outcome.finishReasons]);
    metrics.add(tenant, "succeeded");
    metrics.add(tenant, "inputTokens", inputTokens);
    metrics.add(tenant, "outputTokens", outputTokens);
    metrics.add(tenant, "costUsd", costUsd);
    metrics.recordTokenUsage(this.#deps.metricAttributes, outcome.responseModel, inputTokens, outputTokens);
    this.#recordAccepted(outcome.responseModel, ending === "ok" ? undefined : "ABORTED");
    const bucket = this.#deps.tokenBucket;
    if (bucket) {
      const delta = tokens - this.#reservedTokens;
      if (delta > 0) bucket.charge(delta);
      else if (delta < 0) bucket.refund(-delta);
    }
    try {
      await ledger.settle(this.#reservation, { tokens, costUsd });
    } catch (error) {
      // The call succeeded; only the bookkeeping failed (e.g. a shared ledger is unreachable).
      const typed = ledgerFailure(error, tenant, "the call succeeded but its usage was not recorded (its reservation stays charged)");
      endWithError(span, typed);
      throw typed;
    }
    span.setAttribute(ATTR.outcome, ending);
    if (ending === "ok") span.setStatus({ code: SpanStatusCode.OK });
    else {
      span.setAttribute(ATTR.errorType, "ABORTED");
      span.setStatus({ code: SpanStatusCode.ERROR, message: "ABORTED" });
    }
    span.end();
    return charge;
  }

  /**
   * Hands over a usage record charging nothing, releases the reservation, marks the span as failed
   * and ends it. Returns the typed error to throw.
   */
  async fail(error: unknown): Promise<TroupeError> {
    const typed = toTypedError(error);
    if (this.#done) return typed;
    this.#done = true;
    const outcome = usageOutcomeOf(typed, this.#deps.signal);
    this.#deps.usage.end(outcome, this.#deps.span);
    await this.#deps.ledger.release(this.#reservation);
    this.#deps.tokenBucket?.refund(this.#reservedTokens);
    this.#deps.metrics.add(this.#deps.tenant, "failed");
    this.#recordAccepted(undefined, errorType(typed));
    endWithError(this.#deps.span, typed, outcome);
    return typed;
  }
}

/**
 * Marks `span` failed with a metadata-only description of `error` (type and code, never its message)
 * and `outcome` (default: as the usage record would say, without a signal to tell a timeout).
 */
export function endWithError(span: Span, error: TroupeError, outcome: UsageOutcome = usageOutcomeOf(error, undefined)): void {
  span.setAttribute(ATTR.errorType, errorType(error));
  span.setAttribute(ATTR.outcome, outcome);
  if (error instanceof LlmProviderError && error.status !== undefined) span.setAttribute(ATTR.httpStatusCode, error.status);
  span.setStatus({ code: SpanStatusCode.ERROR, message: error.code });
  span.end();
}

/** The `error.type` of a failed call or attempt: the HTTP status, else the transport error's name, else the error code. */
export function errorType(error: TroupeError): string {
  if (error instanceof LlmProviderError && error.status !== undefined) return String(error.status);
  if (error instanceof LlmProviderError && error.cause instanceof Error) return error.cause.name;
  return error.code;
}

/** Maps anything thrown by the openai client (or by us) to a Troupe error with a stable code. */
export function toTypedError(error: unknown): TroupeError {
  if (error instanceof TroupeError) return error;
  if (error instanceof APIError) {
    const status = typeof error.status === "number" ? error.status : undefined;
    if (error.name === "APIUserAbortError") return new AbortedError();
    const what = status === undefined ? `${error.name}: ${error.message}` : `HTTP ${status}`;
    return new LlmProviderError(`the LLM provider failed: ${what}`, status, { cause: error });
  }
  if (error instanceof Error && error.name === "AbortError") return new AbortedError();
  const detail = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return new LlmProviderError(`the LLM call failed: ${detail}`, undefined, { cause: error });
}

function wholeTokens(n: unknown): number | undefined {
  return Number.isSafeInteger(n) && (n as number) >= 0 ? (n as number) : undefined;
}
