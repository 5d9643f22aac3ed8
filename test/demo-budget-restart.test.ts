import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BudgetExceededError, LlmClients, Runtime, followControlPlane } from "@troupe/runtime";
import { startMockOpenAiServer, type MockOpenAiServer } from "@troupe/runtime/testing";
import { provisionDemoTenants, type DemoTenant } from "@troupe/examples/demo";
import { startTelemetry } from "@troupe/runtime/otel";
import { loadCollectorConfig, startCollector, type RunningCollector } from "@troupe/collector";

// The demo's tenants live in the collector's tenant registry: created with their budgets and
// quotas, then the operator's to change, and the demo's runtime follows them like any runtime. A
// demo restarted the same day must not hand the tenant at its budget a fresh day: its budget counts
// the usage records the collector stored. Real parts: the collector on chDB, the runtime's LLM
// client, OTLP exporters and control-plane follower, a local OpenAI-compatible server.

const ADMIN_KEY = `trp_admin_${randomBytes(18).toString("base64url")}`;
let dir: string;
let collector: RunningCollector;
let llmServer: MockOpenAiServer;
let serviceKey: string;
let tenants: DemoTenant[];

async function admin<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(collector.url + path, {
    method,
    headers: { authorization: `Bearer ${ADMIN_KEY}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (!res.ok) throw new Error(`${method} ${path} answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as T;
}

// Every call reports 15,000 + 5,000 tokens: two calls use initech's whole 40,000-token day.
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "troupe-demo-budget-"));
  collector = await startCollector({ ...loadCollectorConfig({ TROUPE_DATA_DIR: join(dir, "data"), TROUPE_ADMIN_KEY: ADMIN_KEY }), port: 0, host: "127.0.0.1" }, { writer: { maxBatchDelayMs: 20 }, usageWriter: { maxBatchDelayMs: 20 } });
  ({ serviceKey, tenants } = await provisionDemoTenants(collector.url, ADMIN_KEY, join(dir, "tenants.json")));
  llmServer = await startMockOpenAiServer({ behaviour: () => ({ type: "completion", content: "ok", usage: { promptTokens: 15_000, completionTokens: 5_000 } }) });
}, 60_000);

afterAll(async () => {
  await llmServer?.close();
  await collector?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

type Tenant = { tenant: { budgets: { dailyTokens: number | null }; quotas: { maxInFlightTurns: number | null; maxQueuedMessages: number | null } } };

describe("the demo's tenants", () => {
  it("are created with their budgets and quotas, and an operator's later change survives the next start", async () => {
    expect((await admin<Tenant>("GET", "/api/v1/admin/tenants/initech")).tenant.budgets.dailyTokens).toBe(40_000);
    expect((await admin<Tenant>("GET", "/api/v1/admin/tenants/globex")).tenant.quotas).toMatchObject({ maxInFlightTurns: 32, maxQueuedMessages: 200 });
    await admin("PUT", "/api/v1/admin/tenants/acme", { budgets: { dailyTokens: 1_234 } });
    await provisionDemoTenants(collector.url, ADMIN_KEY, join(dir, "tenants.json"));
    expect((await admin<Tenant>("GET", "/api/v1/admin/tenants/acme")).tenant.budgets.dailyTokens).toBe(1_234);
    await admin("PUT", "/api/v1/admin/tenants/acme", { budgets: { dailyTokens: null } });
  });
});

describe("a restarted demo", () => {
  /** The demo's LLM clients and follower as a fresh demo process builds them: a new in-memory ledger, budgets from the registry. */
  async function demoProcess(): Promise<{ llm: LlmClients; stop: () => Promise<void> }> {
    const telemetry = startTelemetry({ serviceName: "demo", collector: { url: `${collector.url}/v1/traces`, apiKey: serviceKey }, registerGlobal: false, batch: { scheduledDelayMs: 50 } });
    const llm = new LlmClients({
      config: Object.fromEntries(tenants.map((t) => [t.id, { apiKey: "simulated", baseURL: llmServer.baseURL, defaultModel: "gpt-4o-mini" }])),
      tracerProvider: telemetry.tracerProvider,
      loggerProvider: telemetry.loggerProvider,
    });
    const runtime = new Runtime();
    const control = followControlPlane({ collectorUrl: collector.url, apiKey: serviceKey, runtime, llm, cacheFile: join(dir, "control-cache.json"), log: () => undefined });
    await control.ready;
    return {
      llm,
      stop: async () => {
        await telemetry.flushUsageRecords();
        await control.stop();
        await runtime.stop();
        await telemetry.shutdown();
      },
    };
  }
  const ask = (llm: LlmClients) => llm.forTenant("initech").chat({ messages: [{ role: "user", content: "hello" }], max_tokens: 50 });

  it("starts the tenant at its budget from today's usage records, making no call", async () => {
    const first = await demoProcess();
    await ask(first.llm);
    await ask(first.llm);
    await expect(ask(first.llm)).rejects.toBeInstanceOf(BudgetExceededError);
    await first.stop();
    const stored = async (): Promise<number> => {
      const { totals } = await admin<{ totals: { inputTokens: number; outputTokens: number } }>("GET", "/api/v1/usage?tenant=initech");
      return totals.inputTokens + totals.outputTokens;
    };
    const deadline = Date.now() + 15_000;
    while ((await stored()) < 40_000 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(await stored()).toBe(40_000);

    const restarted = await demoProcess();
    const requests = llmServer.requestCount;
    await expect(ask(restarted.llm)).rejects.toBeInstanceOf(BudgetExceededError);
    expect(llmServer.requestCount).toBe(requests);
    // A tenant without a budget is not held back by initech's spending.
    await expect(restarted.llm.forTenant("acme").chat({ messages: [{ role: "user", content: "hi" }] })).resolves.toBeDefined();
    await restarted.stop();
  }, 60_000);
});
