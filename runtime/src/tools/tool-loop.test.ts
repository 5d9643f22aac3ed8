import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LlmClients } from "../llm/llm-clients.js";
import { startMockOpenAiServer } from "../testing/mock-openai-server.js";
import type { MockOpenAiServer } from "../testing/mock-openai-server.js";
import { runToolLoop } from "./tool-loop.js";
import { ToolRegistry } from "./tool-registry.js";

let server: MockOpenAiServer;
beforeAll(async () => {
  server = await startMockOpenAiServer();
});
afterAll(() => server.close());

function setup() {
  const llm = new LlmClients({ config: { acme: { apiKey: "k", baseURL: server.baseURL, defaultModel: "gpt-4o-mini" } } }).forTenant("acme");
  const registry = new ToolRegistry();
  registry.register("search", {
    description: "search the corpus",
    parameters: { type: "object", properties: { q: { type: "string" } }, required: ["q"] },
    factory: () => ({ invoke: (args: unknown) => ({ hits: [`doc about ${(args as { q: string }).q}`] }) }),
  });
  return { llm, tools: registry.forAgent({ tenant: "acme", agentId: { type: "researcher", key: "r1" } }) };
}

describe("runToolLoop", () => {
  it("executes the tools the model asks for and feeds the results back until it answers", async () => {
    server.setBehaviour((req) => {
      const last = req.messages.at(-1);
      if (last?.role === "tool") return { type: "completion", content: `answer from ${String(last.content)}` };
      if (last?.role === "user") return { type: "completion", toolCalls: [{ id: "c1", name: "search", arguments: '{"q":"otters"}' }, { id: "c2", name: "nope", arguments: "{}" }] };
      return { type: "completion", content: "unexpected" };
    });
    const { llm, tools } = setup();
    const result = await runToolLoop({ llm, tools, messages: [{ role: "user", content: "tell me about otters" }] });
    expect(result.iterations).toBe(2);
    expect(result.toolCalls).toBe(2);
    expect(result.messages.map((m) => m.role)).toEqual(["user", "assistant", "tool", "tool", "assistant"]);
    expect(result.messages[2]).toEqual({ role: "tool", tool_call_id: "c1", content: '{"hits":["doc about otters"]}' });
    expect(String(result.messages[3]?.content)).toMatch(/has no tool \\"nope\\"/);
    expect(result.message.content).toMatch(/^answer from/);
    const second = server.requests.at(-1);
    expect(second?.tools.map((t) => t.function?.name)).toEqual(["search"]);
    expect(second?.messages.filter((m) => m.role === "tool").length).toBe(2);
  });

  it("stops after maxIterations when the model keeps asking for tools", async () => {
    server.setBehaviour(() => ({ type: "completion", toolCalls: [{ name: "search", arguments: '{"q":"again"}' }] }));
    const { llm, tools } = setup();
    const before = server.requestCount;
    await expect(runToolLoop({ llm, tools, messages: [{ role: "user", content: "loop" }], maxIterations: 3 })).rejects.toMatchObject({ code: "TOOL_LOOP_LIMIT" });
    expect(server.requestCount - before).toBe(3);
  });
});
