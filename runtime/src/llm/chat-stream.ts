import type { ChatCompletionChunk } from "openai/resources/chat/completions";
import { AbortedError } from "../errors.js";
import type { UsageOutcome } from "@troupe/contract";
import type { LlmCall, LlmCallOutcome } from "./llm-call.js";
import { usageOutcomeOf } from "./llm-call-usage.js";

/** What a stream reported once it ended: exact usage from the provider's final chunk, and the cost. */
export interface ChatStreamSummary {
  readonly responseId: string | undefined;
  readonly responseModel: string | undefined;
  readonly inputTokens: number;
  readonly outputTokens: number;
  /** Part of inputTokens: prompt tokens the provider served from its cache (0 when it reported none). */
  readonly cachedInputTokens: number;
  /** Part of outputTokens: reasoning tokens (0 when the provider reported none). */
  readonly reasoningTokens: number;
  readonly costUsd: number;
  readonly finishReasons: readonly string[];
  /** False when the stream ended without a usage chunk (the reservation's estimate was charged). */
  readonly usageExact: boolean;
  /** True when the consumer stopped reading before the provider finished. */
  readonly cancelled: boolean;
}

/** The part of the openai client's Stream that ChatStream uses. */
interface ChunkSource extends AsyncIterable<ChatCompletionChunk> {
  readonly controller: AbortController;
}

/** What the stream has told so far. */
interface Seen {
  responseId: string | undefined;
  responseModel: string | undefined;
  inputTokens: number | undefined;
  outputTokens: number | undefined;
  cachedInputTokens: number | undefined;
  reasoningTokens: number | undefined;
  readonly finishReasons: string[];
}

/**
 * The chunks of one streaming chat completion, readable once. The call's span ends, its usage is
 * charged and its one usage record is handed over when the stream ends:
 * - read to the end: the exact usage of the provider's final chunk (`include_usage` is always set),
 *   outcome "ok";
 * - the consumer stops early (break/return): the request is aborted and the reservation's estimate
 *   is charged, since the provider may already have generated those tokens; outcome "ok";
 * - the provider fails mid-stream: the reservation is released (not charged), iteration throws
 *   LlmProviderError; outcome "error" ("timeout" when the provider connection timed out);
 * - `abort()` or the caller's signal, while reading or before: as an early stop, and iteration
 *   throws AbortedError; outcome "timeout" when the signal aborted for a timeout (the turn's time
 *   budget), else "error".
 * A stream that is neither read nor aborted holds its reservation and record until it is.
 */
export class ChatStream implements AsyncIterable<ChatCompletionChunk> {
  readonly #source: ChunkSource;
  readonly #call: LlmCall;
  readonly #summary: Promise<ChatStreamSummary>;
  #resolve!: (summary: ChatStreamSummary) => void;
  #reject!: (error: unknown) => void;
  readonly #signal: AbortSignal | undefined;
  readonly #onSignalAbort: (() => void) | undefined;
  #iterated = false;
  #aborted = false;

  constructor(source: ChunkSource, call: LlmCall, signal?: AbortSignal) {
    this.#source = source;
    this.#call = call;
    this.#signal = signal;
    this.#summary = new Promise<ChatStreamSummary>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.#summary.catch(() => undefined); // surfaced through iteration; done() re-throws for those who ask
    if (signal !== undefined) {
      // Iteration sees the signal itself; this settles a stream aborted before anyone reads it.
      this.#onSignalAbort = () => this.#endUnread();
      if (signal.aborted) queueMicrotask(this.#onSignalAbort);
      else signal.addEventListener("abort", this.#onSignalAbort, { once: true });
    }
  }

  /** Resolves when the stream ended, with exact usage and cost; rejects when it failed. */
  done(): Promise<ChatStreamSummary> {
    return this.#summary;
  }

  /** Stops the stream (the request is aborted); usage is charged as for an early break. */
  abort(): void {
    this.#aborted = true;
    this.#source.controller.abort();
    this.#endUnread();
  }

  #cancelledByCaller(): boolean {
    return this.#aborted || this.#signal?.aborted === true;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<ChatCompletionChunk> {
    if (this.#iterated) throw new TypeError("a ChatStream can be iterated only once");
    this.#iterated = true;
    if (this.#call.settled) throw new AbortedError("the stream was aborted before it was read");
    const seen: Seen = { responseId: undefined, responseModel: undefined, inputTokens: undefined, outputTokens: undefined, cachedInputTokens: undefined, reasoningTokens: undefined, finishReasons: [] };
    let finished = false;
    try {
      for await (const chunk of this.#source) {
        seen.responseId ??= chunk.id;
        seen.responseModel ??= chunk.model;
        for (const choice of chunk.choices) if (choice.finish_reason) seen.finishReasons.push(choice.finish_reason);
        if (chunk.usage) {
          seen.inputTokens = chunk.usage.prompt_tokens;
          seen.outputTokens = chunk.usage.completion_tokens;
          seen.cachedInputTokens = chunk.usage.prompt_tokens_details?.cached_tokens;
          seen.reasoningTokens = chunk.usage.completion_tokens_details?.reasoning_tokens;
        }
        yield chunk;
      }
      if (this.#cancelledByCaller()) throw new AbortedError("the stream was aborted before it ended");
      finished = true;
    } catch (error) {
      if (this.#cancelledByCaller()) throw new AbortedError("the stream was aborted before it ended");
      this.#detach();
      const typed = await this.#call.fail(error);
      this.#reject(typed);
      throw typed;
    } finally {
      if (!this.#call.settled) {
        if (!finished) this.#source.controller.abort();
        await this.#charge(seen, finished);
      }
    }
  }

  /** Settles a stream that was aborted before it was read (a no-op once reading began). */
  #endUnread(): void {
    if (this.#iterated || this.#call.settled) return;
    this.#source.controller.abort();
    void this.#charge({ responseId: undefined, responseModel: undefined, inputTokens: undefined, outputTokens: undefined, cachedInputTokens: undefined, reasoningTokens: undefined, finishReasons: [] }, false);
  }

  /** Charges what the stream used (the estimate for what it did not report) and resolves the summary. */
  async #charge(seen: Seen, finished: boolean): Promise<void> {
    this.#detach();
    const ending: UsageOutcome = finished || !this.#cancelledByCaller() ? "ok" : usageOutcomeOf(new AbortedError(), this.#signal);
    const outcome: LlmCallOutcome = {
      responseId: seen.responseId,
      responseModel: seen.responseModel,
      inputTokens: seen.inputTokens ?? this.#call.estimatedInputTokens,
      outputTokens: seen.outputTokens ?? this.#call.estimatedOutputTokens,
      cachedInputTokens: seen.cachedInputTokens,
      reasoningTokens: seen.reasoningTokens,
      finishReasons: seen.finishReasons,
      usageExact: seen.inputTokens !== undefined && seen.outputTokens !== undefined,
    };
    try {
      const charged = await this.#call.succeed(outcome, ending);
      this.#resolve({ responseId: seen.responseId, responseModel: seen.responseModel, finishReasons: seen.finishReasons, ...charged, cancelled: !finished });
    } catch (error) {
      this.#reject(error);
    }
  }

  #detach(): void {
    if (this.#onSignalAbort !== undefined) this.#signal?.removeEventListener("abort", this.#onSignalAbort);
  }
}
