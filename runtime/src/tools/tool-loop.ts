import type { ChatCompletionMessage, ChatCompletionMessageParam } from "openai/resources/chat/completions";
import { AbortedError, ToolError, TroupeError } from "../errors.js";
import type { ChatParams, LlmCallOptions, TenantLlm } from "../llm/tenant-llm.js";
import type { AgentTools } from "./agent-tools.js";

/** Options of runToolLoop. */
export interface ToolLoopOptions {
  readonly llm: TenantLlm;
  readonly tools: AgentTools;
  /** The conversation so far; not modified (the result carries the extended transcript). */
  readonly messages: readonly ChatCompletionMessageParam[];
  /** Other chat parameters (model, max_tokens, temperature...). `tools` is set from `tools`. */
  readonly params?: Omit<ChatParams, "messages" | "tools">;
  /** Model round-trips allowed before giving up with ToolError("TOOL_LOOP_LIMIT"). Default 8. */
  readonly maxIterations?: number;
  readonly callOptions?: LlmCallOptions;
}

/** The model's final answer and what it took to get there. */
export interface ToolLoopResult {
  /** The last assistant message (no tool calls). */
  readonly message: ChatCompletionMessage;
  /** `messages` plus every assistant and tool message of the loop. */
  readonly messages: ChatCompletionMessageParam[];
  /** Model calls made. */
  readonly iterations: number;
  /** Tool calls executed. */
  readonly toolCalls: number;
}

/** Errors that end the loop instead of being shown to the model as a failed tool result. */
function isFatal(error: unknown): boolean {
  return error instanceof AbortedError || (error instanceof ToolError && (error.code === "TOOL_RATE_LIMITED" || error.code === "TOOL_SHARED" || error.code === "TOOL_INVALID"));
}

/**
 * Runs the OpenAI tool-call loop: ask the model; while it asks for tools, execute them (in order,
 * through `tools`, so each call is traced and rate-limited) and feed the results back; stop at the
 * first answer without tool calls. Bounded by `maxIterations` model calls. A tool that fails with
 * bad arguments, an unknown name or its own error is reported to the model as `{"error": "..."}`
 * so it can recover; rate limits, sharing violations and aborts end the loop with their error.
 */
export async function runToolLoop(options: ToolLoopOptions): Promise<ToolLoopResult> {
  const maxIterations = options.maxIterations ?? 8;
  if (!Number.isInteger(maxIterations) || maxIterations < 1) throw new ToolError("TOOL_INVALID", `maxIterations must be a positive integer; got ${maxIterations}`);
  const messages: ChatCompletionMessageParam[] = [...options.messages];
  const definitions = options.tools.definitions();
  const callOptions = options.callOptions ?? { agent: options.tools.scope.agentId };
  let toolCalls = 0;
  for (let iteration = 1; iteration <= maxIterations; iteration++) {
    const completion = await options.llm.chat(
      { ...options.params, messages, ...(definitions.length > 0 ? { tools: definitions } : {}) },
      callOptions,
    );
    const message = completion.choices[0]?.message;
    if (!message) throw new ToolError("TOOL_LOOP_FAILED", "the model returned no choices");
    messages.push(toAssistantParam(message));
    const calls = message.tool_calls ?? [];
    if (calls.length === 0) return { message, messages, iterations: iteration, toolCalls };
    for (const call of calls) {
      toolCalls++;
      let content: string;
      if (call.type !== "function") {
        content = JSON.stringify({ error: `custom tool calls are not supported; use function tools` });
      } else {
        try {
          content = await options.tools.call(call.function.name, call.function.arguments, { callId: call.id, ...(callOptions.signal ? { signal: callOptions.signal } : {}) });
        } catch (error) {
          if (isFatal(error)) throw error;
          content = JSON.stringify({ error: error instanceof TroupeError ? error.message : String(error) });
        }
      }
      messages.push({ role: "tool", tool_call_id: call.id, content });
    }
  }
  throw new ToolError("TOOL_LOOP_LIMIT", `the model still asked for tools after ${maxIterations} iterations; stopped (raise maxIterations if this is expected)`);
}

function toAssistantParam(message: ChatCompletionMessage): ChatCompletionMessageParam {
  return {
    role: "assistant",
    content: message.content,
    ...(message.tool_calls && message.tool_calls.length > 0 ? { tool_calls: message.tool_calls } : {}),
  };
}
