import { randomUUID } from "node:crypto";
import type { ChatCompletionMessageParam } from "openai/resources/chat/completions";
import { InvalidArgumentError } from "../errors.js";
import { estimateMessageTokens } from "../llm/token-estimator.js";
import type { TokenEstimator } from "../llm/token-estimator.js";

/**
 * Condenses pruned messages into a summary. Gets the messages being pruned (oldest first) and the
 * previous summary, if any; returns the new summary text. May call an LLM.
 */
export type Summarizer = (pruned: readonly ChatCompletionMessageParam[], previousSummary: string | undefined) => Promise<string>;

/** Options of ConversationMemory. */
export interface ConversationMemoryOptions {
  /** Most messages kept in history (the system prompt and summary not counted). Default 50. */
  readonly maxMessages?: number;
  /** Most estimated tokens of history plus summary. Default 8,000. */
  readonly maxTokens?: number;
  /** Longest summary kept, in estimated tokens (cut beyond). Default maxTokens / 4. */
  readonly maxSummaryTokens?: number;
  /** Default: characters / 4 plus a per-message overhead. */
  readonly estimator?: TokenEstimator;
  /** Without one, pruned messages are dropped (and counted). */
  readonly summarizer?: Summarizer;
  /** A system prompt always sent first, never pruned or counted. */
  readonly systemPrompt?: string;
  /** The conversation's id (1-128 printable characters). Default: a random UUID. */
  readonly conversationId?: string;
}

/** What ConversationMemory serializes into agent state. JSON only. */
export interface ConversationMemorySnapshot {
  readonly version: 1;
  readonly messages: ChatCompletionMessageParam[];
  readonly summary: string | undefined;
  readonly prunedCount: number;
  /** Absent in snapshots taken before conversations had ids. */
  readonly conversationId?: string;
}

const SUMMARY_PREFIX = "Summary of the earlier conversation:\n";

/**
 * A chat agent's history, bounded by message count and estimated tokens. When a bound is passed the
 * oldest messages are pruned (an assistant message with tool calls is pruned together with its tool
 * results, so the history never starts with an orphan tool message) and handed to the summarizer,
 * whose result is kept as one system message after the system prompt. The newest message is always
 * kept, even when it alone exceeds maxTokens. If the summarizer fails, the messages it was given
 * are put back (nothing is lost; bounds are restored by a later `add`) and `add` rejects with its
 * error. Mutations are serialized: concurrent `add`s apply in call order.
 */
export class ConversationMemory {
  readonly #maxMessages: number;
  readonly #maxTokens: number;
  readonly #maxSummaryTokens: number;
  readonly #estimator: TokenEstimator;
  readonly #summarizer: Summarizer | undefined;
  readonly #systemPrompt: string | undefined;
  #conversationId: string;
  #messages: ChatCompletionMessageParam[] = [];
  #tokens: number[] = [];
  #summary: string | undefined;
  #prunedCount = 0;
  #queue: Promise<void> = Promise.resolve();

  constructor(options: ConversationMemoryOptions = {}) {
    this.#maxMessages = options.maxMessages ?? 50;
    this.#maxTokens = options.maxTokens ?? 8_000;
    this.#maxSummaryTokens = options.maxSummaryTokens ?? Math.floor(this.#maxTokens / 4);
    for (const [name, value] of [["maxMessages", this.#maxMessages], ["maxTokens", this.#maxTokens], ["maxSummaryTokens", this.#maxSummaryTokens]] as const) {
      if (!Number.isInteger(value) || value < 1) throw new InvalidArgumentError(`ConversationMemory ${name} must be a positive integer; got ${value}`);
    }
    this.#estimator = options.estimator ?? estimateMessageTokens;
    this.#summarizer = options.summarizer;
    this.#systemPrompt = options.systemPrompt;
    this.#conversationId = checkedConversationId(options.conversationId ?? randomUUID());
  }

  /**
   * Restores a memory from `toJSON()` output (validated), with the given options. The restored
   * memory keeps the snapshot's conversation id (a snapshot without one takes the options' id, or a new one).
   */
  static fromJSON(snapshot: unknown, options: ConversationMemoryOptions = {}): ConversationMemory {
    const s = snapshot as Partial<ConversationMemorySnapshot> | null;
    if (!s || s.version !== 1 || !Array.isArray(s.messages) || (s.summary !== undefined && typeof s.summary !== "string") || typeof s.prunedCount !== "number") {
      throw new InvalidArgumentError("not a ConversationMemory snapshot (expected { version: 1, messages, summary, prunedCount })");
    }
    const memory = new ConversationMemory(options);
    if (s.conversationId !== undefined) memory.#conversationId = checkedConversationId(s.conversationId);
    memory.#messages = [...s.messages];
    memory.#tokens = memory.#messages.map((m) => memory.#estimator(m));
    memory.#summary = s.summary;
    memory.#prunedCount = s.prunedCount;
    return memory;
  }

  /** Appends messages, then prunes (and summarizes) until both bounds hold. */
  add(...messages: ChatCompletionMessageParam[]): Promise<void> {
    const run = this.#queue.then(async () => {
      for (const message of messages) {
        this.#messages.push(message);
        this.#tokens.push(this.#estimator(message));
      }
      await this.#prune();
    });
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /** The messages to send: system prompt, summary (if any), then the kept history. */
  messages(): ChatCompletionMessageParam[] {
    const out: ChatCompletionMessageParam[] = [];
    if (this.#systemPrompt !== undefined) out.push({ role: "system", content: this.#systemPrompt });
    if (this.#summary !== undefined) out.push({ role: "system", content: SUMMARY_PREFIX + this.#summary });
    out.push(...this.#messages);
    return out;
  }

  /**
   * The conversation's id, stable for the memory's life and across `toJSON`/`fromJSON`. Pass it as
   * the LLM calls' `conversationId` so their spans carry `gen_ai.conversation.id`.
   */
  get conversationId(): string {
    return this.#conversationId;
  }

  /** The current summary of pruned messages. */
  get summary(): string | undefined {
    return this.#summary;
  }

  /** Messages pruned so far (summarized or dropped). */
  get prunedCount(): number {
    return this.#prunedCount;
  }

  /** Messages kept in history. */
  get length(): number {
    return this.#messages.length;
  }

  /** Estimated tokens of history plus summary (what maxTokens bounds). */
  get tokens(): number {
    return this.#historyTokens() + this.#summaryTokens();
  }

  /** A JSON snapshot for agent state. */
  toJSON(): ConversationMemorySnapshot {
    return { version: 1, messages: [...this.#messages], summary: this.#summary, prunedCount: this.#prunedCount, conversationId: this.#conversationId };
  }

  #historyTokens(): number {
    let total = 0;
    for (const t of this.#tokens) total += t;
    return total;
  }

  #summaryMessage(summary: string): ChatCompletionMessageParam {
    return { role: "system", content: SUMMARY_PREFIX + summary };
  }

  #summaryTokens(): number {
    return this.#summary === undefined ? 0 : this.#estimator(this.#summaryMessage(this.#summary));
  }

  /** Tokens to keep free for the summary while pruning: the larger of today's and a capped one. */
  #summaryRoom(willSummarize: boolean): number {
    if (!this.#summarizer || (!willSummarize && this.#summary === undefined)) return this.#summaryTokens();
    return Math.max(this.#summaryTokens(), this.#estimator(this.#summaryMessage("x".repeat(this.#maxSummaryTokens * 4))));
  }

  #over(room: number): boolean {
    return this.#messages.length > this.#maxMessages || this.#historyTokens() + room > this.#maxTokens;
  }

  /** How many of the oldest messages form the next prunable group (an assistant turn with its tool results). */
  #groupLength(): number {
    let n = 1;
    while (this.#messages[n]?.role === "tool") n++; // never leave an orphan tool message at the front
    return Math.min(n, this.#messages.length - 1);
  }

  #takeOldestGroup(): ChatCompletionMessageParam[] {
    const n = this.#groupLength();
    this.#tokens.splice(0, n);
    return this.#messages.splice(0, n);
  }

  async #prune(): Promise<void> {
    const pruned: ChatCompletionMessageParam[] = [];
    while (this.#messages.length > 1 && this.#over(this.#summaryRoom(pruned.length > 0))) pruned.push(...this.#takeOldestGroup());
    if (pruned.length === 0) return;
    this.#prunedCount += pruned.length;
    if (!this.#summarizer) return;
    await this.#summarize(pruned);
    // A custom estimator may price the summary above the room kept for it: fold more history in.
    while (this.#messages.length > 1 && this.#over(this.#summaryTokens())) {
      const more = this.#takeOldestGroup();
      this.#prunedCount += more.length;
      await this.#summarize(more);
    }
  }

  /** Summarizes `pruned` into the summary; when the summarizer fails, puts them back and re-throws. */
  async #summarize(pruned: readonly ChatCompletionMessageParam[]): Promise<void> {
    let summary: string;
    try {
      summary = await this.#summarizer!(pruned, this.#summary);
      if (typeof summary !== "string") throw new TypeError(`the summarizer returned ${typeof summary}, not a string`);
    } catch (error) {
      this.#messages.unshift(...pruned);
      this.#tokens.unshift(...pruned.map((m) => this.#estimator(m)));
      this.#prunedCount -= pruned.length;
      throw error;
    }
    const maxChars = this.#maxSummaryTokens * 4;
    this.#summary = summary.length > maxChars ? summary.slice(0, maxChars) : summary;
  }
}

function checkedConversationId(id: unknown): string {
  if (typeof id !== "string" || id.length < 1 || id.length > 128 || /[\u0000-\u001f\u007f]/.test(id)) {
    throw new InvalidArgumentError("ConversationMemory conversationId must be 1-128 printable characters");
  }
  return id;
}
