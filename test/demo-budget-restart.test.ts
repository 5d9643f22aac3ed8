import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BudgetExceededError, InMemoryBudgetLedger, LlmClients, startMockOpenAiServer, type MockOpenAiServer } from "@troupe/runtime";
import { chargeUsageSoFarToday, provisionDemoTenants, type DemoTenant } from "@troupe/runtime/examples/demo";
import { startTelemetry, type Telemetry } from "@troupe/runtime/otel";
import { loadCollectorConfig, startCollector, type RunningCollector } from "@troupe/collector";
import { seedUsageRecords } from "./support/usage-records.js";

// The demo keeps its budget ledger in its own process. A demo restarted the same day must not hand
// the tenant at its budget a fresh day: it charges the ledger with today's usage records as the
// collector stored them (exact whatever the trace sampling). Real parts: the collector on chDB, the
// runtime's LLM client and OTLP exporters (spans and usage records), a local OpenAI-compatible server.

const ADMIN_KEY = `trp_admin_${randomBytes(18).toString("base64url")}`;
let dir: string;
let collector: RunningCollector;
let llmServer: MockOpenAiServer;
let serviceKey: string;
let tenants: DemoTenant[];

// Every call reports 15,000 + 5,000 tokens: two calls use initech's whole 40,000-token day.
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "troupe-demo-budget-"));
  collector = await startCollector({ ...loadCollectorConfig({ TROUPE_DATA_DIR: join(dir, "data"), TROUPE_ADMIN_KEY: ADMIN_KEY }), port: 0, host: "127.0.0.1" }, { writer: { maxBatchDelayMs: 20 } });
  ({ serviceKey, tenants } = await provisionDemoTenants(collector.url, ADMIN_KEY, join(dir, "tenants.json")));
  llmServer = await startMockOpenAiServer({ behaviour: () => ({ type: "completion", content: "ok", usage: { promptTokens: 15_000, completionTokens: 5_000 } }) });
}, 60_000);

afterAll(async () => {
  await llmServer?.close();
  await collector?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** The demo's LLM clients as a fresh demo process builds them: a new in-memory ledger. */
function demoLlm(telemetry?: Telemetry): LlmClients {
  const initech = tenants.find((t) => t.id === "initech")!;
  return new LlmClients({
    config: { initech: { apiKey: "simulated", baseURL: llmServer.baseURL, defaultModel: "gpt-4o-mini", budget: { tokensPerDay: initech.dailyTokens! } } },
    ...(telemetry ? { tracerProvider: telemetry.tracerProvider, loggerProvider: telemetry.loggerProvider } : {}),
  });
}

const ask = (llm: LlmClients) => llm.forTenant("initech").chat({ messages: [{ role: "user", content: "hello" }], max_tokens: 50 });

describe("a restarted demo", () => {
  it("starts the tenant at its budget from today's usage as the collector stored it", async () => {
    // First run: two calls use the day's budget; the third is refused by the process's own ledger.
    const telemetry = startTelemetry({ serviceName: "demo", collector: { url: `${collector.url}/v1/traces`, apiKey: serviceKey }, registerGlobal: false, batch: { scheduledDelayMs: 50 } });
    const first = demoLlm(telemetry);
    await ask(first);
    await ask(first);
    await expect(ask(first)).rejects.toBeInstanceOf(BudgetExceededError);
    await telemetry.shutdown();
    const stored = async (): Promise<number> => {
      const res = await fetch(`${collector.url}/api/v1/usage?tenant=initech`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
      const { totals } = (await res.json()) as { totals: { inputTokens: number; outputTokens: number } };
      return totals.inputTokens + totals.outputTokens;
    };
    const deadline = Date.now() + 15_000;
    while ((await stored()) < 40_000 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(await stored()).toBe(40_000);

    // A fresh process with nothing charged would call again: the budget restarted with it. (This
    // call exports no usage record, so the collector still holds 40,000.)
    await expect(ask(demoLlm())).resolves.toBeDefined();

    // The demo's start charges today's stored usage first: the day stays spent.
    const restarted = demoLlm();
    const lines: string[] = [];
    await chargeUsageSoFarToday(restarted.ledger, collector.url, ADMIN_KEY, tenants, (l) => lines.push(l));
    expect(lines).toEqual([expect.stringContaining("initech: 40000 of its 40000 daily tokens already used today (UTC)")]);
    const requests = llmServer.requestCount;
    await expect(ask(restarted)).rejects.toBeInstanceOf(BudgetExceededError);
    expect(llmServer.requestCount).toBe(requests);
    // Tenants without a budget are left alone.
    expect((await restarted.ledger.usage("acme")).tokensToday).toBe(0);
  }, 60_000);

  it("charges usage records, not spans: the calls of traces sampled out count, span attributes do not", async () => {
    // A day three days ago, read as "today" by a demo started that afternoon: 30,000 + 5,000 tokens
    // in usage records (one call's trace was sampled out: it has no span), and a refused attempt.
    const day = Date.now() - (Date.now() % 86_400_000) - 3 * 86_400_000;
    await seedUsageRecords(collector.gateway, [
      { tenant: "initech", timeMs: day + 9 * 3_600_000, agentType: "cruncher", inputTokens: 20_000, outputTokens: 4_000, costUsd: 0.5 },
      { tenant: "initech", timeMs: day + 10 * 3_600_000, agentType: "cruncher", inputTokens: 10_000, outputTokens: 1_000, costUsd: 0.25 },
      { tenant: "initech", timeMs: day + 11 * 3_600_000, agentType: "cruncher", outcome: "budget_rejected" },
      { tenant: "initech", timeMs: day + 25 * 3_600_000, agentType: "cruncher", inputTokens: 99_000, outputTokens: 0, costUsd: 9 }, // the next day
    ]);
    // A chat span of that day whose usage attributes no record backs: the trace view's, never billed.
    await collector.store.insertSpans([{
      tenantId: "initech", traceId: randomBytes(16).toString("hex"), spanId: randomBytes(8).toString("hex"), parentSpanId: "", name: "chat gpt-4o-mini", kind: 3,
      startTimeUnixNano: String(BigInt(day + 12 * 3_600_000) * 1_000_000n), durationNs: 1e6, statusCode: 1, serviceName: "demo",
      attributes: { "troupe.tenant.id": "initech", "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o-mini", "gen_ai.usage.input_tokens": "77777" },
      resourceAttributes: { "service.name": "demo" },
    }], "span-without-record");
    const ledger = new InMemoryBudgetLedger();
    const lines: string[] = [];
    const afternoon = day + 15 * 3_600_000;
    await chargeUsageSoFarToday(ledger, collector.url, ADMIN_KEY, tenants, (l) => lines.push(l), afternoon);
    expect(lines).toEqual([expect.stringContaining("initech: 35000 of its 40000 daily tokens already used today (UTC)")]);
    expect((await ledger.usage("initech", {}, afternoon)).tokensToday).toBe(35_000);
  });

  it("starts from zero, and says so, when the collector cannot tell it today's usage", async () => {
    const ledger = new InMemoryBudgetLedger();
    const lines: string[] = [];
    await chargeUsageSoFarToday(ledger, collector.url, "trp_admin_wrong", tenants, (l) => lines.push(l));
    expect(lines).toEqual([expect.stringMatching(/^initech: could not read today's usage from the collector \(.*401.*\); its budget starts from zero$/)]);
    expect((await ledger.usage("initech")).tokensToday).toBe(0);
  });
});
