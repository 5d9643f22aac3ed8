/**
 * Which spans are LLM calls: spans whose `gen_ai.operation.name` is an inference operation of the
 * GenAI semantic conventions. Only these count towards a trace's or a conversation's tokens and
 * cost, so usage that an instrumentation also rolls up onto an agent span is never counted twice.
 */
export const LLM_OPERATIONS: readonly string[] = ["chat", "text_completion", "generate_content", "embeddings"];

/** SQL predicate over the `operation` column: the span is an LLM call (fixed text, no values spliced in). */
export const IS_LLM_SPAN_SQL = `operation IN (${LLM_OPERATIONS.map((op) => `'${op}'`).join(", ")})`;

/** Whether a span with this operation is an LLM call. */
export function isLlmOperation(operation: string): boolean {
  return LLM_OPERATIONS.includes(operation);
}
