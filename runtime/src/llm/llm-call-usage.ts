import { randomUUID } from "node:crypto";
import { TraceFlags, diag } from "@opentelemetry/api";
import type { Span } from "@opentelemetry/api";
import { APIConnectionTimeoutError } from "openai";
import { AbortedError, BudgetExceededError, RateLimitedError } from "../errors.js";
import type { TroupeError } from "../errors.js";
import type { UsageOutcome } from "@troupe/contract";
import type { UsageRecorder } from "../usage/usage-recorder.js";

/** The parts of a usage record known when a call starts. */
export interface LlmCallIdentity {
  readonly tenant: string;
  /** The calling agent type; "" when the caller named none. */
  readonly agentType: string;
  readonly provider: string;
  /** The requested model. */
  readonly model: string;
}

/** What a call was charged, as its usage record states it. */
export interface UsageCharge {
  readonly inputTokens: number;
  readonly outputTokens: number;
  /** Part of inputTokens. */
  readonly cachedInputTokens: number;
  /** Part of outputTokens. */
  readonly reasoningTokens: number;
  readonly costUsd: number;
  readonly usageExact: boolean;
}

/** The charge of a call that was refused or failed: nothing (its reservation, if any, is released). */
export const NO_CHARGE: UsageCharge = { inputTokens: 0, outputTokens: 0, cachedInputTokens: 0, reasoningTokens: 0, costUsd: 0, usageExact: true };

/**
 * The usage record of one LLM call attempt: its id (a random UUID) and start time are fixed when the
 * call starts; the record goes to the recorder exactly once, at the first `end` (later ones are
 * ignored), carrying the `chat` span's trace and span id only when that span was sampled, and the id
 * of the budget ledger that charged it (so usage so far can leave out what that ledger counts). A recorder
 * that throws (against its contract) costs the record, never the call.
 */
export class LlmCallUsage {
  readonly id: string = randomUUID();
  /** When the call started, in milliseconds since the epoch. */
  readonly timeMs: number = Date.now();
  readonly #recorder: UsageRecorder;
  readonly #identity: LlmCallIdentity;
  readonly #ledger: { readonly id: string };
  #ended = false;

  /** `ledger` is the budget ledger that charges the call; its id is read when the record is handed over. */
  constructor(recorder: UsageRecorder, identity: LlmCallIdentity, ledger: { readonly id: string }) {
    this.#recorder = recorder;
    this.#identity = identity;
    this.#ledger = ledger;
  }

  /** Whether the record was already handed over. */
  get ended(): boolean {
    return this.#ended;
  }

  /** Hands over the record: how the call ended, what it was charged, and the model that answered ("" if none). */
  end(outcome: UsageOutcome, span: Span | undefined, charge: UsageCharge = NO_CHARGE, responseModel = ""): void {
    if (this.#ended) return;
    this.#ended = true;
    const spanContext = span?.spanContext();
    const sampled = spanContext !== undefined && (spanContext.traceFlags & TraceFlags.SAMPLED) !== 0;
    const id = this.#identity;
    try {
      this.#recorder.record({
        id: this.id,
        tenant: id.tenant,
        agentType: id.agentType,
        model: id.model,
        responseModel,
        provider: id.provider,
        inputTokens: charge.inputTokens,
        outputTokens: charge.outputTokens,
        cachedInputTokens: charge.cachedInputTokens,
        reasoningTokens: charge.reasoningTokens,
        costUsd: charge.costUsd,
        outcome,
        usageExact: charge.usageExact,
        timeMs: this.timeMs,
        traceId: sampled ? spanContext.traceId : "",
        spanId: sampled ? spanContext.spanId : "",
        ledgerId: this.#ledger.id,
      });
    } catch (error) {
      diag.error(`usage records: the recorder threw, the record of call ${this.id} is lost: ${String(error)}`);
    }
  }
}

/**
 * How a call that ended with `error` ended, in the usage contract's words: `budget_rejected`,
 * `rate_limited` (the tenant's own LLM rate limit), `timeout` when the call was cut by its signal
 * aborting with a timeout as the reason (the turn's time budget ran out: the runtime aborts with
 * TimeoutError; `AbortSignal.timeout` with a DOMException of that name) or the provider connection
 * timed out, else `error` (a plain abort included).
 */
export function usageOutcomeOf(error: TroupeError, signal: AbortSignal | undefined): UsageOutcome {
  if (error instanceof BudgetExceededError) return "budget_rejected";
  if (error instanceof RateLimitedError) return "rate_limited";
  if (error instanceof AbortedError && signal?.aborted === true && isTimeoutReason(signal.reason)) return "timeout";
  if (causedByProviderTimeout(error)) return "timeout";
  return "error";
}

function isTimeoutReason(reason: unknown): boolean {
  return typeof reason === "object" && reason !== null && (reason as { name?: unknown }).name === "TimeoutError";
}

function causedByProviderTimeout(error: unknown): boolean {
  let e: unknown = error;
  for (let depth = 0; depth < 4 && e instanceof Error; depth++, e = e.cause) {
    if (e instanceof APIConnectionTimeoutError) return true;
  }
  return false;
}
