// @troupe/runtime/testing: what an application's own tests use to run Troupe without a paid LLM API.
// A deliberate, documented API that ships in dist/; the runtime's internal test tools
// (`<folder>/testing/`) do not.

/**
 * A local server speaking the OpenAI chat completions protocol (JSON and streaming, usage, tool
 * calls, error statuses), so tests exercise the real `openai` client end to end; the behaviours
 * decide what it answers.
 */
export { startMockOpenAiServer, echoBehaviour, sequenceBehaviour, mockPromptTokens } from "./mock-openai-server.js";
export type { MockOpenAiServer, MockOpenAiServerOptions, MockBehaviour, MockReply, MockChatRequest, MockToolCall } from "./mock-openai-server.js";
