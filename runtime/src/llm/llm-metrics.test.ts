import { ValueType } from "@opentelemetry/api";
import { MeterProvider } from "@opentelemetry/sdk-metrics";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { BudgetExceededError, LlmProviderError } from "../errors.js";
import { GEN_AI_OPERATION_DURATION_BUCKETS, GEN_AI_TOKEN_USAGE_BUCKETS, METRIC } from "../metrics/metric-names.js";
import { CollectingMetricReader, type HistogramPoint } from "../metrics/testing/collecting-metric-reader.js";
import { LlmClients } from "./llm-clients.js";
import type { TenantLlmConfigInput } from "./tenant-llm-config.js";
import { echoBehaviour, sequenceBehaviour, startMockOpenAiServer, type MockOpenAiServer } from "../testing/mock-openai-server.js";

// The GenAI client metrics of real calls through the real openai client against the local mock
// server, read back from the SDK as an exporter would receive them.

let server: MockOpenAiServer;
let reader: CollectingMetricReader;
let meterProvider: MeterProvider;

beforeAll(async () => {
  server = await startMockOpenAiServer();
});
afterAll(async () => {
  await server.close();
});
beforeEach(() => {
  reader = new CollectingMetricReader();
  meterProvider = new MeterProvider({ readers: [reader] });
});
afterEach(async () => {
  await meterProvider.shutdown();
  server.setBehaviour(echoBehaviour);
  server.reset();
});

function clients(config: Partial<TenantLlmConfigInput> = {}, tenants: string[] = ["acme"]): LlmClients {
  const base: TenantLlmConfigInput = { apiKey: "sk-test", baseURL: server.baseURL, defaultModel: "gpt-4o-mini", provider: "openai", retry: { baseDelayMs: 1, maxDelayMs: 5 }, ...config };
  return new LlmClients({ config: Object.fromEntries(tenants.map((t) => [t, base])), meterProvider });
}

const messages = [{ role: "user" as const, content: "hello" }];

/** The attributes every GenAI point of tenant `tenant`'s calls by `agentType` carries. */
function callAttributes(tenant: string, agentType: string): Record<string, unknown> {
  return {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "openai",
    "gen_ai.request.model": "gpt-4o-mini",
    "server.address": "127.0.0.1",
    "server.port": server.port,
    "troupe.tenant.id": tenant,
    "troupe.agent.type": agentType,
  };
}

function byTypeAndTenant(points: HistogramPoint[]): HistogramPoint[] {
  const key = (p: HistogramPoint): string => `${String(p.attributes["troupe.tenant.id"])}/${String(p.attributes["gen_ai.token.type"])}`;
  return [...points].sort((a, b) => key(a).localeCompare(key(b)));
}

describe("gen_ai.client.token.usage and gen_ai.client.operation.duration", () => {
  it("record one point per token type and one duration per successful call, per tenant, with the semconv attributes, units and buckets", async () => {
    server.setBehaviour((request) => ({
      type: "completion",
      content: "hi",
      model: "gpt-4o-mini-2024-07-18",
      delayMs: 30,
      usage: request.messages[0]?.content === "hello" ? { promptTokens: 17, completionTokens: 5 } : { promptTokens: 300, completionTokens: 70 },
    }));
    const llm = clients({}, ["acme", "globex"]);
    await llm.forTenant("acme").chat({ messages, max_tokens: 50 }, { agent: { type: "planner" } });
    await llm.forTenant("globex").chat({ messages: [{ role: "user", content: "a longer question" }], max_tokens: 100 }, { agent: { type: "writer" } });

    const read = await reader.read();
    expect(read.get(METRIC.genAiTokenUsage)?.descriptor).toMatchObject({ unit: "{token}", valueType: ValueType.INT });
    expect(read.get(METRIC.genAiOperationDuration)?.descriptor).toMatchObject({ unit: "s" });

    const tokens = byTypeAndTenant(await reader.histogram(METRIC.genAiTokenUsage));
    const responded = { "gen_ai.response.model": "gpt-4o-mini-2024-07-18" };
    expect(tokens.map((p) => ({ attributes: p.attributes, count: p.count, sum: p.sum }))).toEqual([
      { attributes: { ...callAttributes("acme", "planner"), ...responded, "gen_ai.token.type": "input" }, count: 1, sum: 17 },
      { attributes: { ...callAttributes("acme", "planner"), ...responded, "gen_ai.token.type": "output" }, count: 1, sum: 5 },
      { attributes: { ...callAttributes("globex", "writer"), ...responded, "gen_ai.token.type": "input" }, count: 1, sum: 300 },
      { attributes: { ...callAttributes("globex", "writer"), ...responded, "gen_ai.token.type": "output" }, count: 1, sum: 70 },
    ]);
    for (const p of tokens) expect(p.boundaries).toEqual(GEN_AI_TOKEN_USAGE_BUCKETS);
    // 17 falls in (16, 64], 5 in (4, 16], 300 in (256, 1024], 70 in (64, 256].
    expect(tokens.map((p) => p.counts.indexOf(1))).toEqual([3, 2, 5, 4]);

    const durations = await reader.histogram(METRIC.genAiOperationDuration);
    expect(durations.map((p) => p.attributes).sort((a, b) => String(a["troupe.tenant.id"]).localeCompare(String(b["troupe.tenant.id"])))).toEqual([
      { ...callAttributes("acme", "planner"), ...responded },
      { ...callAttributes("globex", "writer"), ...responded },
    ]);
    for (const p of durations) {
      expect(p.count).toBe(1);
      expect(p.boundaries).toEqual(GEN_AI_OPERATION_DURATION_BUCKETS);
      // The server waited 30 ms before answering; seconds, not milliseconds.
      expect(p.sum).toBeGreaterThanOrEqual(0.025);
      expect(p.sum).toBeLessThan(10);
    }
  });

  it("time every attempt that reached the provider, a failed one with its error.type, and count tokens once per call", async () => {
    server.setBehaviour(sequenceBehaviour([{ type: "error", status: 503 }, { type: "error", status: 429, retryAfterMs: 1 }, { type: "completion", content: "ok", usage: { promptTokens: 10, completionTokens: 2 } }]));
    await clients().forTenant("acme").chat({ messages }, { agent: { type: "planner" } });

    const durations = await reader.histogram(METRIC.genAiOperationDuration);
    expect(durations.map((p) => [p.attributes["error.type"], p.attributes["gen_ai.response.model"], p.count]).sort()).toEqual([
      [undefined, "gpt-4o-mini", 1],
      ["429", undefined, 1],
      ["503", undefined, 1],
    ]);
    const tokens = await reader.histogram(METRIC.genAiTokenUsage);
    expect(tokens.map((p) => [p.attributes["gen_ai.token.type"], p.count, p.sum]).sort()).toEqual([
      ["input", 1, 10],
      ["output", 1, 2],
    ]);
  });

  it("record no tokens for a call that failed, and every failed attempt's duration", async () => {
    server.setBehaviour(() => ({ type: "error", status: 500 }));
    await expect(clients({ retry: { maxRetries: 1, baseDelayMs: 1, maxDelayMs: 2 } }).forTenant("acme").chat({ messages })).rejects.toBeInstanceOf(LlmProviderError);

    const durations = await reader.histogram(METRIC.genAiOperationDuration);
    expect(durations.map((p) => [p.attributes["error.type"], p.count])).toEqual([["500", 2]]);
    expect(durations[0]!.attributes["troupe.agent.type"]).toBeUndefined();
    expect(await reader.histogram(METRIC.genAiTokenUsage)).toEqual([]);
  });

  it("time a streamed call to its end and record the usage of its final chunk", async () => {
    server.setBehaviour(() => ({ type: "completion", content: "x".repeat(64), chunkDelayMs: 15, usage: { promptTokens: 20, completionTokens: 7 } }));
    const stream = await clients().forTenant("acme").chatStream({ messages }, { agent: { type: "planner" } });
    expect(await reader.histogram(METRIC.genAiOperationDuration)).toEqual([]);
    for await (const chunk of stream) void chunk;
    await stream.done();

    const durations = await reader.histogram(METRIC.genAiOperationDuration);
    expect(durations.map((p) => [p.attributes["gen_ai.response.model"], p.attributes["error.type"], p.count])).toEqual([["gpt-4o-mini", undefined, 1]]);
    // Seven chunks 15 ms apart: the duration covers the stream, not only its first bytes.
    expect(durations[0]!.sum).toBeGreaterThanOrEqual(0.09);
    const tokens = await reader.histogram(METRIC.genAiTokenUsage);
    expect(tokens.map((p) => [p.attributes["gen_ai.token.type"], p.sum]).sort()).toEqual([
      ["input", 20],
      ["output", 7],
    ]);
  });
});

describe("troupe.llm.budget_rejections", () => {
  it("counts a call refused by the tenant's budget, by tenant and agent type; no request, so no duration", async () => {
    const llm = clients({ budget: { tokensPerDay: 10 } }, ["acme", "globex"]);
    await expect(llm.forTenant("acme").chat({ messages, max_tokens: 50 }, { agent: { type: "planner" } })).rejects.toBeInstanceOf(BudgetExceededError);
    await expect(llm.forTenant("acme").chat({ messages, max_tokens: 50 }, { agent: { type: "planner" } })).rejects.toBeInstanceOf(BudgetExceededError);
    await expect(llm.forTenant("globex").chat({ messages, max_tokens: 50 })).rejects.toBeInstanceOf(BudgetExceededError);

    const rejections = await reader.counter(METRIC.llmBudgetRejections);
    expect(rejections.sort((a, b) => b.value - a.value)).toEqual([
      { attributes: { "troupe.tenant.id": "acme", "troupe.agent.type": "planner" }, value: 2 },
      { attributes: { "troupe.tenant.id": "globex" }, value: 1 },
    ]);
    expect(server.requestCount).toBe(0);
    expect(await reader.histogram(METRIC.genAiOperationDuration)).toEqual([]);
    expect(await reader.histogram(METRIC.genAiTokenUsage)).toEqual([]);
  });
});
