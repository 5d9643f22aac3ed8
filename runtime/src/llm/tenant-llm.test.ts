import { context, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import type { ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { AbortedError, BudgetExceededError, BudgetLedgerUnavailableError, InvalidArgumentError, LlmProviderError, RateLimitedError } from "../errors.js";
import { ATTR, SPAN_ATTRIBUTE_ALLOW_LIST } from "@troupe/contract";
import type { BudgetLedger } from "./budget-ledger.js";
import { InMemoryBudgetLedger } from "./in-memory-budget-ledger.js";
import { LlmClients } from "./llm-clients.js";
import { PostgresBudgetLedger } from "./postgres-budget-ledger.js";
import type { TenantLlmConfigInput } from "./tenant-llm-config.js";
import { echoBehaviour, sequenceBehaviour, startMockOpenAiServer } from "../testing/mock-openai-server.js";
import type { MockOpenAiServer } from "../testing/mock-openai-server.js";

const SECRET_PROMPT = "the-secret-prompt-text-7f3a";

let server: MockOpenAiServer;
const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const contextManager = new AsyncLocalStorageContextManager();

beforeAll(async () => {
  context.setGlobalContextManager(contextManager.enable());
  server = await startMockOpenAiServer();
});
afterAll(async () => {
  await server.close();
  context.disable();
});
afterEach(() => {
  exporter.reset();
  server.setBehaviour(echoBehaviour);
  server.reset();
});

function clients(config: Partial<TenantLlmConfigInput> = {}, tenants: string[] = ["acme"], ledger?: BudgetLedger): LlmClients {
  const base: TenantLlmConfigInput = {
    apiKey: "sk-test",
    baseURL: server.baseURL,
    defaultModel: "gpt-4o-mini",
    provider: "openai",
    retry: { baseDelayMs: 1, maxDelayMs: 5 },
    ...config,
  };
  return new LlmClients({ config: Object.fromEntries(tenants.map((t) => [t, base])), tracerProvider: provider, ...(ledger ? { ledger } : {}) });
}

function chatSpans(): ReadableSpan[] {
  return exporter.getFinishedSpans().filter((s) => s.name.startsWith("chat "));
}

const userMessage = [{ role: "user" as const, content: `hello ${SECRET_PROMPT}` }];

describe("TenantLlm.chat", () => {
  it("calls the server through the real openai client and records exact usage on a chat span", async () => {
    server.setBehaviour(() => ({ type: "completion", content: "hi there", usage: { promptTokens: 17, completionTokens: 5 } }));
    const llm = clients().forTenant("acme");
    const completion = await llm.chat({ messages: userMessage, max_tokens: 50 }, { agent: { type: "planner" } });
    expect(completion.choices[0]?.message.content).toBe("hi there");
    const [span] = chatSpans();
    expect(span?.name).toBe("chat gpt-4o-mini");
    expect(span?.kind).toBe(2); // SpanKind.CLIENT
    expect(span?.attributes[ATTR.genAiOperation]).toBe("chat");
    expect(span?.attributes[ATTR.genAiProvider]).toBe("openai");
    expect(span?.attributes[ATTR.genAiRequestModel]).toBe("gpt-4o-mini");
    expect(span?.attributes[ATTR.genAiResponseModel]).toBe("gpt-4o-mini");
    expect(span?.attributes[ATTR.genAiInputTokens]).toBe(17);
    expect(span?.attributes[ATTR.genAiOutputTokens]).toBe(5);
    expect(span?.attributes[ATTR.genAiFinishReasons]).toEqual(["stop"]);
    expect(span?.attributes[ATTR.genAiResponseId]).toBe(completion.id);
    expect(span?.attributes[ATTR.tenantId]).toBe("acme");
    expect(span?.attributes[ATTR.agentType]).toBe("planner");
    // gpt-4o-mini: $0.15 in, $0.60 out per 1M tokens
    expect(span?.attributes[ATTR.llmCostUsd]).toBeCloseTo((17 * 0.15 + 5 * 0.6) / 1e6, 12);
    expect(server.requests.at(-1)?.authorization).toBe("Bearer sk-test");
  });

  it("labels chat spans of a simulated model, and only those", async () => {
    await clients({ simulated: true }).forTenant("acme").chat({ messages: userMessage });
    await clients().forTenant("acme").chat({ messages: userMessage });
    expect(chatSpans().map((s) => s.attributes[ATTR.llmSimulated])).toEqual([true, undefined]);
  });

  it("records the call's conversation on its chat span, and nothing when it names none", async () => {
    const llm = clients().forTenant("acme");
    await llm.chat({ messages: userMessage }, { agent: { type: "researcher" }, conversationId: "conv-7" });
    await llm.chat({ messages: userMessage }, { agent: { type: "researcher" } });
    expect(chatSpans().map((s) => s.attributes[ATTR.genAiConversationId])).toEqual(["conv-7", undefined]);
  });

  it("nests the chat span under the active span", async () => {
    const llm = clients().forTenant("acme");
    const tracer = provider.getTracer("test");
    await tracer.startActiveSpan("invoke_agent planner", async (parent) => {
      await llm.chat({ messages: userMessage });
      parent.end();
    });
    const parent = exporter.getFinishedSpans().find((s) => s.name === "invoke_agent planner");
    const [chat] = chatSpans();
    expect(chat?.parentSpanContext?.spanId).toBe(parent?.spanContext().spanId);
    expect(chat?.spanContext().traceId).toBe(parent?.spanContext().traceId);
  });

  it("returns tool calls and never puts prompts, completions or tool arguments on spans", async () => {
    server.setBehaviour(() => ({ type: "completion", content: `completion ${SECRET_PROMPT}`, toolCalls: [{ name: "search", arguments: `{"q":"${SECRET_PROMPT}"}` }] }));
    const llm = clients().forTenant("acme");
    const completion = await llm.chat({
      messages: userMessage,
      tools: [{ type: "function", function: { name: "search", description: "search", parameters: { type: "object", properties: { q: { type: "string" } } } } }],
    });
    const call = completion.choices[0]?.message.tool_calls?.[0];
    expect(call?.type === "function" && call.function.name).toBe("search");
    const stream = await llm.chatStream({ messages: userMessage });
    for await (const _ of stream) void _;
    const spans = exporter.getFinishedSpans();
    expect(spans.length).toBe(2);
    for (const span of spans) {
      for (const key of Object.keys(span.attributes)) expect(SPAN_ATTRIBUTE_ALLOW_LIST.has(key), key).toBe(true);
      const text = JSON.stringify({ a: span.attributes, e: span.events, s: span.status, n: span.name });
      expect(text).not.toContain(SECRET_PROMPT);
    }
  });

  it("rejects unknown tenants and invalid configuration with clear errors", () => {
    const c = clients();
    expect(() => c.forTenant("nobody")).toThrow(/tenant "nobody" has no LLM configuration/);
    const bad = new LlmClients({ config: { acme: { apiKey: "", defaultModel: "x", baseURL: "not a url" } } });
    expect(() => bad.forTenant("acme")).toThrow(InvalidArgumentError);
    expect(() => bad.forTenant("acme")).toThrow(/apiKey/);
  });

  it("picks up a changed configuration on the next call", async () => {
    const configs = new Map<string, TenantLlmConfigInput>([["acme", { apiKey: "sk-1", baseURL: server.baseURL, defaultModel: "model-a" }]]);
    const c = new LlmClients({ config: (t) => configs.get(t), tracerProvider: provider });
    await c.forTenant("acme").chat({ messages: userMessage });
    configs.set("acme", { apiKey: "sk-2", baseURL: server.baseURL, defaultModel: "model-b" });
    await c.forTenant("acme").chat({ messages: userMessage });
    expect(server.requests.slice(-2).map((r) => [r.model, r.authorization])).toEqual([
      ["model-a", "Bearer sk-1"],
      ["model-b", "Bearer sk-2"],
    ]);
  });
});

describe("retries", () => {
  it("retries a 429, honouring retry-after-ms, and attributes the retry to the tenant", async () => {
    server.setBehaviour(sequenceBehaviour([{ type: "error", status: 429, retryAfterMs: 60 }, { type: "completion", content: "ok" }]));
    const c = clients();
    const started = performance.now();
    await c.forTenant("acme").chat({ messages: userMessage });
    expect(performance.now() - started).toBeGreaterThanOrEqual(50);
    expect(server.requestCount).toBe(2);
    expect(chatSpans()[0]?.attributes[ATTR.llmRetryCount]).toBe(1);
    const m = c.metrics.snapshot("acme");
    expect(m).toMatchObject({ calls: 1, succeeded: 1, retries: 1, status429: 1, failed: 0 });
  });

  it("gives up after the bounded retries with LlmProviderError and charges nothing", async () => {
    server.setBehaviour(() => ({ type: "error", status: 500 }));
    const c = clients({ retry: { maxRetries: 2, baseDelayMs: 1, maxDelayMs: 2 }, budget: { tokensPerDay: 100_000 } });
    const llm = c.forTenant("acme");
    const error = await llm.chat({ messages: userMessage }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LlmProviderError);
    expect((error as LlmProviderError).status).toBe(500);
    expect(server.requestCount).toBe(3);
    expect((await llm.budgetUsage()).tokensToday).toBe(0);
    const [span] = chatSpans();
    expect(span?.status.code).toBe(2);
    expect(span?.attributes[ATTR.errorType]).toBe("500");
    expect(span?.attributes[ATTR.llmRetryCount]).toBe(2);
    expect(c.metrics.snapshot("acme")).toMatchObject({ status5xx: 3, retries: 2, failed: 1 });
  });

  it("does not retry a 400 and refuses a Retry-After longer than the tenant may wait", async () => {
    server.setBehaviour(() => ({ type: "error", status: 400 }));
    const llm = clients().forTenant("acme");
    await expect(llm.chat({ messages: userMessage })).rejects.toBeInstanceOf(LlmProviderError);
    expect(server.requestCount).toBe(1);
    server.setBehaviour(() => ({ type: "error", status: 429, retryAfterSeconds: 3600 }));
    await expect(llm.chat({ messages: userMessage })).rejects.toThrow(/retry after 3600000 ms/);
    expect(server.requestCount).toBe(2);
  });

  it("stops waiting when the caller aborts", async () => {
    server.setBehaviour(() => ({ type: "completion", content: "late", delayMs: 2_000 }));
    const llm = clients().forTenant("acme");
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const started = performance.now();
    await expect(llm.chat({ messages: userMessage }, { signal: controller.signal })).rejects.toBeInstanceOf(AbortedError);
    expect(performance.now() - started).toBeLessThan(1_500);
  });
});

describe("budgets", () => {
  it("rejects before any HTTP request when over budget, with an error span", async () => {
    const c = clients({ budget: { tokensPerDay: 100 } });
    const llm = c.forTenant("acme");
    const before = server.requestCount;
    const error = await llm.chat({ messages: userMessage, max_tokens: 200 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BudgetExceededError);
    expect((error as BudgetExceededError).message).toMatch(/tokens used today/);
    expect(server.requestCount).toBe(before);
    const [span] = chatSpans();
    expect(span?.attributes[ATTR.outcome]).toBe("budget_rejected");
    expect(span?.attributes[ATTR.errorType]).toBe("BUDGET_EXCEEDED");
    expect(span?.attributes[ATTR.budgetRemainingTokens]).toBe(100);
    expect(c.metrics.snapshot("acme").rejectedBudget).toBe(1);
  });

  it("settles the real usage after the call", async () => {
    server.setBehaviour(() => ({ type: "completion", content: "x", usage: { promptTokens: 10, completionTokens: 3 } }));
    const llm = clients({ budget: { tokensPerDay: 10_000, costUsdPerMonth: 1 } }).forTenant("acme");
    await llm.chat({ messages: userMessage, max_tokens: 500 });
    const usage = await llm.budgetUsage();
    expect(usage.tokensToday).toBe(13);
    expect(usage.tokensThisMonth).toBe(13);
    expect(usage.costUsdThisMonth).toBeCloseTo((10 * 0.15 + 3 * 0.6) / 1e6, 12);
    expect(usage.remainingTokens).toBe(10_000 - 13);
  });

  it("charges the estimate when the provider reports usage that is not a whole token count", async () => {
    server.setBehaviour(() => ({ type: "completion", content: "x", usage: { promptTokens: -7, completionTokens: 2.5 } }));
    const c = clients({ budget: { tokensPerDay: 10_000 } });
    const llm = c.forTenant("acme");
    await llm.chat({ messages: userMessage, max_tokens: 40 });
    const [span] = chatSpans();
    const input = span?.attributes[ATTR.genAiInputTokens] as number;
    expect(Number.isSafeInteger(input) && input > 0).toBe(true);
    expect(span?.attributes[ATTR.genAiOutputTokens]).toBe(40);
    expect((await llm.budgetUsage()).tokensToday).toBe(input + 40);
    expect(c.metrics.snapshot("acme").succeeded).toBe(1);
  });

  it("says the budget ledger is unreachable, not the provider, and makes no call", async () => {
    const ledger = new PostgresBudgetLedger({ connectionString: "postgres://postgres@127.0.0.1:1/test", maxConnections: 1 });
    const llm = clients({ budget: { tokensPerDay: 10_000 } }, ["acme"], ledger).forTenant("acme");
    const error = await llm.chat({ messages: userMessage, max_tokens: 20 }).catch((e: unknown) => e);
    await ledger.close();
    expect(error).toBeInstanceOf(BudgetLedgerUnavailableError);
    expect((error as Error).message).toMatch(/budget ledger of tenant "acme" failed \(.*ECONNREFUSED.*\); no call was made/);
    expect(server.requestCount).toBe(0);
    expect(chatSpans()[0]?.attributes[ATTR.errorType]).toBe("BUDGET_LEDGER_UNAVAILABLE");
  });

  it("says a call succeeded when only recording its usage failed", async () => {
    const memory = new InMemoryBudgetLedger();
    const ledger: BudgetLedger = {
      id: memory.id,
      setBaseline: (...a) => memory.setBaseline(...a),
      reserve: (...a) => memory.reserve(...a),
      settle: () => Promise.reject(new Error("connection lost")),
      release: (r) => memory.release(r),
      usage: (...a) => memory.usage(...a),
    };
    const llm = clients({}, ["acme"], ledger).forTenant("acme");
    const error = await llm.chat({ messages: userMessage, max_tokens: 20 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BudgetLedgerUnavailableError);
    expect((error as Error).message).toMatch(/connection lost.*the call succeeded but its usage was not recorded/);
    expect(server.requestCount).toBe(1);
  });

  it("50 calls racing at the edge of a budget overshoot by at most one reservation", async () => {
    // Each call reserves ~ (prompt estimate + 100) tokens and really uses 100 + 10 = 110.
    server.setBehaviour(() => ({ type: "completion", content: "x", usage: { promptTokens: 100, completionTokens: 10 }, delayMs: 5 }));
    const limit = 2_000;
    const llm = clients({ budget: { tokensPerDay: limit } }).forTenant("acme");
    const results = await Promise.allSettled(Array.from({ length: 50 }, () => llm.chat({ messages: userMessage, max_tokens: 100 })));
    const ok = results.filter((r) => r.status === "fulfilled").length;
    const rejected = results.filter((r) => r.status === "rejected" && r.reason instanceof BudgetExceededError).length;
    expect(ok + rejected).toBe(50);
    expect(ok).toBeGreaterThan(0);
    expect(rejected).toBeGreaterThan(0);
    expect(server.requestCount).toBe(ok);
    const usage = await llm.budgetUsage();
    expect(usage.tokensToday).toBe(ok * 110);
    const oneReservation = 110; // prompt estimate (~10) + max_tokens 100, never less than the real 110 here
    expect(usage.tokensToday).toBeLessThanOrEqual(limit + oneReservation);
  });
});

describe("rate limits", () => {
  it("fails with RateLimitedError at once when maxWaitMs is 0, without calling the provider", async () => {
    const c = clients({ rateLimit: { requestsPerMinute: 2, maxWaitMs: 0 } });
    const llm = c.forTenant("acme");
    await llm.chat({ messages: userMessage });
    await llm.chat({ messages: userMessage });
    const error = await llm.chat({ messages: userMessage }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitedError);
    expect((error as RateLimitedError).retryAfterMs).toBeGreaterThan(0);
    expect(server.requestCount).toBe(2);
    expect(chatSpans().at(-1)?.attributes[ATTR.outcome]).toBe("rate_limited");
    expect(c.metrics.snapshot("acme").rejectedRateLimit).toBe(1);
  });

  it("waits for tokens/min capacity up to maxWaitMs, then fails", async () => {
    // 60,000 tokens/min = 1,000 tokens/s. The first call uses the whole bucket (its usage matches its
    // reservation: 13 estimated prompt tokens + max_tokens), so the second waits about a second.
    server.setBehaviour((req) => ({ type: "completion", content: "x", usage: { promptTokens: 13, completionTokens: req.maxTokens ?? 0 } }));
    const llm = clients({ rateLimit: { tokensPerMinute: 60_000, maxWaitMs: 3_000 } }).forTenant("acme");
    await llm.chat({ messages: userMessage, max_tokens: 59_987 });
    const started = performance.now();
    await llm.chat({ messages: userMessage, max_tokens: 487 }); // needs 500 tokens: ~0.5 s
    expect(performance.now() - started).toBeGreaterThanOrEqual(300);
    await expect(llm.chat({ messages: userMessage, max_tokens: 9_987 })).rejects.toBeInstanceOf(RateLimitedError); // ~10 s > 3 s
    expect(server.requestCount).toBe(2);
  });

  it("keeps tenants' limits apart", async () => {
    const c = clients({ rateLimit: { requestsPerMinute: 1 } }, ["a", "b"]);
    await c.forTenant("a").chat({ messages: userMessage });
    await expect(c.forTenant("a").chat({ messages: userMessage })).rejects.toBeInstanceOf(RateLimitedError);
    await expect(c.forTenant("b").chat({ messages: userMessage })).resolves.toBeDefined();
  });
});

describe("TenantLlm.chatStream", () => {
  it("streams chunks, asks for usage and charges the exact usage of the final chunk", async () => {
    server.setBehaviour(() => ({ type: "completion", content: "a streamed answer that spans several chunks", usage: { promptTokens: 21, completionTokens: 9 } }));
    const llm = clients({ budget: { tokensPerDay: 10_000 } }).forTenant("acme");
    const stream = await llm.chatStream({ messages: userMessage });
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
    expect(text).toBe("a streamed answer that spans several chunks");
    const summary = await stream.done();
    expect(summary).toMatchObject({ inputTokens: 21, outputTokens: 9, usageExact: true, cancelled: false, finishReasons: ["stop"] });
    expect(server.requests.at(-1)?.includeUsage).toBe(true);
    expect((await llm.budgetUsage()).tokensToday).toBe(30);
    const [span] = chatSpans();
    expect(span?.attributes[ATTR.genAiRequestStream]).toBe(true);
    expect(span?.attributes[ATTR.genAiInputTokens]).toBe(21);
    expect(span?.attributes[ATTR.genAiOutputTokens]).toBe(9);
  });

  it("reports in the summary what it charged when the provider's usage is not a whole token count", async () => {
    server.setBehaviour(() => ({ type: "completion", content: "streamed", usage: { promptTokens: 12, completionTokens: -3 } }));
    const llm = clients({ budget: { tokensPerDay: 10_000 } }).forTenant("acme");
    const stream = await llm.chatStream({ messages: userMessage, max_tokens: 30 });
    for await (const chunk of stream) void chunk;
    const summary = await stream.done();
    expect(summary).toMatchObject({ inputTokens: 12, outputTokens: 30, usageExact: false });
    expect((await llm.budgetUsage()).tokensToday).toBe(42);
  });

  it("streams tool call deltas", async () => {
    server.setBehaviour(() => ({ type: "completion", toolCalls: [{ id: "call_1", name: "search", arguments: '{"q":"x"}' }] }));
    const stream = await clients().forTenant("acme").chatStream({ messages: userMessage });
    let args = "";
    let name = "";
    for await (const chunk of stream) {
      for (const call of chunk.choices[0]?.delta.tool_calls ?? []) {
        name += call.function?.name ?? "";
        args += call.function?.arguments ?? "";
      }
    }
    expect([name, args]).toEqual(["search", '{"q":"x"}']);
    expect((await stream.done()).finishReasons).toEqual(["tool_calls"]);
  });

  it("retries a 503 before the stream starts", async () => {
    server.setBehaviour(sequenceBehaviour([{ type: "error", status: 503 }, { type: "completion", content: "fine" }]));
    const c = clients();
    const stream = await c.forTenant("acme").chatStream({ messages: userMessage });
    for await (const _ of stream) void _;
    expect(server.requestCount).toBe(2);
    expect(c.metrics.snapshot("acme")).toMatchObject({ retries: 1, status5xx: 1, succeeded: 1 });
  });

  it("releases the reservation when the stream fails midway", async () => {
    server.setBehaviour(() => ({ type: "completion", content: "x".repeat(100), failMidStream: true }));
    const llm = clients({ budget: { tokensPerDay: 10_000 } }).forTenant("acme");
    const stream = await llm.chatStream({ messages: userMessage });
    const consume = async () => {
      for await (const _ of stream) void _;
    };
    await expect(consume()).rejects.toBeInstanceOf(LlmProviderError);
    await expect(stream.done()).rejects.toBeInstanceOf(LlmProviderError);
    expect((await llm.budgetUsage()).tokensToday).toBe(0);
    expect(chatSpans()[0]?.status.code).toBe(2);
  });

  it("charges the reservation when the consumer stops early", async () => {
    server.setBehaviour(() => ({ type: "completion", content: "y".repeat(200), chunkDelayMs: 1 }));
    const llm = clients({ budget: { tokensPerDay: 10_000 } }).forTenant("acme");
    const stream = await llm.chatStream({ messages: userMessage, max_tokens: 40 });
    for await (const _ of stream) break;
    const summary = await stream.done();
    expect(summary.cancelled).toBe(true);
    expect(summary.usageExact).toBe(false);
    expect(summary.outputTokens).toBe(40);
    expect((await llm.budgetUsage()).tokensToday).toBe(summary.inputTokens + 40);
  });
});

describe("tracer default", () => {
  it("uses the global tracer provider when none is given", async () => {
    const c = new LlmClients({ config: { acme: { apiKey: "k", baseURL: server.baseURL, defaultModel: "m" } } });
    trace.setGlobalTracerProvider(provider);
    try {
      await c.forTenant("acme").chat({ messages: userMessage });
      expect(chatSpans().length).toBe(1);
    } finally {
      trace.disable();
    }
  });
});

describe("ChatStream cancellation", () => {
  it("abort() ends iteration with AbortedError and charges the reservation", async () => {
    server.setBehaviour(() => ({ type: "completion", content: "z".repeat(400), chunkDelayMs: 2 }));
    const llm = clients({ budget: { tokensPerDay: 10_000 } }).forTenant("acme");
    const stream = await llm.chatStream({ messages: userMessage, max_tokens: 30 });
    const consume = async () => {
      let n = 0;
      for await (const _ of stream) if (++n === 2) stream.abort();
    };
    await expect(consume()).rejects.toBeInstanceOf(AbortedError);
    expect((await stream.done()).cancelled).toBe(true);
    expect((await llm.budgetUsage()).tokensToday).toBeGreaterThanOrEqual(30);
  });
});
