import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AgentId, LlmClients, QueueFullError, Runtime } from "@troupe/runtime";
import { startMockOpenAiServer, type MockOpenAiServer } from "@troupe/runtime/testing";
import { startTelemetry, type Telemetry } from "@troupe/runtime/otel";
import { loadCollectorConfig, startCollector, type RunningCollector } from "@troupe/collector";

// The whole data path, for real: the runtime's spans and usage records go through the OpenTelemetry
// SDK and the real OTLP exporters to the collector (/v1/traces, /v1/logs), into chDB, and come back
// out of the query API with exact counts (one turn per delivered or refused message, however many
// spans mark its outcome; one LLM call per usage record, refused attempts included).

let dir: string;
let collector: RunningCollector;
let telemetry: Telemetry;
let llmServer: MockOpenAiServer;
let consoleKey = "";
let runtime: Runtime;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "troupe-e2e-"));
  collector = await startCollector({ ...loadCollectorConfig({ TROUPE_DATA_DIR: dir }), port: 0, host: "127.0.0.1" }, { writer: { maxBatchDelayMs: 20 } });
  await collector.registry.createTenant({ id: "acme", budgets: { dailyTokens: 1000 } });
  const ingest = (await collector.registry.issueKey("acme", "ingest")).key.secret;
  consoleKey = (await collector.registry.issueKey("acme", "console")).key.secret;
  telemetry = startTelemetry({ serviceName: "e2e", collector: { url: `${collector.url}/v1/traces`, apiKey: ingest }, registerGlobal: false, batch: { scheduledDelayMs: 50 } });
  // Every call reports 200 tokens of usage.
  llmServer = await startMockOpenAiServer({ behaviour: () => ({ type: "completion", content: "ok", usage: { promptTokens: 120, completionTokens: 80 } }) });
  const llm = new LlmClients({
    config: { acme: { apiKey: "sk-test", baseURL: llmServer.baseURL, defaultModel: "gpt-4o-mini", budget: { tokensPerDay: 300 } } },
    tracerProvider: telemetry.tracerProvider,
    loggerProvider: telemetry.loggerProvider,
  });
  runtime = new Runtime({ tracerProvider: telemetry.tracerProvider, quotas: { tenants: { acme: { maxQueuedMessages: 1, maxInFlightTurns: 1 } } } });
  runtime.register("echo", () => ({ onMessage: (m: unknown) => m }));
  runtime.register("slow", () => ({ onMessage: () => new Promise((r) => setTimeout(r, 200)) }));
  runtime.register("writer", () => ({
    async onMessage(m: unknown, ctx) {
      await llm.forTenant(ctx.tenant).chat({ messages: [{ role: "user", content: String(m) }], max_tokens: 100 }, { agent: ctx.agentId });
      return "written";
    },
  }));
  await runtime.start();
});

afterAll(async () => {
  await runtime?.stop();
  await telemetry?.shutdown();
  await llmServer?.close();
  await collector?.close();
  await rm(dir, { recursive: true, force: true });
});

async function api<T>(path: string): Promise<T> {
  const res = await fetch(`${collector.url}${path}`, { headers: { authorization: `Bearer ${consoleKey}` } });
  expect(res.status, await res.clone().text()).toBe(200);
  return (await res.json()) as T;
}

type Agents = { agents: Array<{ agentType: string; turns: number; errors: number; quotaRejections: number; budgetRejections: number; llmCalls: number; inputTokens: number; handlerWallMsTotal: number }> };
type Usage = { totals: { calls: number; budgetRejections: number; errors: number; inputTokens: number; outputTokens: number; costUsd: number } };

describe("runtime → OTLP → collector → query API", () => {
  it("counts each turn once, refused messages as quota rejections, and budget rejections of LLM calls", async () => {
    const acme = runtime.tenant("acme");
    for (let i = 0; i < 5; i++) expect(await acme.send(new AgentId("echo", `e${i % 2}`), i)).toBe(i);

    // One turn runs, one waits in the queue, the third is refused: QueueFull.
    const first = acme.send(new AgentId("slow", "s"), 0);
    await new Promise((r) => setTimeout(r, 20));
    const second = acme.send(new AgentId("slow", "s"), 1);
    await expect(acme.send(new AgentId("slow", "s"), 2)).rejects.toBeInstanceOf(QueueFullError);
    await Promise.all([first, second]);

    // The budget (300 tokens/day) admits the first call (~100 tokens reserved, 200 charged) and refuses the next ones.
    const outcomes = [];
    for (let i = 0; i < 3; i++) outcomes.push(await acme.send(new AgentId("writer", "w"), "hello").then(() => "ok", (e: Error) => e.name));
    expect(outcomes[0]).toBe("ok");
    expect(outcomes.slice(1)).toEqual(["HandlerError", "HandlerError"]);

    await telemetry.forceFlush();
    const deadline = Date.now() + 15_000;
    let agents: Agents["agents"] = [];
    for (;;) {
      agents = (await api<Agents>("/api/v1/agents")).agents;
      const writer = agents.find((a) => a.agentType === "writer");
      if ((writer?.turns ?? 0) >= 3 && agents.find((a) => a.agentType === "slow")?.turns === 3) break;
      if (Date.now() > deadline) throw new Error(`spans did not arrive: ${JSON.stringify(agents)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const by = Object.fromEntries(agents.map((a) => [a.agentType, a]));
    expect(by.echo).toMatchObject({ turns: 5, errors: 0, quotaRejections: 0 });
    expect(by.slow).toMatchObject({ turns: 3, quotaRejections: 1 });
    expect(by.slow!.handlerWallMsTotal).toBeGreaterThanOrEqual(380);
    expect(by.slow!.handlerWallMsTotal).toBeLessThan(2_000);

    // Usage comes from usage records: three attempts, two refused by the budget before the model.
    let usage = await api<Usage>("/api/v1/usage?groupBy=model");
    while (usage.totals.calls < 3) {
      if (Date.now() > deadline) throw new Error(`usage records did not arrive: ${JSON.stringify(usage.totals)}`);
      await new Promise((r) => setTimeout(r, 100));
      usage = await api<Usage>("/api/v1/usage?groupBy=model");
    }
    expect(usage.totals).toMatchObject({ calls: 3, budgetRejections: 2, errors: 0, inputTokens: 120, outputTokens: 80 });
    expect(usage.totals.costUsd).toBeGreaterThan(0);
    expect(llmServer.requestCount).toBe(1);
    const writer = (await api<Agents>("/api/v1/agents")).agents.find((a) => a.agentType === "writer");
    expect(writer).toMatchObject({ turns: 3, errors: 2, budgetRejections: 2, llmCalls: 3, inputTokens: 120 });
  });
});
