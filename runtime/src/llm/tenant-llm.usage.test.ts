import { context, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { InMemoryLogRecordExporter, LoggerProvider } from "@opentelemetry/sdk-logs";
import type { ReadableLogRecord } from "@opentelemetry/sdk-logs";
import { AlwaysOffSampler, BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import type { ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { AgentId } from "../agents/ids.js";
import { AbortedError, BudgetExceededError, BudgetLedgerUnavailableError, LlmProviderError, RateLimitedError, TimeoutError } from "../errors.js";
import { Runtime } from "../runtime.js";
import { ATTR, USAGE_ATTR, USAGE_EVENT_NAME, checkUsageRecord, type UsageRecord } from "@troupe/contract";
import { UsageLogRecordProcessor } from "../usage/usage-log-processor.js";
import type { BudgetLedger } from "./budget-ledger.js";
import { InMemoryBudgetLedger } from "./in-memory-budget-ledger.js";
import { LlmClients } from "./llm-clients.js";
import type { LlmClientsOptions } from "./llm-clients.js";
import type { TenantLlmConfigInput } from "./tenant-llm-config.js";
import { echoBehaviour, startMockOpenAiServer } from "../testing/mock-openai-server.js";
import type { MockOpenAiServer } from "../testing/mock-openai-server.js";

// Every LLM call attempt hands exactly one usage record to the real OpenTelemetry logs SDK, whatever
// its ending and whatever the trace's sampling; these tests read what the SDK would export.

const SECRET = "the-secret-prompt-text-91c2";
const userMessage = [{ role: "user" as const, content: `hello ${SECRET}` }];

let server: MockOpenAiServer;
const logExporter = new InMemoryLogRecordExporter();
const loggerProvider = new LoggerProvider({ processors: [new UsageLogRecordProcessor(logExporter, { scheduledDelayMs: 10 })] });
const spanExporter = new InMemorySpanExporter();
const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spanExporter)] });

beforeAll(async () => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  server = await startMockOpenAiServer();
});
afterAll(async () => {
  await server.close();
  await loggerProvider.shutdown();
  context.disable();
});
afterEach(() => {
  logExporter.reset();
  spanExporter.reset();
  server.setBehaviour(echoBehaviour);
  server.reset();
});

function clients(config: Partial<TenantLlmConfigInput> = {}, options: Partial<LlmClientsOptions> = {}): LlmClients {
  const base: TenantLlmConfigInput = { apiKey: "sk-test", baseURL: server.baseURL, defaultModel: "gpt-4o-mini", provider: "openai", retry: { baseDelayMs: 1, maxDelayMs: 5 }, ...config };
  return new LlmClients({ config: { acme: base }, tracerProvider, loggerProvider, ...options });
}

/** A log record read back as the usage record the collector would store. */
function asUsage(log: ReadableLogRecord): UsageRecord {
  const a = log.attributes;
  const num = (key: string) => (a[key] === undefined ? 0 : (a[key] as number));
  return {
    id: a[USAGE_ATTR.id] as string,
    tenant: a[USAGE_ATTR.tenantId] as string,
    agentType: (a[USAGE_ATTR.agentType] as string | undefined) ?? "",
    model: a[USAGE_ATTR.model] as string,
    responseModel: (a[USAGE_ATTR.responseModel] as string | undefined) ?? "",
    provider: a[USAGE_ATTR.provider] as string,
    inputTokens: num(USAGE_ATTR.inputTokens),
    outputTokens: num(USAGE_ATTR.outputTokens),
    cachedInputTokens: num(USAGE_ATTR.cachedInputTokens),
    reasoningTokens: num(USAGE_ATTR.reasoningTokens),
    costUsd: num(USAGE_ATTR.costUsd),
    outcome: a[USAGE_ATTR.outcome] as UsageRecord["outcome"],
    usageExact: (a[USAGE_ATTR.usageExact] as boolean | undefined) ?? true,
    timeMs: log.hrTime[0] * 1_000 + log.hrTime[1] / 1e6,
    traceId: log.spanContext?.traceId ?? "",
    spanId: log.spanContext?.spanId ?? "",
    ledgerId: (a[USAGE_ATTR.ledgerId] as string | undefined) ?? "",
  };
}

/** The usage records exported so far, each checked against the contract. */
async function records(): Promise<UsageRecord[]> {
  await loggerProvider.forceFlush();
  const logs = logExporter.getFinishedLogRecords();
  for (const log of logs) {
    expect(log.eventName).toBe(USAGE_EVENT_NAME);
    expect(log.body).toBeUndefined();
    expect(JSON.stringify(log.attributes)).not.toContain(SECRET);
  }
  return logs.map((log) => {
    const checked = checkUsageRecord(asUsage(log));
    if (!checked.ok) throw new Error(`not a valid usage record: ${checked.message}`);
    return checked.record;
  });
}

async function onlyRecord(): Promise<UsageRecord> {
  const all = await records();
  expect(all).toHaveLength(1);
  return all[0]!;
}

function chatSpan(): ReadableSpan {
  const spans = spanExporter.getFinishedSpans().filter((s) => s.name.startsWith("chat "));
  expect(spans).toHaveLength(1);
  return spans[0]!;
}

async function until(condition: () => boolean | Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await condition())) {
    if (performance.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe("usage records of chat()", () => {
  it("ok: the charged tokens, cached and reasoning tokens, cost, models, agent and the sampled chat span", async () => {
    server.setBehaviour(() => ({ type: "completion", content: "hi", model: "gpt-4o-mini-2024-07-18", usage: { promptTokens: 1_000, completionTokens: 200, cachedTokens: 600, reasoningTokens: 150 } }));
    const before = Date.now();
    const llm = clients();
    await llm.forTenant("acme").chat({ messages: userMessage }, { agent: { type: "planner", key: "p1" } });
    const after = Date.now();
    const record = await onlyRecord();
    const span = chatSpan();
    expect(record).toMatchObject({
      tenant: "acme",
      agentType: "planner",
      provider: "openai",
      model: "gpt-4o-mini",
      responseModel: "gpt-4o-mini-2024-07-18",
      inputTokens: 1_000,
      outputTokens: 200,
      cachedInputTokens: 600,
      reasoningTokens: 150,
      outcome: "ok",
      usageExact: true,
      traceId: span.spanContext().traceId,
      spanId: span.spanContext().spanId,
      ledgerId: llm.ledger.id,
    });
    expect(record.ledgerId).toMatch(/^memory:[0-9a-f-]{36}$/);
    expect(record.costUsd).toBeCloseTo((1_000 * 0.15 + 200 * 0.6) / 1e6, 12);
    expect(record.costUsd).toBe(span.attributes[ATTR.llmCostUsd]);
    expect(record.timeMs).toBeGreaterThanOrEqual(before);
    expect(record.timeMs).toBeLessThanOrEqual(after);
  });

  it("ok without reported usage: the estimate, marked inexact, and no agent when the caller named none", async () => {
    server.setBehaviour(() => ({ type: "completion", content: "hi", omitUsage: true }));
    await clients().forTenant("acme").chat({ messages: userMessage, max_tokens: 40 });
    const record = await onlyRecord();
    expect(record).toMatchObject({ outcome: "ok", usageExact: false, outputTokens: 40, agentType: "", cachedInputTokens: 0, reasoningTokens: 0 });
    expect(record.inputTokens).toBe(chatSpan().attributes[ATTR.genAiInputTokens]);
  });

  it("error: one record for all the retries, charging nothing", async () => {
    server.setBehaviour(() => ({ type: "error", status: 503 }));
    const llm = clients({ retry: { maxRetries: 2, baseDelayMs: 1, maxDelayMs: 2 } }).forTenant("acme");
    await expect(llm.chat({ messages: userMessage })).rejects.toBeInstanceOf(LlmProviderError);
    expect(server.requestCount).toBe(3);
    expect(await onlyRecord()).toMatchObject({ outcome: "error", inputTokens: 0, outputTokens: 0, costUsd: 0, responseModel: "" });
  });

  it("budget_rejected: a record although no request was made", async () => {
    const llm = clients({ budget: { tokensPerDay: 100 } }).forTenant("acme");
    await expect(llm.chat({ messages: userMessage, max_tokens: 500 }, { agent: { type: "writer" } })).rejects.toBeInstanceOf(BudgetExceededError);
    expect(server.requestCount).toBe(0);
    expect(await onlyRecord()).toMatchObject({ outcome: "budget_rejected", agentType: "writer", inputTokens: 0, costUsd: 0 });
  });

  it("rate_limited: a record for the refused call only", async () => {
    const llm = clients({ rateLimit: { requestsPerMinute: 1, maxWaitMs: 0 } }).forTenant("acme");
    await llm.chat({ messages: userMessage });
    await expect(llm.chat({ messages: userMessage })).rejects.toBeInstanceOf(RateLimitedError);
    expect((await records()).map((r) => r.outcome)).toEqual(["ok", "rate_limited"]);
  });

  it("timeout: the call's signal aborted with a timeout as its reason", async () => {
    server.setBehaviour(() => ({ type: "completion", content: "late", delayMs: 2_000 }));
    const controller = new AbortController();
    setTimeout(() => controller.abort(new TimeoutError("the turn exceeded its time budget")), 50);
    await expect(clients().forTenant("acme").chat({ messages: userMessage }, { signal: controller.signal })).rejects.toBeInstanceOf(AbortedError);
    expect(await onlyRecord()).toMatchObject({ outcome: "timeout", inputTokens: 0, costUsd: 0 });
  });

  it("timeout: the provider did not answer within the tenant's timeout", async () => {
    server.setBehaviour(() => ({ type: "completion", content: "late", delayMs: 2_000 }));
    const llm = clients({ timeoutMs: 100, retry: { maxRetries: 0 } }).forTenant("acme");
    await expect(llm.chat({ messages: userMessage })).rejects.toBeInstanceOf(LlmProviderError);
    expect(await onlyRecord()).toMatchObject({ outcome: "timeout", inputTokens: 0 });
  });

  it("error: a plain abort by the caller is not a timeout, before the call or during it", async () => {
    server.setBehaviour(() => ({ type: "completion", content: "late", delayMs: 2_000 }));
    const llm = clients().forTenant("acme");
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    await expect(llm.chat({ messages: userMessage }, { signal: controller.signal })).rejects.toBeInstanceOf(AbortedError);
    await expect(llm.chat({ messages: userMessage }, { signal: AbortSignal.abort() })).rejects.toBeInstanceOf(AbortedError);
    expect((await records()).map((r) => r.outcome)).toEqual(["error", "error"]);
  });

  it("ok: the record is kept when only writing the budget ledger failed", async () => {
    const memory = new InMemoryBudgetLedger();
    const ledger: BudgetLedger = {
      id: memory.id,
      setBaseline: (...a) => memory.setBaseline(...a),
      reserve: (...a) => memory.reserve(...a),
      settle: () => Promise.reject(new Error("connection lost")),
      release: (r) => memory.release(r),
      usage: (...a) => memory.usage(...a),
    };
    server.setBehaviour(() => ({ type: "completion", content: "x", usage: { promptTokens: 9, completionTokens: 4 } }));
    await expect(clients({}, { ledger }).forTenant("acme").chat({ messages: userMessage })).rejects.toBeInstanceOf(BudgetLedgerUnavailableError);
    expect(await onlyRecord()).toMatchObject({ outcome: "ok", inputTokens: 9, outputTokens: 4 });
  });

  it("one record per call, each with its own id, when 40 calls race at the edge of a budget", async () => {
    server.setBehaviour(() => ({ type: "completion", content: "x", usage: { promptTokens: 100, completionTokens: 10 }, delayMs: 2 }));
    const llm = clients({ budget: { tokensPerDay: 1_500 } }).forTenant("acme");
    const results = await Promise.allSettled(Array.from({ length: 40 }, () => llm.chat({ messages: userMessage, max_tokens: 100 })));
    const all = await records();
    expect(all).toHaveLength(40);
    expect(new Set(all.map((r) => r.id)).size).toBe(40);
    const ok = results.filter((r) => r.status === "fulfilled").length;
    expect(all.filter((r) => r.outcome === "ok")).toHaveLength(ok);
    expect(all.filter((r) => r.outcome === "budget_rejected")).toHaveLength(40 - ok);
    // The records add up to what the budget was charged.
    expect(all.reduce((n, r) => n + r.inputTokens + r.outputTokens, 0)).toBe((await llm.budgetUsage()).tokensToday);
  });
});

describe("usage records of chatStream()", () => {
  it("ok when read to the end: the final chunk's usage, cached and reasoning tokens included", async () => {
    server.setBehaviour(() => ({ type: "completion", content: "a streamed answer over several chunks", usage: { promptTokens: 30, completionTokens: 12, cachedTokens: 10, reasoningTokens: 5 } }));
    const stream = await clients().forTenant("acme").chatStream({ messages: userMessage }, { agent: { type: "writer" } });
    expect(await records()).toHaveLength(0);
    for await (const chunk of stream) void chunk;
    expect(await stream.done()).toMatchObject({ cachedInputTokens: 10, reasoningTokens: 5 });
    const record = await onlyRecord();
    expect(record).toMatchObject({ outcome: "ok", inputTokens: 30, outputTokens: 12, cachedInputTokens: 10, reasoningTokens: 5, usageExact: true, agentType: "writer", responseModel: "gpt-4o-mini" });
    expect(record.spanId).toBe(chatSpan().spanContext().spanId);
  });

  it("ok, charged the estimate, when the consumer stops early", async () => {
    server.setBehaviour(() => ({ type: "completion", content: "y".repeat(200), chunkDelayMs: 1 }));
    const stream = await clients().forTenant("acme").chatStream({ messages: userMessage, max_tokens: 40 });
    for await (const _ of stream) break;
    const summary = await stream.done();
    expect(await onlyRecord()).toMatchObject({ outcome: "ok", usageExact: false, outputTokens: 40, inputTokens: summary.inputTokens });
  });

  it("error, charging nothing, when the provider fails mid-stream", async () => {
    server.setBehaviour(() => ({ type: "completion", content: "x".repeat(100), failMidStream: true }));
    const stream = await clients().forTenant("acme").chatStream({ messages: userMessage });
    const consume = async () => {
      for await (const _ of stream) void _;
    };
    await expect(consume()).rejects.toBeInstanceOf(LlmProviderError);
    expect(await onlyRecord()).toMatchObject({ outcome: "error", inputTokens: 0, outputTokens: 0, costUsd: 0 });
  });

  it("error when abort() stops it, timeout when the turn's signal does: both charged the estimate", async () => {
    server.setBehaviour(() => ({ type: "completion", content: "z".repeat(400), chunkDelayMs: 2 }));
    const llm = clients().forTenant("acme");
    const aborted = await llm.chatStream({ messages: userMessage, max_tokens: 30 });
    const readAborting = async () => {
      let n = 0;
      for await (const _ of aborted) if (++n === 2) aborted.abort();
    };
    await expect(readAborting()).rejects.toBeInstanceOf(AbortedError);
    const controller = new AbortController();
    const timedOut = await llm.chatStream({ messages: userMessage, max_tokens: 30 }, { signal: controller.signal });
    const readTimingOut = async () => {
      let n = 0;
      for await (const _ of timedOut) if (++n === 2) controller.abort(new TimeoutError("turn budget"));
    };
    await expect(readTimingOut()).rejects.toBeInstanceOf(AbortedError);
    const all = await records();
    expect(all.map((r) => [r.outcome, r.outputTokens, r.usageExact])).toEqual([
      ["error", 30, false],
      ["timeout", 30, false],
    ]);
  });

  it("a stream aborted before anyone reads it still ends with one record, and reading it then fails", async () => {
    server.setBehaviour(() => ({ type: "completion", content: "z".repeat(400), chunkDelayMs: 5 }));
    const llm = clients({ budget: { tokensPerDay: 10_000 } }).forTenant("acme");
    const stream = await llm.chatStream({ messages: userMessage, max_tokens: 25 });
    stream.abort();
    stream.abort();
    expect((await stream.done()).cancelled).toBe(true);
    const controller = new AbortController();
    const unread = await llm.chatStream({ messages: userMessage, max_tokens: 25 }, { signal: controller.signal });
    controller.abort(new TimeoutError("turn budget"));
    await unread.done();
    const read = async () => {
      for await (const _ of unread) void _;
    };
    await expect(read()).rejects.toBeInstanceOf(AbortedError);
    expect((await records()).map((r) => [r.outcome, r.outputTokens])).toEqual([
      ["error", 25],
      ["timeout", 25],
    ]);
    expect((await llm.budgetUsage()).tokensToday).toBeGreaterThanOrEqual(50);
  });
});

describe("usage records and tracing", () => {
  it("are produced with tracing off (no tracer provider at all), without trace ids", async () => {
    const llm = clients({}, { tracerProvider: trace.getTracerProvider() }).forTenant("acme");
    await llm.chat({ messages: userMessage });
    const record = await onlyRecord();
    expect(record).toMatchObject({ outcome: "ok", traceId: "", spanId: "" });
    expect(spanExporter.getFinishedSpans()).toHaveLength(0);
  });

  it("are produced when the trace is not sampled, without trace ids, even inside a sampled-out parent", async () => {
    const unsampled = new BasicTracerProvider({ sampler: new AlwaysOffSampler(), spanProcessors: [new SimpleSpanProcessor(spanExporter)] });
    const llm = clients({}, { tracerProvider: unsampled }).forTenant("acme");
    await unsampled.getTracer("t").startActiveSpan("turn", async (parent) => {
      await llm.chat({ messages: userMessage });
      parent.end();
    });
    expect(await onlyRecord()).toMatchObject({ outcome: "ok", traceId: "", spanId: "" });
    expect(spanExporter.getFinishedSpans()).toHaveLength(0);
  });

  it("carry the chat span's ids, not the active parent's", async () => {
    const llm = clients().forTenant("acme");
    await tracerProvider.getTracer("t").startActiveSpan("invoke_agent planner", async (parent) => {
      await llm.chat({ messages: userMessage });
      parent.end();
    });
    const record = await onlyRecord();
    const chat = chatSpan();
    expect(record.spanId).toBe(chat.spanContext().spanId);
    expect(record.spanId).not.toBe(chat.parentSpanContext?.spanId);
    expect(record.traceId).toBe(chat.spanContext().traceId);
  });
});

describe("usage records in the runtime", () => {
  it("timeout when the turn's time budget runs out during the call", async () => {
    server.setBehaviour(() => ({ type: "completion", content: "late", delayMs: 3_000 }));
    const llm = clients();
    const runtime = new Runtime({ quotas: { defaults: { turnTimeoutMs: 100 } } });
    runtime.register("caller", () => ({
      onMessage: (_message: unknown, ctx) => llm.forTenant("acme").chat({ messages: userMessage }, { agent: ctx.agentId, signal: ctx.signal }),
    }));
    await runtime.start();
    try {
      await expect(runtime.tenant("acme").send(new AgentId("caller", "c1"), null)).rejects.toBeInstanceOf(TimeoutError);
      await until(async () => (await records()).length > 0);
      expect(await onlyRecord()).toMatchObject({ outcome: "timeout", agentType: "caller", tenant: "acme", inputTokens: 0 });
    } finally {
      await runtime.stop();
    }
  });
});
