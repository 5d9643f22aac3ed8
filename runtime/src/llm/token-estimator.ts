import type { ChatCompletionMessageParam } from "openai/resources/chat/completions";

/**
 * Estimates how many tokens a message costs. Pluggable: budgets and conversation memory accept any
 * function with this shape (a real tokenizer where one is installed).
 */
export type TokenEstimator = (message: ChatCompletionMessageParam) => number;

/** Tokens a chat message costs beyond its text (role markers and separators), as OpenAI documents. */
const MESSAGE_OVERHEAD_TOKENS = 4;

/** Estimated tokens of a text: about four characters per token for English, rounded up. */
export function estimateTextTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

function contentChars(content: unknown): number {
  if (typeof content === "string") return content.length;
  if (Array.isArray(content)) {
    let chars = 0;
    for (const part of content) {
      if (part && typeof part === "object" && "text" in part && typeof part.text === "string") chars += part.text.length;
      else if (part && typeof part === "object" && "refusal" in part && typeof part.refusal === "string") chars += part.refusal.length;
      else chars += 256; // an image or audio part: a flat, conservative allowance
    }
    return chars;
  }
  return 0;
}

/**
 * The default estimator: characters / 4 over the message's text, tool-call names and arguments, plus
 * a fixed per-message overhead. Never returns less than the overhead; deterministic.
 */
export const estimateMessageTokens: TokenEstimator = (message) => {
  let chars = contentChars(message.content);
  if (message.role === "assistant" && message.tool_calls) {
    for (const call of message.tool_calls) {
      if (call.type === "function") chars += call.function.name.length + call.function.arguments.length;
      else chars += call.custom.name.length + call.custom.input.length;
    }
  }
  return MESSAGE_OVERHEAD_TOKENS + Math.ceil(chars / 4);
};

/** Sum of `estimator` over `messages`. */
export function estimateMessagesTokens(
  messages: readonly ChatCompletionMessageParam[],
  estimator: TokenEstimator = estimateMessageTokens,
): number {
  let total = 0;
  for (const message of messages) total += estimator(message);
  return total;
}
