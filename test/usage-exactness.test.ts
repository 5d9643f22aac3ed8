// Billing is exact whatever the trace sampling, export retries and collector crashes: a runtime
// sampling 1% of its traces makes 2,000 LLM calls through its agents (real Runtime, real LlmClients
// and openai client against the local OpenAI-compatible server, real OpenTelemetry exporters); a
// proxy sends every usage export to the collector three times (as an exporter retrying after a lost
// answer would), and the collector process is killed with SIGKILL mid-run and restarted on the same
// data directory. The usage API, `troupe report` and the console's usage page (in Chromium) then
// equal the ground truth the agents saw: calls, each token count, and cost to 1e-9.
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chromium } from "playwright-core";
import { AgentId, BudgetExceededError, LlmClients, Runtime } from "@troupe/runtime";
import { startMockOpenAiServer, type MockOpenAiServer } from "@troupe/runtime/testing";
import { startTelemetry, type Telemetry } from "@troupe/runtime/otel";
import { createTenantRegistry, openClickHouse, type UsageResponse } from "@troupe/collector";
import { startReplayingProxy, type ReplayingProxy } from "./support/replaying-proxy.js";
import { freePort } from "./support/free-port.js";
import { runTroupe, startCollectorProcess } from "./support/collector-process.js";
import { DEBIAN_CHROMIUM, findChromium } from "./support/services/test-chromium.js";

const ROOT = join(import.meta.dirname, "..");
const ADMIN_KEY = `trp_admin_${randomBytes(18).toString("base64url")}`;
const CALLS = 2_000;
const TENANT = "samp";
const MODEL = "metered-model";
/** USD per million tokens: a call's cost is (input × 1.5 + output × 6) / 1e6. */
const PRICE = { inputPerMTokUsd: 1.5, outputPerMTokUsd: 6 };
const children: ChildProcess[] = [];
let dir: string;
let proxy: ReplayingProxy;
let mock: MockOpenAiServer;
let telemetry: Telemetry;
let collectorUrl: string;
let consoleKey: string;

/** What the agents saw: every attempt, the tokens the provider reported, the refusals. */
const truth = { calls: 0, ok: 0, budgetRejections: 0, inputTokens: 0, outputTokens: 0, costUsd: 0 };
const RANGE = { from: new Date(Date.now() - 3_600_000).toISOString(), to: new Date(Date.now() + 3_600_000).toISOString() };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "troupe-exact-"));
  const setup = await openClickHouse({ kind: "chdb", dataDir: join(dir, "chdb") });
  const registry = createTenantRegistry(setup);
  await registry.createTenant({ id: TENANT });
  const ingestKey = (await registry.issueKey(TENANT, "ingest")).key.secret;
  consoleKey = (await registry.issueKey(TENANT, "console")).key.secret;
  await setup.close();

  let collector = await startCollectorProcess(dir, children, { env: { TROUPE_ADMIN_KEY: ADMIN_KEY } });
  collectorUrl = collector.url;
  const collectorPort = Number(new URL(collector.url).port);
  // Usage exports go upstream three times each; spans once.
  proxy = await startReplayingProxy({ upstream: collector.url, sendTimes: (path) => (path.startsWith("/v1/logs") ? 3 : 1) });
  // Token counts vary per call, so a lost or doubled record changes every total.
  mock = await startMockOpenAiServer({ behaviour: (_req, { callIndex }) => ({ type: "completion", content: "ok", usage: { promptTokens: 20 + (callIndex % 13), completionTokens: 3 + (callIndex % 7) } }) });
  telemetry = startTelemetry({
    serviceName: "exactness",
    collector: { url: `${proxy.url}/v1/traces`, apiKey: ingestKey },
    sampling: { defaultRatio: 0.01 },
    batch: { scheduledDelayMs: 50 },
    usageRecords: { scheduledDelayMs: 50 },
  });
  // A budget the run crosses near its end, so refused attempts are billed as such (0 tokens).
  const llm = new LlmClients({
    config: { [TENANT]: { apiKey: "sk-test", baseURL: mock.baseURL, defaultModel: MODEL, prices: { [MODEL]: PRICE }, budget: { tokensPerDay: 60_000 }, retry: { maxRetries: 0 } } },
  });
  const runtime = new Runtime({ quotas: { defaults: { maxQueuedMessages: 10_000, maxInFlightTurns: 64 } } });
  runtime.register("caller", () => ({
    async onMessage(_m: unknown, ctx) {
      const completion = await llm.forTenant(ctx.tenant).chat({ messages: [{ role: "user", content: "count" }], max_tokens: 10 }, { agent: ctx.agentId, signal: ctx.signal });
      return completion.usage!;
    },
  }));
  await runtime.start();
  const tenant = runtime.tenant(TENANT);
  const one = async (i: number): Promise<void> => {
    truth.calls++;
    try {
      const usage = (await tenant.send(new AgentId("caller", `k${i % 50}`), {})) as { prompt_tokens: number; completion_tokens: number };
      truth.ok++;
      truth.inputTokens += usage.prompt_tokens;
      truth.outputTokens += usage.completion_tokens;
      truth.costUsd += (usage.prompt_tokens * PRICE.inputPerMTokUsd + usage.completion_tokens * PRICE.outputPerMTokUsd) / 1e6;
    } catch (err) {
      // The handler's error arrives wrapped (HandlerError), with the refusal as its cause.
      if (!(err instanceof BudgetExceededError || (err as Error).cause instanceof BudgetExceededError)) throw err;
      truth.budgetRejections++;
    }
  };
  for (let i = 0; i < CALLS; i += 20) {
    if (i === CALLS / 2) {
      // kill -9 mid-run; the proxy answers 503 while it is down and the exporters retry.
      proxy.setUpstream(undefined);
      collector.child.kill("SIGKILL");
      await new Promise((r) => collector.child.once("exit", r));
      collector = await startCollectorProcess(dir, children, { port: collectorPort, env: { TROUPE_ADMIN_KEY: ADMIN_KEY } });
      proxy.setUpstream(collector.url);
    }
    await Promise.all(Array.from({ length: 20 }, (_, j) => one(i + j)));
  }
  await runtime.stop();
  // Usage records are held and retried until acknowledged: this flush must succeed. Spans are not
  // (an export that fails through a whole outage is dropped by the SDK, as for any trace exporter).
  await telemetry.flushUsageRecords();
  await telemetry.forceFlush().catch(() => undefined);
}, 300_000);

afterAll(async () => {
  await telemetry?.shutdown();
  await proxy?.close();
  await mock?.close();
  for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
  if (dir) await rm(dir, { recursive: true, force: true });
});

const troupe = (args: string[]) => runTroupe(args, dir, { TROUPE_COLLECTOR_URL: collectorUrl, TROUPE_ADMIN_KEY: ADMIN_KEY });

async function usage(): Promise<UsageResponse> {
  const q = new URLSearchParams({ ...RANGE, groupBy: "model" });
  const res = await fetch(`${collectorUrl}/api/v1/usage?${q.toString()}`, { headers: { authorization: `Bearer ${consoleKey}` } });
  expect(res.status).toBe(200);
  return (await res.json()) as UsageResponse;
}

describe("usage is exact at 1% trace sampling, with re-sent exports and a collector crash", () => {
  it("the usage API equals what the agents saw", async () => {
    expect(truth.calls).toBe(CALLS);
    expect(truth.budgetRejections).toBeGreaterThan(0);
    expect(proxy.counts.refused).toBeGreaterThan(0);
    // The runtime lost nothing on its side: every record was acknowledged by the collector.
    expect(telemetry.usageRecordStats()).toMatchObject({ queued: CALLS, exported: CALLS, dropped: 0, failed: 0, pending: 0 });
    // The writer inserts a moment after the acknowledgement.
    await expect.poll(async () => (await usage()).totals.calls, { timeout: 60_000, interval: 500 }).toBe(CALLS);
    const { totals } = await usage();
    expect(totals).toMatchObject({ calls: CALLS, inputTokens: truth.inputTokens, outputTokens: truth.outputTokens, budgetRejections: truth.budgetRejections, errors: 0 });
    expect(Math.abs(totals.costUsd - truth.costUsd)).toBeLessThan(1e-9);
    // Sampling kept about 1% of the traces: nowhere near every call.
    const traces = await fetch(`${collectorUrl}/api/v1/traces?${new URLSearchParams({ ...RANGE, limit: "200" }).toString()}`, { headers: { authorization: `Bearer ${consoleKey}` } });
    const kept = ((await traces.json()) as { traces: unknown[] }).traces.length;
    expect(kept).toBeLessThan(CALLS / 4);
  }, 90_000);

  it("troupe report prints the same figures in every format", async () => {
    const json = await troupe(["report", "--tenant", TENANT, "--from", RANGE.from, "--to", RANGE.to, "--group-by", "model", "--format", "json"]);
    expect(json.status, json.stderr).toBe(0);
    const report = JSON.parse(json.stdout) as UsageResponse;
    expect(report.totals).toMatchObject({ calls: CALLS, inputTokens: truth.inputTokens, outputTokens: truth.outputTokens, budgetRejections: truth.budgetRejections });
    expect(Math.abs(report.totals.costUsd - truth.costUsd)).toBeLessThan(1e-9);
    const csv = await troupe(["report", "--tenant", TENANT, "--from", RANGE.from, "--to", RANGE.to, "--group-by", "model", "--format", "csv"]);
    expect(csv.status, csv.stderr).toBe(0);
    const [header, row] = csv.stdout.trim().split(/\r?\n/) as [string, string];
    const cells = Object.fromEntries(header.split(",").map((name, i) => [name, row.split(",")[i]]));
    expect(cells).toMatchObject({ group: MODEL, calls: String(CALLS), inputTokens: String(truth.inputTokens), outputTokens: String(truth.outputTokens) });
  }, 60_000);

  it("the console's usage page shows the same figures", async () => {
    const port = await freePort();
    const consoleUrl = `http://127.0.0.1:${port}`;
    const next = spawn(process.execPath, [join(ROOT, "node_modules/next/dist/bin/next"), "start", "-p", String(port), "-H", "127.0.0.1"], {
      cwd: join(ROOT, "console"),
      env: { ...process.env, NODE_ENV: "production", NEXT_TELEMETRY_DISABLED: "1", TROUPE_COLLECTOR_URL: collectorUrl, TROUPE_CONSOLE_SECRET: randomBytes(32).toString("hex") },
      stdio: "ignore",
    });
    children.push(next);
    const browser = await chromium.launch({
      executablePath: findChromium() ?? DEBIAN_CHROMIUM,
      args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
    });
    try {
      await expect.poll(async () => (await fetch(`${consoleUrl}/healthz`).catch(() => undefined))?.ok ?? false, { timeout: 60_000, interval: 300 }).toBe(true);
      const page = await browser.newPage({ viewport: { width: 1440, height: 960 } });
      await page.goto(`${consoleUrl}/sign-in`);
      await page.getByLabel("Console key or admin key").fill(consoleKey);
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.waitForURL(`${consoleUrl}/`);
      await page.goto(`${consoleUrl}/usage?groupBy=model`);
      await page.screenshot({ path: join(ROOT, "test-results", "screenshots", "usage-exactness.png"), fullPage: true });
      // The headline figures, digits only (the page groups thousands).
      const figure = async (testId: string): Promise<string> => ((await page.getByTestId(testId).locator(".stat-value").innerText()).match(/[\d,]+/)?.[0] ?? "").replace(/,/g, "");
      expect(await figure("total-calls")).toBe(String(CALLS));
      expect(await figure("total-input")).toBe(String(truth.inputTokens));
      expect(await figure("total-output")).toBe(String(truth.outputTokens));
      expect(await figure("total-budget-rejections")).toBe(String(truth.budgetRejections));
    } finally {
      await browser.close();
      next.kill("SIGTERM");
    }
  }, 120_000);
});
