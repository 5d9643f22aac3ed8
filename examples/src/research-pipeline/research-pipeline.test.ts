import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { context } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AgentId, ATTR, BudgetExceededError, HandlerError, Runtime, SPAN_ATTRIBUTE_ALLOW_LIST } from "@troupe/runtime";
import { LlmClients, ToolRegistry } from "@troupe/runtime/llm";
import type { TenantLlmConfigInput } from "@troupe/runtime/llm";
import { EncryptedStateStore, FileBlobStore, MasterKeyring } from "@troupe/runtime/state";
import { startMockOpenAiServer } from "@troupe/runtime/testing";
import type { MockOpenAiServer } from "@troupe/runtime/testing";
import { registerResearchPipeline, runResearch, simulatedResearchModel } from "./index.js";

const contextManager = new AsyncLocalStorageContextManager();
let server: MockOpenAiServer;
let dir: string;
beforeAll(async () => {
  context.setGlobalContextManager(contextManager.enable());
  server = await startMockOpenAiServer({ behaviour: simulatedResearchModel() });
  dir = await mkdtemp(join(tmpdir(), "troupe-research-"));
});
afterAll(async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true });
  context.disable();
});

function setup(configs: Record<string, Partial<TenantLlmConfigInput>>) {
  const exporter = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const llm = new LlmClients({
    config: Object.fromEntries(Object.entries(configs).map(([t, c]) => [t, { apiKey: `sk-${t}`, baseURL: server.baseURL, defaultModel: "gpt-4o-mini", ...c }])),
    tracerProvider,
  });
  const tools = new ToolRegistry({ tracerProvider });
  const stateStore = new EncryptedStateStore({ blobs: new FileBlobStore(dir, { fsync: false }), keys: MasterKeyring.single(Buffer.alloc(32, 3)) });
  const runtime = new Runtime({ tracerProvider, stateStore, passivation: { idleMs: 50, sweepIntervalMs: 10 } });
  registerResearchPipeline(runtime, { llm, tools });
  return { exporter, llm, runtime, stateStore };
}

describe("research pipeline example", () => {
  it("plans, researches with the tenant's search tool, writes a report; every step traced with metadata only", async () => {
    const { exporter, llm, runtime } = setup({ acme: {}, globex: {} });
    await runtime.start();
    try {
      const [a, g] = await Promise.all([
        runResearch(runtime.tenant("acme"), "token budgets", { key: "r1" }),
        runResearch(runtime.tenant("globex"), "actor model", { key: "r1" }),
      ]);
      expect(a.questions).toEqual(["What is token budgets?", "How is token budgets used in practice?", "What are the risks of token budgets?"]);
      expect(a.findings).toHaveLength(3);
      expect(a.findings.every((f) => f.toolCalls === 1 && /Based on "/.test(f.answer))).toBe(true);
      expect(a.report).toMatch(/draws on 3 finding/);
      expect(g.topic).toBe("actor model");

      const spans = exporter.getFinishedSpans();
      const chats = spans.filter((s) => s.name.startsWith("chat "));
      const tools = spans.filter((s) => s.name === "execute_tool search");
      // Per tenant: 1 planner call + 3 researchers x 2 calls + 1 writer call = 8 chat calls, 3 searches.
      expect(chats.filter((s) => s.attributes[ATTR.tenantId] === "acme")).toHaveLength(8);
      expect(tools.filter((s) => s.attributes[ATTR.tenantId] === "globex")).toHaveLength(3);
      expect(new Set(chats.map((s) => s.attributes[ATTR.agentType]))).toEqual(new Set(["planner", "researcher", "writer"]));
      // Chat spans nest under the runtime's invoke_agent spans.
      const invokeIds = new Set(spans.filter((s) => s.name.startsWith("invoke_agent")).map((s) => s.spanContext().spanId));
      expect(chats.every((s) => invokeIds.has(s.parentSpanContext?.spanId ?? ""))).toBe(true);
      for (const span of spans) {
        for (const key of Object.keys(span.attributes)) expect(SPAN_ATTRIBUTE_ALLOW_LIST.has(key), `${span.name}: ${key}`).toBe(true);
        expect(JSON.stringify(span.attributes)).not.toMatch(/token budgets|actor model|Based on/);
      }
      expect(llm.metrics.snapshot("acme").succeeded).toBe(8);
      expect(llm.metrics.snapshot("globex").costUsd).toBeGreaterThan(0);
    } finally {
      await runtime.stop();
    }
  });

  it("passivates a researcher with its memory encrypted in the state store and restores it, conversation id included", async () => {
    const { exporter, runtime, stateStore } = setup({ acme: {} });
    await runtime.start();
    try {
      await runResearch(runtime.tenant("acme"), "conversation memory", { key: "mem" });
      const researcher = new AgentId("researcher", "mem.0");
      let saved: unknown;
      for (let i = 0; i < 100 && saved === undefined; i++) {
        await new Promise((r) => setTimeout(r, 20));
        saved = await stateStore.load("acme" as never, researcher);
      }
      expect(saved).toMatchObject({ version: 1, messages: [{ role: "user", content: "What is conversation memory?" }, { role: "assistant" }] });
      // Re-activation restores the memory: the next question is sent with the earlier exchange.
      await runtime.tenant("acme").send(researcher, { question: "And the follow-up?" });
      const request = server.requests.filter((r) => r.messages.at(-1)?.content === "And the follow-up?").at(-1);
      expect(request?.messages.some((m) => m.content === "What is conversation memory?")).toBe(true);
      // The researcher's chat spans, before and after passivation, carry its memory's conversation id.
      const conversationId = (saved as { conversationId: string }).conversationId;
      expect(conversationId).toMatch(/^[0-9a-f-]{36}$/);
      const researcherChats = exporter.getFinishedSpans().filter((s) => s.name.startsWith("chat ") && s.attributes[ATTR.agentType] === "researcher");
      const byConversation = researcherChats.filter((s) => s.attributes[ATTR.genAiConversationId] === conversationId);
      expect(new Set(byConversation.map((s) => s.spanContext().traceId)).size).toBe(2);
      expect(new Set(researcherChats.map((s) => s.attributes[ATTR.genAiConversationId])).size).toBe(3);
      expect(exporter.getFinishedSpans().filter((s) => !s.name.startsWith("chat ")).every((s) => s.attributes[ATTR.genAiConversationId] === undefined)).toBe(true);
    } finally {
      await runtime.stop();
    }
  });

  it("stops at the tenant's budget with BudgetExceededError", async () => {
    const { runtime } = setup({ poor: { budget: { tokensPerDay: 500 } } });
    await runtime.start();
    try {
      const error = await runResearch(runtime.tenant("poor"), "cost attribution").catch((e: unknown) => e);
      expect(error).toBeInstanceOf(HandlerError);
      expect((error as HandlerError).cause).toBeInstanceOf(BudgetExceededError);
    } finally {
      await runtime.stop();
    }
  });
});
