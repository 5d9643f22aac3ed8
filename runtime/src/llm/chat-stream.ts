import type { ChatCompletionChunk } from "openai/resources/chat/completions";
import { AbortedError } from "../errors.js";
import type { LlmCall } from "./llm-call.js";

/** What a stream reported once it ended: exact usage from the provider's final chunk, and the cost. */
export interface ChatStreamSummary {
  readonly responseId: string | undefined;
  readonly responseModel: string | undefined;
  readonly inputTokens: number;
  readonly outputTokens: number;
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

/**
 * The chunks of one streaming chat completion, readable once. The call's span ends, and its usage
 * is charged, when the stream ends:
 * - read to the end: the exact usage of the provider's final chunk (`include_usage` is always set);
 * - the consumer stops early (break/return): the request is aborted and the reservation's estimate
 *   is charged, since the provider may already have generated those tokens;
 * - the provider fails mid-stream: the reservation is released (not charged), iteration throws
 *   LlmProviderError;
 * - `abort()` or the caller's signal: as an early stop, and iteration throws AbortedError.
 */
export class ChatStream implements AsyncIterable<ChatCompletionChunk> {
  readonly #source: ChunkSource;
  readonly #call: LlmCall;
  readonly #summary: Promise<ChatStreamSummary>;
  #resolve!: (summary: ChatStreamSummary) => void;
  #reject!: (error: unknown) => void;
  readonly #signal: AbortSignal | undefined;
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
  }

  /** Resolves when the stream ended, with exact usage and cost; rejects when it failed. */
  done(): Promise<ChatStreamSummary> {
    return this.#summary;
  }

  /** Stops the stream (the request is aborted); usage is charged as for an early break. */
  abort(): void {
    this.#aborted = true;
    this.#source.controller.abort();
  }

  #cancelledByCaller(): boolean {
    return this.#aborted || this.#signal?.aborted === true;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<ChatCompletionChunk> {
    if (this.#iterated) throw new TypeError("a ChatStream can be iterated only once");
    this.#iterated = true;
    let responseId: string | undefined;
    let responseModel: string | undefined;
    let inputTokens: number | undefined;
    let outputTokens: number | undefined;
    const finishReasons: string[] = [];
    let finished = false;
    try {
      for await (const chunk of this.#source) {
        responseId ??= chunk.id;
        responseModel ??= chunk.model;
        for (const choice of chunk.choices) if (choice.finish_reason) finishReasons.push(choice.finish_reason);
        if (chunk.usage) {
          inputTokens = chunk.usage.prompt_tokens;
          outputTokens = chunk.usage.completion_tokens;
        }
        yield chunk;
      }
      if (this.#cancelledByCaller()) throw new AbortedError("the stream was aborted before it ended");
      finished = true;
    } catch (error) {
      if (this.#cancelledByCaller()) throw new AbortedError("the stream was aborted before it ended");
      const typed = await this.#call.fail(error);
      this.#reject(typed);
      throw typed;
    } finally {
      if (!this.#call.settled) {
        if (!finished) this.#source.controller.abort();
        const exact = inputTokens !== undefined && outputTokens !== undefined;
        const outcome = {
          responseId,
          responseModel,
          inputTokens: inputTokens ?? this.#call.estimatedInputTokens,
          outputTokens: outputTokens ?? this.#call.estimatedOutputTokens,
          finishReasons,
          usageExact: exact,
        };
        try {
          const charged = await this.#call.succeed(outcome);
          this.#resolve({ ...outcome, ...charged, cancelled: !finished });
        } catch (error) {
          this.#reject(error);
        }
      }
    }
  }
}
