import { metrics, ValueType } from "@opentelemetry/api";
import { MeterProvider } from "@opentelemetry/sdk-metrics";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { AgentId, TopicId } from "../agents/ids.js";
import { typeSubscription } from "../agents/subscription.js";
import { BudgetExceededError, HandlerError, QueueFullError, RateLimitedError, TimeoutError } from "../errors.js";
import { LlmClients } from "../llm/llm-clients.js";
import { startMockOpenAiServer, type MockOpenAiServer } from "../testing/mock-openai-server.js";
import { Runtime, type RuntimeOptions } from "../runtime.js";
import { METRIC, TURN_DURATION_BUCKETS } from "./metric-names.js";
import { RuntimeMetrics } from "./runtime-metrics.js";
import { CollectingMetricReader, type HistogramPoint } from "./testing/collecting-metric-reader.js";

// The runtime's per-tenant metrics from real turns, read back from the SDK as an exporter would receive them.

let reader: CollectingMetricReader;
let meterProvider: MeterProvider;
const runtimes: Runtime[] = [];

beforeEach(() => {
  reader = new CollectingMetricReader();
  meterProvider = new MeterProvider({ readers: [reader] });
});
afterEach(async () => {
  await Promise.all(runtimes.splice(0).map((r) => r.stop()));
  await meterProvider.shutdown();
});

async function started(options: RuntimeOptions = {}): Promise<Runtime> {
  const rt = new Runtime({ meterProvider, ...options });
  runtimes.push(rt);
  return rt;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const key = (p: { attributes: Record<string, unknown> }): string =>
  ["troupe.tenant.id", "troupe.agent.type", "troupe.turn.outcome", "troupe.quota.kind"].map((k) => String(p.attributes[k] ?? "-")).join("/");
const byKey = <T extends { attributes: Record<string, unknown> }>(points: T[]): Map<string, T> => new Map(points.map((p) => [key(p), p]));

describe("troupe.turns, troupe.turn.queue_wait, troupe.turn.handler_duration", () => {
  it("count every turn by tenant, agent type and outcome, with its queue wait and handler time in seconds", async () => {
    const rt = await started({ quotas: { tenants: { globex: { maxInFlightTurns: 1 } } } });
    rt.register("echo", () => ({ onMessage: (m) => m }));
    rt.register("failing", () => ({ onMessage: () => { throw new Error("no"); } }));
    rt.register("slow", () => ({ onMessage: () => sleep(30) }));
    rt.register("stuck", () => ({ onMessage: () => new Promise(() => {}) }), { turnTimeoutMs: 50 });
    await rt.start();
    const acme = rt.tenant("acme");
    const globex = rt.tenant("globex");
    await Promise.all([1, 2, 3].map((i) => acme.send(new AgentId("echo", `k${i}`), i)));
    await expect(acme.send(new AgentId("failing", "k"), 0)).rejects.toBeInstanceOf(HandlerError);
    await expect(acme.send(new AgentId("stuck", "k"), 0)).rejects.toBeInstanceOf(TimeoutError);
    // One turn at a time for globex: the second message waits for the first's 30 ms.
    await Promise.all([globex.send(new AgentId("slow", "a"), 0), globex.send(new AgentId("slow", "b"), 0)]);

    const read = await reader.read();
    expect(read.get(METRIC.turns)?.descriptor).toMatchObject({ unit: "{turn}", valueType: ValueType.INT });
    expect(read.get(METRIC.turnQueueWait)?.descriptor).toMatchObject({ unit: "s" });
    expect(read.get(METRIC.turnHandlerDuration)?.descriptor).toMatchObject({ unit: "s" });

    const turns = byKey(await reader.counter(METRIC.turns));
    expect(Object.fromEntries([...turns].map(([k, p]) => [k, p.value]))).toEqual({
      "acme/echo/ok/-": 3,
      "acme/failing/error/-": 1,
      "acme/stuck/timeout/-": 1,
      "globex/slow/ok/-": 2,
    });
    expect(turns.get("acme/echo/ok/-")!.attributes).toEqual({ "troupe.tenant.id": "acme", "troupe.agent.type": "echo", "troupe.turn.outcome": "ok" });

    const waits = byKey(await reader.histogram(METRIC.turnQueueWait));
    expect(Object.fromEntries([...waits].map(([k, p]) => [k, p.count]))).toEqual({ "acme/echo/-/-": 3, "acme/failing/-/-": 1, "acme/stuck/-/-": 1, "globex/slow/-/-": 2 });
    expect(waits.get("globex/slow/-/-")!.sum).toBeGreaterThanOrEqual(0.02);
    expect(waits.get("globex/slow/-/-")!.sum).toBeLessThan(10);

    const handler = byKey(await reader.histogram(METRIC.turnHandlerDuration));
    expect(Object.fromEntries([...handler].map(([k, p]) => [k, p.count]))).toEqual({ "acme/echo/ok/-": 3, "acme/failing/error/-": 1, "acme/stuck/timeout/-": 1, "globex/slow/ok/-": 2 });
    expect(handler.get("globex/slow/ok/-")!.sum).toBeGreaterThanOrEqual(0.05);
    expect(handler.get("acme/stuck/timeout/-")!.sum).toBeGreaterThanOrEqual(0.045);
    for (const p of [...waits.values(), ...handler.values()] as HistogramPoint[]) expect(p.boundaries).toEqual(TURN_DURATION_BUCKETS);
  });
});

describe("troupe.quota.rejections", () => {
  it("counts messages refused by a full queue or a spent rate, by tenant, agent type and quota kind", async () => {
    const rt = await started({ quotas: { tenants: { tight: { maxQueuedMessages: 1, maxInFlightTurns: 1 }, limited: { messagesPerSecond: 1, burst: 1 } } } });
    rt.register("echo", () => ({ onMessage: (m) => m }));
    rt.subscribe(typeSubscription("news", "echo"));
    await rt.start();
    const tight = rt.tenant("tight");
    const sends = [0, 1, 2].map((i) => tight.send(new AgentId("echo", `k${i}`), i));
    const settled = await Promise.allSettled(sends);
    expect(settled.filter((s) => s.status === "rejected" && s.reason instanceof QueueFullError)).toHaveLength(2);
    const limited = rt.tenant("limited");
    await limited.send(new AgentId("echo", "k"), 0);
    await expect(limited.send(new AgentId("echo", "k"), 1)).rejects.toBeInstanceOf(RateLimitedError);
    await expect(limited.publish(new TopicId("news", "s"), 2)).rejects.toBeInstanceOf(RateLimitedError);

    const rejections = byKey(await reader.counter(METRIC.quotaRejections));
    expect(Object.fromEntries([...rejections].map(([k, p]) => [k, p.value]))).toEqual({
      "tight/echo/-/max_queued_messages": 2,
      "limited/echo/-/messages_per_second": 1,
      // A publish refused before its recipients were known names no agent type.
      "limited/-/-/messages_per_second": 1,
    });
    expect((await reader.counter(METRIC.turns)).reduce((n, p) => n + p.value, 0)).toBe(2);
  });
});

describe("LLM metrics of turns", () => {
  let llmServer: MockOpenAiServer;
  beforeAll(async () => {
    llmServer = await startMockOpenAiServer({ behaviour: () => ({ type: "completion", content: "ok", usage: { promptTokens: 40, completionTokens: 8 } }) });
  });
  afterAll(() => llmServer.close());

  it("count a budget rejection under the calling agent's type and the tokens of a call that went through", async () => {
    const base = { apiKey: "sk", baseURL: llmServer.baseURL, defaultModel: "gpt-4o-mini" };
    const llm = new LlmClients({ config: { rich: base, broke: { ...base, budget: { tokensPerDay: 5 } } }, meterProvider });
    const rt = await started();
    rt.register("planner", () => ({
      onMessage: async (_m, ctx) => {
        try {
          await llm.forTenant(ctx.tenant).chat({ messages: [{ role: "user", content: "plan" }], max_tokens: 20 }, { agent: ctx.agentId });
          return "planned";
        } catch (error) {
          if (error instanceof BudgetExceededError) return "over budget";
          throw error;
        }
      },
    }));
    await rt.start();
    expect(await rt.tenant("rich").send(new AgentId("planner", "k"), 0)).toBe("planned");
    expect(await rt.tenant("broke").send(new AgentId("planner", "k"), 0)).toBe("over budget");

    expect(await reader.counter(METRIC.llmBudgetRejections)).toEqual([{ attributes: { "troupe.tenant.id": "broke", "troupe.agent.type": "planner" }, value: 1 }]);
    const tokens = await reader.histogram(METRIC.genAiTokenUsage);
    expect(tokens.map((p) => [p.attributes["troupe.tenant.id"], p.attributes["troupe.agent.type"], p.attributes["gen_ai.token.type"], p.sum]).sort()).toEqual([
      ["rich", "planner", "input", 40],
      ["rich", "planner", "output", 8],
    ]);
    const turns = byKey(await reader.counter(METRIC.turns));
    expect([...turns.keys()].sort()).toEqual(["broke/planner/ok/-", "rich/planner/ok/-"]);
  });
});

describe("RuntimeMetrics.create", () => {
  it("is null for the API's no-op meter provider, so a runtime without a metrics SDK records nothing", () => {
    expect(RuntimeMetrics.create(metrics.getMeterProvider())).toBeNull();
    expect(RuntimeMetrics.create(meterProvider)).not.toBeNull();
  });
});
