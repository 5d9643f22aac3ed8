// The operator's control plane in a real browser: `next start` on the built console against a real
// collector (chDB), driven by playwright-core on Debian's chromium. The settings form writes what
// the admin API then returns, refuses bad values naming the field, shows which runtimes checked in
// and whether they applied the current version, and manages the alert webhook against a real
// receiver on loopback. And what the operator sets there reaches a real runtime process following
// the collector: a lowered budget refuses its next LLM call, a tier change moves its next turns.
import { randomBytes, randomUUID } from "node:crypto";
import type { ChildProcess } from "node:child_process";
import { mkdirSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Browser, type BrowserContext, type Page } from "playwright-core";
import { loadCollectorConfig, startCollector, type RunningCollector } from "@troupe/collector";
import { USAGE_ATTR, USAGE_EVENT_NAME, USAGE_LOGGER_NAME } from "@troupe/runtime";
import { startMockOpenAiServer, type MockOpenAiServer } from "@troupe/runtime/testing";
import { startConsoleInBrowser, type ConsoleInBrowser } from "./support/console-in-browser.js";
import { startFollowedRuntime, type FollowedRuntime } from "./support/followed-runtime.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const shots = join(root, "test-results", "screenshots");
const ADMIN_KEY = `trp_admin_${randomBytes(18).toString("base64url")}`;
const RUNTIME_ID = "3f9a2c1b-77d0-4e0b-9a51-0c2f7a1e5d42";

let dir: string;
let collector: RunningCollector;
let consoleStack: ConsoleInBrowser | undefined;
let consoleUrl: string;
let browser: Browser;
let consoleKey = "";
let ingestKey = "";
let serviceKey = "";
const received: Array<{ headers: Record<string, string | string[] | undefined>; body: string }> = [];
let receiver: Server;
let receiverUrl = "";

interface Tenant {
  tier: string;
  retentionDays: number;
  settingsVersion: number;
  budgets: Record<string, number | null>;
  quotas: Record<string, number | null>;
  rateLimits: Record<string, number | null>;
  samplingRatio: number | null;
  alerts: { thresholds: number[] };
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function api<T>(key: string, path: string, init?: RequestInit): Promise<{ status: number; body: T }> {
  const res = await fetch(`${collector.url}${path}`, { ...init, headers: { authorization: `Bearer ${key}`, "content-type": "application/json", ...(init?.headers ?? {}) } });
  const text = await res.text();
  return { status: res.status, body: (text && res.headers.get("content-type")?.includes("json") ? JSON.parse(text) : text) as T };
}

async function tenant(id: string): Promise<Tenant> {
  const res = await api<{ tenant: Tenant }>(ADMIN_KEY, `/api/v1/admin/tenants/${id}`);
  expect(res.status).toBe(200);
  return res.body.tenant;
}

/** A runtime's check-in, as a following runtime makes it: a settings read naming itself and the version it applied. */
async function checkIn(appliedVersion: number): Promise<void> {
  const res = await api<unknown>(serviceKey, "/api/v1/control/settings?tenants=acme", {
    headers: { "troupe-runtime-id": RUNTIME_ID, "troupe-runtime-name": "shop-api@build-7", "troupe-applied-version": String(appliedVersion) },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
}

beforeAll(async () => {
  mkdirSync(shots, { recursive: true });
  dir = await mkdtemp(join(tmpdir(), "troupe-console-cp-"));
  collector = await startCollector({ ...loadCollectorConfig({ TROUPE_DATA_DIR: dir, TROUPE_ADMIN_KEY: ADMIN_KEY }), port: 0, host: "127.0.0.1" }, { writer: { maxBatchDelayMs: 20 } });

  const created = await api<{ keys: Array<{ kind: string; secret: string }> }>(ADMIN_KEY, "/api/v1/admin/tenants", { method: "POST", body: JSON.stringify({ id: "acme", name: "Acme Corp" }) });
  expect(created.status).toBe(201);
  consoleKey = created.body.keys.find((k) => k.kind === "console")!.secret;
  ingestKey = created.body.keys.find((k) => k.kind === "ingest")!.secret;
  const service = await api<{ key: { secret: string } }>(ADMIN_KEY, "/api/v1/admin/service-keys", { method: "POST", body: JSON.stringify({ allowedTenants: ["acme"] }) });
  expect(service.status).toBe(201);
  serviceKey = service.body.key.secret;

  // The webhook receiver: records every POST and answers 204.
  receiver = createServer(async (req, res) => {
    let body = "";
    for await (const chunk of req) body += chunk;
    received.push({ headers: req.headers, body });
    res.writeHead(204).end();
  });
  await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/troupe-alerts`;

  // test/global-setup.ts built the console before any test file ran.
  consoleStack = await startConsoleInBrowser(collector.url);
  ({ consoleUrl, browser } = consoleStack);
}, 300_000);

afterAll(async () => {
  await consoleStack?.close();
  await collector?.close();
  if (receiver) await new Promise((r) => receiver.close(r));
  if (dir) await rm(dir, { recursive: true, force: true });
}, 60_000);

async function signedIn(key: string): Promise<{ ctx: BrowserContext; page: Page }> {
  const ctx = await browser.newContext({ viewport: { width: 1440, height: 960 } });
  const page = await ctx.newPage();
  await page.goto(`${consoleUrl}/sign-in`);
  await page.getByLabel("Console key or admin key").fill(key);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL((url) => url.pathname !== "/sign-in");
  return { ctx, page };
}

async function openTenantPage(page: Page, id = "acme"): Promise<void> {
  await page.goto(`${consoleUrl}/operator/tenants/${id}`);
  await page.getByTestId("tenant-settings-form").waitFor();
}

/** Submits the tenant settings form; resolves once the page confirms a new version saved, with the moment it did. */
async function saveSettings(page: Page): Promise<{ version: number; confirmedAt: number }> {
  const form = page.getByTestId("tenant-settings-form");
  const before = Number(await form.locator(".form-actions .mono").textContent());
  await form.getByRole("button", { name: "Save settings" }).click();
  let version = 0;
  await expect.poll(async () => {
    const text = await form.getByTestId("form-status").textContent();
    version = Number(/^Settings saved\. Version (\d+): /.exec(text ?? "")?.[1] ?? 0);
    return version;
  }, { timeout: 15_000, interval: 20 }).toBeGreaterThan(before);
  return { version, confirmedAt: Date.now() };
}

/** Polls `probe` until it returns true; resolves with the milliseconds since `since`, or throws once `timeoutMs` have passed since then. */
async function msSince(since: number, timeoutMs: number, what: string, probe: () => Promise<boolean>): Promise<number> {
  for (;;) {
    if (await probe()) return Date.now() - since;
    if (Date.now() - since > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("the operator's control plane in a real browser", () => {
  it("saves budgets, tier and quotas from the form: the admin API returns them, and what not set means is said", async () => {
    const { ctx, page } = await signedIn(ADMIN_KEY);
    await openTenantPage(page);
    const form = page.getByTestId("tenant-settings-form");
    // No text promising a "policy refresh"; the truth about when changes apply.
    const body = (await page.textContent("body"))!;
    expect(body).not.toContain("policy refresh");
    expect(body).toContain("Runtimes following this collector apply changes within seconds; the Runtimes panel shows which have.");
    expect(await form.getByLabel("Scheduling weight").getAttribute("placeholder")).toBe("not set");
    expect(body).toContain("Empty: not set, and the runtime's own option (its code) applies.");
    expect(body).toContain("Empty: the runtime's own option");
    expect(body).toContain("Empty: the runtime's own budget, if any; else unlimited");
    expect(await form.getByLabel("Alert thresholds (%)").inputValue()).toBe("80, 95");
    const before = await tenant("acme");

    await form.getByLabel("Daily token budget").fill("50000");
    await form.getByLabel("Isolation tier").selectOption("worker");
    await form.getByLabel("Max turns in flight").fill("4");
    await form.getByLabel("LLM requests per minute").fill("120");
    await form.getByLabel("Trace sampling (%)").fill("25");
    await form.getByLabel("Alert thresholds (%)").fill("50, 90");
    await form.getByRole("button", { name: "Save settings" }).click();
    await expect.poll(() => form.getByTestId("form-status").textContent()).toMatch(/^Settings saved\. Version \d+: runtimes following this collector apply it within seconds\.$/);

    const after = await tenant("acme");
    expect(after.settingsVersion).toBeGreaterThan(before.settingsVersion);
    expect(after).toMatchObject({
      tier: "worker",
      budgets: { dailyTokens: 50000, monthlyTokens: null, dailyCostUsd: null, monthlyCostUsd: null },
      quotas: { maxInFlightTurns: 4, maxQueuedMessages: null, messagesPerSecond: null, turnTimeoutMs: null, weight: null },
      rateLimits: { requestsPerMinute: 120, tokensPerMinute: null },
      samplingRatio: 0.25,
      alerts: { thresholds: [0.5, 0.9] },
    });
    // The form shows the saved settings, and so does a fresh load.
    await page.reload();
    expect(await page.getByLabel("Daily token budget").inputValue()).toBe("50000");
    expect(await page.getByLabel("Isolation tier").inputValue()).toBe("worker");
    expect(await page.getByLabel("Trace sampling (%)").inputValue()).toBe("25");

    // Emptying a field clears it (null), back to "not set".
    await page.getByLabel("LLM requests per minute").fill("");
    await page.getByRole("button", { name: "Save settings" }).click();
    await expect.poll(async () => (await tenant("acme")).rateLimits.requestsPerMinute).toBeNull();
    await ctx.close();
  });

  it("refuses a weight of 0 and a ratio of 150% naming each field, keeps what was typed, and changes nothing", async () => {
    const { ctx, page } = await signedIn(ADMIN_KEY);
    await openTenantPage(page);
    const before = await tenant("acme");
    const form = page.getByTestId("tenant-settings-form");
    await form.getByLabel("Scheduling weight").fill("0");
    await form.getByLabel("Trace sampling (%)").fill("150");
    await form.getByLabel("Daily token budget").fill("777");
    await form.getByRole("button", { name: "Save settings" }).click();
    await expect.poll(() => form.getByTestId("form-status").textContent()).toBe("Nothing was saved: check the highlighted fields.");
    expect(await page.locator("#ts-weight-error").textContent()).toBe("Scheduling weight must be greater than 0 and at most 1000, or empty for not set");
    expect(await page.locator("#ts-samplingRatio-error").textContent()).toBe("Trace sampling (%) must be from 0 to 100%, or empty for not set");
    expect(await form.getByLabel("Scheduling weight").getAttribute("aria-invalid")).toBe("true");
    expect(await form.getByLabel("Scheduling weight").inputValue()).toBe("0");
    expect(await form.getByLabel("Daily token budget").inputValue()).toBe("777");
    await shot(page, "cp-01-refused");
    expect(await tenant("acme")).toEqual(before);
    await ctx.close();
  });

  it("shows each runtime that checked in: up to date, then behind after a change", async () => {
    const { ctx, page } = await signedIn(ADMIN_KEY);
    await openTenantPage(page);
    // Nobody has checked in yet: how to connect one.
    const empty = page.getByTestId("runtimes-empty");
    expect(await empty.textContent()).toContain("followControlPlane");
    await empty.getByRole("link", { name: "Control plane" }).click();
    await page.waitForURL(/\/help\/control-plane$/);
    expect(await page.locator("main h1").textContent()).toBe("Control plane");

    const applied = (await tenant("acme")).settingsVersion;
    await checkIn(applied);
    await openTenantPage(page);
    const row = page.getByTestId("runtimes-table").locator("tbody tr");
    await expect.poll(() => row.count()).toBe(1);
    expect(await row.locator("td").first().textContent()).toBe("shop-api@build-73f9a2c1b…");
    expect(await row.locator("td").first().locator(".cell-sub").getAttribute("title")).toBe(RUNTIME_ID);
    expect(await row.locator(".badge").textContent()).toBe("up to date");
    expect(await row.locator("td").nth(2).textContent()).toBe(`${applied}the current version`);
    const time = row.locator("time");
    expect(await time.textContent()).toMatch(/^(just now|\d+ s ago)$/);
    expect(await time.getAttribute("title")).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

    // A change the runtime has not applied yet: it is behind.
    await page.getByLabel("Scheduling weight").fill("2");
    await page.getByRole("button", { name: "Save settings" }).click();
    await expect.poll(() => row.locator(".badge").textContent()).toBe("behind");
    const { settingsVersion } = await tenant("acme");
    expect(settingsVersion).toBeGreaterThan(applied);
    expect(await row.locator("td").nth(2).textContent()).toBe(`${applied}current: ${settingsVersion}`);
    // It catches up on its next read.
    await checkIn(settingsVersion);
    await page.reload();
    await expect.poll(() => page.getByTestId("runtimes-table").locator(".badge").textContent()).toBe("up to date");
    await ctx.close();
  });

  it("sets a webhook (secret shown once), sends a test event that the delivery log shows, and removes it", async () => {
    const { ctx, page } = await signedIn(ADMIN_KEY);
    await openTenantPage(page);
    expect(await page.getByTestId("webhook-current").textContent()).toContain("none");

    const set = page.getByTestId("webhook-set");
    await set.getByLabel("Webhook URL").fill("ftp://example.com/hook");
    await set.getByRole("button", { name: "Set webhook" }).click();
    await expect.poll(() => page.locator("#wh-url-error").textContent()).toBe("Webhook URL must start with http:// or https://");

    await set.getByLabel("Webhook URL").fill(receiverUrl);
    await set.getByRole("button", { name: "Set webhook" }).click();
    const secret = (await set.getByTestId("webhook-secret").textContent())!.trim();
    expect(secret).toMatch(/^whsec_/);
    expect(await set.getByTestId("webhook-secret-once").textContent()).toContain("shown only once");
    await expect.poll(() => page.getByTestId("webhook-current").textContent()).toContain(receiverUrl);

    await page.getByRole("button", { name: "Send test event" }).click();
    await expect.poll(() => page.getByTestId("webhook-test").getByTestId("form-status").textContent()).toMatch(/^Test event delivered: HTTP 204 in \d+ ms\.$/);
    expect(received).toHaveLength(1);
    expect(JSON.parse(received[0]!.body)).toMatchObject({ type: "test", tenantId: "acme" });
    const log = page.getByTestId("deliveries-table");
    await expect.poll(() => log.locator("tbody tr").count()).toBe(1);
    const cells = await log.locator("tbody tr td").allTextContents();
    expect(cells[1]).toBe("#1");
    expect(cells[2]).toMatch(/^204/);
    expect(cells[3]).toBe("delivered");
    expect(cells[4]).toBe("–");

    // The whole page in one viewport, so the sticky sidebar and top bar stay where they belong.
    const height = await page.evaluate(() => document.documentElement.scrollHeight);
    await page.setViewportSize({ width: 1440, height });
    await page.screenshot({ path: "/tmp/console-tenant.png" });
    await page.setViewportSize({ width: 1440, height: 960 });
    await shot(page, "cp-02-tenant-page");
    // The secret is not shown again.
    await page.reload();
    await page.getByTestId("deliveries-table").waitFor();
    expect(await page.textContent("body")).not.toContain(secret);

    await page.getByRole("button", { name: "Remove webhook" }).click();
    await expect.poll(() => page.getByTestId("webhook-current").textContent()).toContain("none");
    const alerts = await api<{ webhook: unknown }>(ADMIN_KEY, "/api/v1/admin/tenants/acme/alerts");
    expect(alerts.body.webhook).toBeNull();
    await ctx.close();
  });

  it("budget alerts raised from real usage show on the operator's panel and in the tenant's own budget card", async () => {
    // 46,000 tokens against the 50,000-token day set above (thresholds 50% and 90%), through OTLP
    // ingest as a runtime exports them.
    await exportUsage(46_000);
    const own = await waitFor("the alerts to be raised", async () => {
      const res = await api<{ alerts: Array<{ threshold: number | null }>; deliveries: unknown[] }>(consoleKey, "/api/v1/alerts");
      return res.body.alerts?.length === 2 ? res.body : undefined;
    }, 30_000);
    expect(own.alerts.map((a) => a.threshold).sort()).toEqual([0.5, 0.9]);
    expect(own.deliveries).toEqual([]);

    const admin = await signedIn(ADMIN_KEY);
    await openTenantPage(admin.page);
    const rows = admin.page.getByTestId("alerts-table").locator("tbody tr");
    await expect.poll(() => rows.count()).toBe(2);
    const cells = await rows.filter({ hasText: "90%" }).locator("td").allTextContents();
    expect(cells.slice(0, 5)).toEqual(["Threshold", `Day ${new Date().toISOString().slice(0, 10)}`, "Tokens", "90%", "46,000 / 50,000 tokens"]);
    expect(cells[6]).toBe("not sent (no webhook)");
    await shot(admin.page, "cp-04-operator-alerts");
    await admin.ctx.close();

    const { ctx, page } = await signedIn(consoleKey);
    await page.goto(`${consoleUrl}/`);
    const list = page.getByTestId("budget-alerts");
    await list.waitFor();
    const text = (await list.textContent())!;
    expect(text).toContain("90% of the daily token budget used");
    expect(text).toContain("50% of the daily token budget used");
    expect(text).toContain("46,000 / 50,000 tokens");
    // The tenant sees its budget as its operator set it (read-only).
    expect(await page.getByText("Tokens today").locator("..").textContent()).toContain("46K / 50K");
    await shot(page, "cp-03-tenant-budget-alerts");
    await ctx.close();
  });
});

describe("a runtime process follows what the operator sets in the console", () => {
  // Every LLM call reports 800 + 200 tokens.
  const started: ChildProcess[] = [];
  let llmServer: MockOpenAiServer;
  let runtime: FollowedRuntime;

  beforeAll(async () => {
    const created = await api(ADMIN_KEY, "/api/v1/admin/tenants", { method: "POST", body: JSON.stringify({ id: "initech", name: "Initech" }) });
    expect(created.status).toBe(201);
    const service = await api<{ key: { secret: string } }>(ADMIN_KEY, "/api/v1/admin/service-keys", { method: "POST", body: JSON.stringify({ allowedTenants: ["initech"] }) });
    expect(service.status).toBe(201);
    llmServer = await startMockOpenAiServer({ behaviour: () => ({ type: "completion", content: "ok", usage: { promptTokens: 800, completionTokens: 200 } }) });
    runtime = await startFollowedRuntime(
      { name: "rt-console", collectorUrl: collector.url, apiKey: service.body.key.secret, llmBaseUrl: llmServer.baseURL, tenants: ["initech"], cacheFile: join(dir, "rt-console.cache.json") },
      started,
    );
  }, 120_000);

  afterAll(async () => {
    for (const child of started) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      child.kill("SIGKILL");
      await once(child, "exit");
    }
    await llmServer?.close();
  });

  async function budgetRejections(): Promise<number> {
    const res = await api<{ totals: { budgetRejections: number } }>(ADMIN_KEY, "/api/v1/usage?tenant=initech");
    expect(res.status).toBe(200);
    return res.body.totals.budgetRejections;
  }

  /** Runs three turns of initech, checks where each says it ran, and returns `troupe.turn.isolation` of their stored process spans. */
  async function isolationOfNextTurns(inWorker: boolean): Promise<Array<string | undefined>> {
    const from = Date.now();
    // An agent key of their own: turns polled just before (in the same millisecond, or on a runtime
    // clock a little ahead) would otherwise count among the three (a CI run found a fourth).
    const key = `probe-${randomUUID()}`;
    for (let i = 0; i < 3; i++) expect((await runtime.where("initech", key)).isMainThread).toBe(!inWorker);
    return waitFor("the three turns' process spans", async () => {
      const { body } = await api<{ traces: Array<{ traceId: string }> }>(ADMIN_KEY, `/api/v1/traces?tenant=initech&agentType=where&from=${from}&limit=50`);
      const isolation: Array<string | undefined> = [];
      for (const t of body.traces) {
        const { body: trace } = await api<{ spans: Array<{ name: string; attributes: Record<string, string> }> }>(ADMIN_KEY, `/api/v1/traces/${t.traceId}?tenant=initech`);
        for (const span of trace.spans) if (span.name === "process where" && span.attributes["troupe.agent.key"] === key) isolation.push(span.attributes["troupe.turn.isolation"]);
      }
      return isolation.length >= 3 ? isolation : undefined;
    }, 20_000);
  }

  it("a daily token budget lowered in the form refuses the runtime's next call within 5 s, counted as budget_rejected; raised, calls pass again", async ({ annotate }) => {
    expect(await runtime.chat("initech")).toEqual({ ok: true });
    expect(await budgetRejections()).toBe(0);
    const { ctx, page } = await signedIn(ADMIN_KEY);
    await openTenantPage(page, "initech");

    // 1,000 tokens already spent today: a 500-token day is over.
    await page.getByTestId("tenant-settings-form").getByLabel("Daily token budget").fill("500");
    const lowered = await saveSettings(page);
    expect(await tenant("initech")).toMatchObject({ settingsVersion: lowered.version, budgets: { dailyTokens: 500 } });
    let refusal: { ok: boolean; error?: string } = { ok: true };
    const refusedMs = await msSince(lowered.confirmedAt, 5_000, "a refusal after lowering the budget", async () => !(refusal = await runtime.chat("initech")).ok);
    expect(refusal).toEqual({ ok: false, error: "BUDGET_EXCEEDED" });
    expect(refusedMs).toBeLessThan(5_000);
    await runtime.flush();
    const rejections = await waitFor("budget_rejected in the usage report", async () => {
      const n = await budgetRejections();
      return n > 0 ? n : undefined;
    }, 15_000);
    expect(rejections).toBe(1);

    // Emptying the field: unlimited again.
    await page.getByTestId("tenant-settings-form").getByLabel("Daily token budget").fill("");
    const raised = await saveSettings(page);
    expect((await tenant("initech")).budgets.dailyTokens).toBeNull();
    const passedMs = await msSince(raised.confirmedAt, 5_000, "a call through after raising the budget", async () => (await runtime.chat("initech")).ok);
    expect(passedMs).toBeLessThan(5_000);
    expect(await runtime.chat("initech")).toEqual({ ok: true });
    await annotate(`refused ${refusedMs} ms after the save was confirmed; calls through ${passedMs} ms after raising`);
    await ctx.close();
  });

  it("a tier change to worker in the form runs the tenant's next turns in worker threads, as their spans say; back to shared likewise", async ({ annotate }) => {
    expect((await runtime.where("initech")).isMainThread).toBe(true);
    const { ctx, page } = await signedIn(ADMIN_KEY);
    await openTenantPage(page, "initech");

    await page.getByTestId("tenant-settings-form").getByLabel("Isolation tier").selectOption("worker");
    const toWorker = await saveSettings(page);
    expect((await tenant("initech")).tier).toBe("worker");
    const workerMs = await msSince(toWorker.confirmedAt, 5_000, "turns in a worker thread", async () => !(await runtime.where("initech")).isMainThread);
    expect(await isolationOfNextTurns(true)).toEqual(["worker", "worker", "worker"]);

    await page.getByTestId("tenant-settings-form").getByLabel("Isolation tier").selectOption("shared");
    const toShared = await saveSettings(page);
    expect((await tenant("initech")).tier).toBe("shared");
    const sharedMs = await msSince(toShared.confirmedAt, 5_000, "turns on the main thread again", async () => (await runtime.where("initech")).isMainThread);
    // On the main event loop the process span carries no isolation attribute.
    expect(await isolationOfNextTurns(false)).toEqual([undefined, undefined, undefined]);
    await annotate(`worker turns ${workerMs} ms after the save was confirmed; shared again after ${sharedMs} ms`);
    await ctx.close();
  });
});

/** One usage record of `tokens` input tokens for acme, POSTed as OTLP/JSON logs with acme's ingest key, as a runtime exports it. */
async function exportUsage(tokens: number): Promise<void> {
  const attr = (key: string, value: string | number) => ({ key, value: typeof value === "string" ? { stringValue: value } : Number.isInteger(value) ? { intValue: String(value) } : { doubleValue: value } });
  const body = {
    resourceLogs: [{
      resource: { attributes: [attr("service.name", "shop-api")] },
      scopeLogs: [{
        scope: { name: USAGE_LOGGER_NAME },
        logRecords: [{
          timeUnixNano: `${BigInt(Date.now()) * 1_000_000n}`,
          eventName: USAGE_EVENT_NAME,
          attributes: [
            attr(USAGE_ATTR.id, randomUUID()), attr(USAGE_ATTR.tenantId, "acme"), attr(USAGE_ATTR.agentType, "support"), attr(USAGE_ATTR.provider, "openai"),
            attr(USAGE_ATTR.model, "gpt-4o-mini"), attr(USAGE_ATTR.responseModel, "gpt-4o-mini"), attr(USAGE_ATTR.outcome, "ok"),
            attr(USAGE_ATTR.inputTokens, tokens), attr(USAGE_ATTR.outputTokens, 0), attr(USAGE_ATTR.costUsd, 0.5),
          ],
        }],
      }],
    }],
  };
  const res = await fetch(`${collector.url}/v1/logs`, { method: "POST", headers: { authorization: `Bearer ${ingestKey}`, "content-type": "application/json" }, body: JSON.stringify(body) });
  expect(res.status, await res.text()).toBe(200);
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
}
