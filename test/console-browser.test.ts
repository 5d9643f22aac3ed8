// The console in a real browser: `next build` + `next start` against a real collector (chDB) seeded
// through the real OTLP exporter, driven by playwright-core on Debian's chromium.
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SpanKind, SpanStatusCode, context, trace } from "@opentelemetry/api";
import { BasicTracerProvider, BatchSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { type Browser, type BrowserContext, type Page } from "playwright-core";
import { loadCollectorConfig, startCollector, type RunningCollector } from "@troupe/collector";
import { startConsoleInBrowser, type ConsoleInBrowser } from "./support/console-in-browser.js";
import { seedUsageRecords } from "./support/usage-records.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const shots = join(root, "test-results", "screenshots");
const ADMIN_KEY = `trp_admin_${randomBytes(18).toString("base64url")}`;

let dir: string;
let collector: RunningCollector;
let consoleStack: ConsoleInBrowser | undefined;
let consoleUrl: string;
let browser: Browser;
const keys = { aConsole: "", aIngest: "", bConsole: "", bIngest: "" };
const traces = { a: "", aError: "", b: "" };

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

/**
 * Sends one tenant's spans through the real OTLP/HTTP exporter and stores each LLM call's usage
 * record beside them (as the collector's usage writer would); returns the trace ids. `samplingRatio`
 * marks the turn as a trace kept by sampling at that ratio.
 */
async function seed(ingestKey: string, tenant: string, plan: Array<{ agent: string; name: string; error?: boolean; model: string; tokensIn: number; tokensOut: number; cost: number; samplingRatio?: number }>): Promise<string[]> {
  const tp = new BasicTracerProvider({
    resource: resourceFromAttributes({ "service.name": `${tenant}-app` }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: `${collector.url}/v1/traces`, headers: { Authorization: `Bearer ${ingestKey}` } }), { scheduledDelayMillis: 10 })],
  });
  const tracer = tp.getTracer("console-browser-test");
  const ids: string[] = [];
  for (const p of plan) {
    const turn = tracer.startSpan(p.name, {
      kind: SpanKind.CONSUMER,
      attributes: {
        "troupe.tenant.id": tenant,
        "troupe.agent.type": p.agent,
        "troupe.turn.outcome": p.error ? "error" : "ok",
        "troupe.queue.wait_ms": 3,
        "troupe.handler.wall_ms": 40,
        "messaging.operation.name": "process",
        ...(p.samplingRatio !== undefined ? { "troupe.sampling.ratio": p.samplingRatio, "troupe.sampling.kept_by": "ratio" } : {}),
      },
    });
    const ctx = trace.setSpan(context.active(), turn);
    const chat = tracer.startSpan(`chat ${p.model}`, {
      kind: SpanKind.CLIENT,
      attributes: {
        "troupe.tenant.id": tenant,
        "troupe.agent.type": p.agent,
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": p.model,
        "gen_ai.usage.input_tokens": p.tokensIn,
        "gen_ai.usage.output_tokens": p.tokensOut,
        "troupe.llm.cost_usd": p.cost,
        "troupe.llm.simulated": true,
      },
    }, ctx);
    if (p.error) chat.setStatus({ code: SpanStatusCode.ERROR, message: "upstream 500" });
    chat.end();
    turn.setStatus({ code: p.error ? SpanStatusCode.ERROR : SpanStatusCode.OK });
    turn.end();
    ids.push(turn.spanContext().traceId);
    await seedUsageRecords(collector.gateway, [{
      tenant, timeMs: Date.now(), agentType: p.agent, model: p.model, outcome: p.error ? "error" : "ok",
      inputTokens: p.tokensIn, outputTokens: p.tokensOut, costUsd: p.cost, traceId: chat.spanContext().traceId, spanId: chat.spanContext().spanId,
    }]);
  }
  await tp.forceFlush();
  await tp.shutdown();
  return ids;
}

beforeAll(async () => {
  mkdirSync(shots, { recursive: true });
  dir = await mkdtemp(join(tmpdir(), "troupe-console-"));
  collector = await startCollector(
    { ...loadCollectorConfig({ TROUPE_DATA_DIR: dir, TROUPE_ADMIN_KEY: ADMIN_KEY }), port: 0, host: "127.0.0.1" },
    { writer: { maxBatchDelayMs: 20 } },
  );

  // Tenants and keys through the admin API, as an operator would.
  for (const [id, name, which] of [["acme", "Acme Corp", "a"], ["globex", "Globex", "b"]] as const) {
    const res = await api<{ keys: Array<{ kind: string; secret: string }> }>(ADMIN_KEY, "/api/v1/admin/tenants", { method: "POST", body: JSON.stringify({ id, name }) });
    if (res.status === 404) throw new Error("the collector from startCollector does not serve the admin API (/api/v1/admin/tenants answered 404): are the query/admin routes mounted?");
    expect(res.status).toBe(201);
    keys[`${which}Console`] = res.body.keys.find((k) => k.kind === "console")!.secret;
    keys[`${which}Ingest`] = res.body.keys.find((k) => k.kind === "ingest")!.secret;
  }

  // acme's planner trace was kept by sampling at 25%; its other traces predate sampling.
  const aIds = await seed(keys.aIngest, "acme", [
    { agent: "planner", name: "process planner", model: "gpt-4o-mini", tokensIn: 1200, tokensOut: 300, cost: 0.0021, samplingRatio: 0.25 },
    { agent: "researcher", name: "process researcher", model: "gpt-4o", tokensIn: 800, tokensOut: 150, cost: 0.0065 },
    { agent: "researcher", name: "process researcher", model: "gpt-4o", tokensIn: 500, tokensOut: 90, cost: 0.004, error: true },
  ]);
  [traces.a, , traces.aError] = aIds as [string, string, string];
  [traces.b] = (await seed(keys.bIngest, "globex", [
    { agent: "globex-secret-agent", name: "process globex-secret-agent", model: "gpt-4o", tokensIn: 999, tokensOut: 111, cost: 0.5 },
  ])) as [string];
  // An attempt the budget refused, whose trace was sampled out: a usage record and no span.
  await seedUsageRecords(collector.gateway, [{ tenant: "acme", timeMs: Date.now(), agentType: "researcher", model: "gpt-4o", outcome: "budget_rejected" }]);

  await waitFor("seeded traces to be queryable", async () => {
    const a = await api<{ traces: unknown[] }>(keys.aConsole, "/api/v1/traces?from=" + encodeURIComponent(new Date(Date.now() - 3_600_000).toISOString()));
    const b = await api<{ traces: unknown[] }>(keys.bConsole, "/api/v1/traces");
    return a.body.traces?.length === 3 && b.body.traces?.length === 1 ? true : undefined;
  }, 20_000);

  // test/global-setup.ts built the console before any test file ran.
  consoleStack = await startConsoleInBrowser(collector.url, { TROUPE_APM_TRACE_URL: "http://jaeger.local/trace/{traceId}" });
  ({ consoleUrl, browser } = consoleStack);
}, 300_000);

afterAll(async () => {
  await consoleStack?.close();
  await collector?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
}, 60_000);

async function newPage(): Promise<{ ctx: BrowserContext; page: Page }> {
  const ctx = await browser.newContext({ viewport: { width: 1440, height: 960 }, acceptDownloads: true });
  return { ctx, page: await ctx.newPage() };
}

async function signIn(page: Page, key: string): Promise<void> {
  await page.goto(`${consoleUrl}/sign-in`);
  await page.getByLabel("Console key or admin key").fill(key);
  await page.getByRole("button", { name: "Sign in" }).click();
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
}

describe("console in a real browser", () => {
  it("answers a bad key with a clear message and sends visitors without a session to sign in", async () => {
    const { ctx, page } = await newPage();
    await page.goto(`${consoleUrl}/traces`);
    expect(new URL(page.url()).pathname).toBe("/sign-in");
    await shot(page, "01-sign-in");
    await signIn(page, "trp_console_thisIsNotAKey");
    await expect.poll(() => page.getByTestId("sign-in-error").textContent()).toContain("not recognised");
    await shot(page, "02-sign-in-bad-key");
    await signIn(page, keys.aIngest);
    await expect.poll(() => page.getByTestId("sign-in-error").textContent()).toContain("ingest key");
    expect(new URL(page.url()).pathname).toBe("/sign-in");
    await ctx.close();
  });

  it("tenant A sees its own overview, traces, trace detail, agents and usage — never B's", async () => {
    const { ctx, page } = await newPage();
    await signIn(page, keys.aConsole);
    await page.waitForURL(`${consoleUrl}/`);
    await expect.poll(() => page.getByTestId("signed-in-as").textContent()).toBe("acme");

    // Session cookie: httpOnly, SameSite=Lax, expiring; security headers on every page.
    const cookie = (await ctx.cookies()).find((c) => c.name === "troupe_session")!;
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: "Lax" });
    expect(cookie.expires).toBeGreaterThan(Date.now() / 1000);
    expect(cookie.value).not.toContain(keys.aConsole);
    const res = await page.goto(`${consoleUrl}/`);
    const headers = res!.headers();
    expect(headers["content-security-policy"]).toContain("frame-ancestors 'none'");
    expect(headers["x-frame-options"]).toBe("DENY");
    expect(headers["x-content-type-options"]).toBe("nosniff");
    expect(headers["referrer-policy"]).toBeTruthy();

    // LLM calls come from usage records (every attempt, the refused one included) and say they are
    // exact; span counts are labelled with the sampling in force.
    await page.getByTestId("stat-llm-calls").waitFor();
    expect(await page.getByTestId("stat-llm-calls").textContent()).toMatch(/^LLM calls \(exact\)4every attempt · 1 budget-rejected/);
    expect(await page.getByTestId("stat-spans").textContent()).toMatch(/^Spans \(sampled at 25% and 100%\)6/);
    expect(await page.getByTestId("sampling-note").textContent()).toContain("LLM calls, tokens and cost come from usage records and are exact");
    await page.waitForSelector(".recharts-surface");
    await shot(page, "03-overview-tenant");

    await page.getByRole("link", { name: "Traces" }).click();
    await page.waitForURL(/\/traces/);
    const table = page.getByTestId("traces-table");
    await table.waitFor();
    expect(await page.getByTestId("sampling-note").textContent()).toContain("Traces were sampled at 25% and 100% in this range");
    const text = (await table.textContent())!;
    expect(text).toContain(traces.a);
    expect(text).toContain(traces.aError);
    expect(text).not.toContain(traces.b);
    expect(text).not.toContain("globex");
    await shot(page, "04-traces");

    // Filters live in the URL.
    await page.getByLabel("Status").selectOption("error");
    await page.getByRole("button", { name: "Apply filters" }).click();
    await page.waitForURL(/status=error/);
    const filtered = (await page.getByTestId("traces-table").textContent())!;
    expect(filtered).toContain(traces.aError);
    expect(filtered).not.toContain(traces.a);

    await page.goto(`${consoleUrl}/traces/${traces.a}`);
    await page.getByTestId("waterfall").waitFor();
    expect(await page.getByTestId("trace-id").textContent()).toBe(traces.a);
    const waterfall = page.getByTestId("waterfall");
    expect(await waterfall.locator("details").count()).toBe(2);
    await expect.poll(() => waterfall.textContent()).toContain("chat gpt-4o-mini");
    expect(await page.getByText("simulated model").first().isVisible()).toBe(true);
    expect(await page.getByRole("link", { name: /Open in APM/ }).getAttribute("href")).toBe(`http://jaeger.local/trace/${traces.a}`);
    await waterfall.locator("summary", { hasText: "chat gpt-4o-mini" }).click();
    await expect.poll(() => waterfall.textContent()).toContain("gen_ai.usage.input_tokens");
    await shot(page, "05-trace-detail");

    // B's trace id typed into the URL: "not found", and nothing of B's.
    const other = await page.goto(`${consoleUrl}/traces/${traces.b}`);
    expect(other!.status()).toBe(404);
    await page.getByTestId("trace-not-found").waitFor();
    const body = (await page.textContent("body"))!;
    expect(body).toContain("Trace not found");
    expect(body).not.toContain("globex-secret-agent");
    await shot(page, "06-trace-not-found");
    // An admin-only `tenant` parameter is ignored for a tenant key.
    await page.goto(`${consoleUrl}/traces?tenant=globex`);
    expect(await page.getByTestId("traces-table").textContent()).not.toContain(traces.b);

    await page.goto(`${consoleUrl}/agents`);
    await page.getByTestId("agents-table").waitFor();
    const agents = (await page.getByTestId("agents-table").textContent())!;
    expect(agents).toContain("planner");
    expect(agents).toContain("researcher");
    expect(agents).not.toContain("globex");
    expect(await page.getByTestId("agents-llm-calls").textContent()).toMatch(/^LLM calls \(exact\)4/);
    await shot(page, "07-agents");

    // A tenant key on an operator page: a clear 403.
    const forbidden = await page.goto(`${consoleUrl}/operator`);
    expect(forbidden!.status()).toBe(403);
    await page.getByTestId("forbidden").waitFor();
    await shot(page, "08-forbidden");
    await ctx.close();
  });

  it("usage totals and the CSV download match the API's numbers", async () => {
    const { ctx, page } = await newPage();
    await signIn(page, keys.aConsole);
    await page.waitForURL(`${consoleUrl}/`);
    await page.goto(`${consoleUrl}/usage?groupBy=model`);
    await page.getByTestId("usage-table").waitFor();
    await shot(page, "09-usage");

    const from = page.url() && (await page.getByLabel("From", { exact: true }).inputValue());
    const to = await page.getByLabel("To", { exact: true }).inputValue();
    const toExclusive = new Date(Date.parse(`${to}T00:00:00Z`) + 86_400_000).toISOString();
    const fromIso = new Date(`${from}T00:00:00Z`).toISOString();
    const apiJson = await api<{ totals: { calls: number; inputTokens: number; outputTokens: number; costUsd: number } }>(keys.aConsole, `/api/v1/usage?from=${fromIso}&to=${toExclusive}&groupBy=model`);
    expect(apiJson.body.totals).toMatchObject({ calls: 4, inputTokens: 2500, outputTokens: 540, errors: 1, budgetRejections: 1 });
    expect(await page.getByTestId("total-calls").textContent()).toMatch(/^LLM calls \(every attempt\)43 reached the model$/);
    expect(await page.getByTestId("total-budget-rejections").textContent()).toMatch(/^Budget rejections1/);
    expect(await page.getByTestId("total-errors").textContent()).toMatch(/^Errors1/);
    expect(await page.getByTestId("total-input").textContent()).toContain("2,500");
    expect(await page.getByTestId("total-output").textContent()).toContain("540");

    const [download] = await Promise.all([page.waitForEvent("download"), page.getByTestId("download-csv").click()]);
    expect(download.suggestedFilename()).toMatch(/^troupe-usage-acme-.*-by-model\.csv$/);
    const csv = readFileSync((await download.path())!, "utf8");
    const apiCsv = await api<string>(keys.aConsole, `/api/v1/usage?from=${fromIso}&to=${toExclusive}&groupBy=model&format=csv`);
    expect(csv).toBe(apiCsv.body);
    const [header, ...lines] = csv.trim().split("\n");
    const cols = header!.split(",");
    const sum = (name: string) => lines.reduce((n, l) => n + Number(l.split(",")[cols.indexOf(name)]), 0);
    expect(sum("calls")).toBe(apiJson.body.totals.calls);
    expect(sum("inputTokens")).toBe(apiJson.body.totals.inputTokens);
    expect(sum("outputTokens")).toBe(apiJson.body.totals.outputTokens);
    expect(sum("costUsd")).toBeCloseTo(apiJson.body.totals.costUsd, 6);

    const [jsonDownload] = await Promise.all([page.waitForEvent("download"), page.getByTestId("download-json").click()]);
    const json = JSON.parse(readFileSync((await jsonDownload.path())!, "utf8")) as { tenantId: string; totals: unknown };
    expect(json.tenantId).toBe("acme");
    expect(json.totals).toEqual(apiJson.body.totals);

    // Signing out ends the session.
    await page.goto(`${consoleUrl}/`);
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.waitForURL(/\/sign-in/);
    await page.goto(`${consoleUrl}/usage`);
    expect(new URL(page.url()).pathname).toBe("/sign-in");
    await ctx.close();
  });

  it("fits a phone screen: navigation above the page, nothing wider than the screen", async () => {
    const ctx = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    const page = await ctx.newPage();
    await signIn(page, keys.aConsole);
    await page.waitForURL(`${consoleUrl}/`);
    for (const path of ["/", "/traces", `/traces/${traces.a}`, "/agents", "/usage"]) {
      await page.goto(`${consoleUrl}${path}`);
      await page.locator("main h1").waitFor();
      const fit = await page.evaluate(() => ({ page: document.documentElement.scrollWidth, screen: window.innerWidth }));
      expect(fit.page, `${path} is ${fit.page} px wide on a ${fit.screen} px screen`).toBeLessThanOrEqual(fit.screen);
      const nav = (await page.getByRole("navigation", { name: "Main" }).boundingBox())!;
      const heading = (await page.locator("main h1").boundingBox())!;
      expect(nav.y + nav.height, `${path}: the navigation sits above the page`).toBeLessThanOrEqual(heading.y);
    }
    await shot(page, "14-phone-trace-detail");
    await ctx.close();
  });

  it("an admin sees both tenants, creates a tenant and rotates a key (secret shown once); forms without a CSRF token are refused", async () => {
    const { ctx, page } = await newPage();
    await signIn(page, ADMIN_KEY);
    await page.waitForURL(`${consoleUrl}/operator`);
    const table = page.getByTestId("tenants-table");
    await table.waitFor();
    expect(await table.textContent()).toContain("acme");
    expect(await table.textContent()).toContain("globex");
    await shot(page, "10-operator-tenants");
    // Every column is in view on a 1280 px laptop screen, without scrolling the table sideways.
    await page.setViewportSize({ width: 1280, height: 960 });
    const fit = await page.locator(".table-wrap").first().evaluate((el) => ({ visible: el.clientWidth, needed: el.scrollWidth }));
    expect(fit.needed).toBeLessThanOrEqual(fit.visible);
    expect(await table.locator("th").last().textContent()).toContain("Budget");
    // The display name sits under the id in the Tenant column.
    expect(await table.locator("tbody tr", { hasText: "Acme Corp" }).locator("td").first().textContent()).toBe("acmeAcme Corp");
    await page.setViewportSize({ width: 1440, height: 960 });

    // The admin can read either tenant's traces.
    await page.goto(`${consoleUrl}/traces?tenant=globex`);
    expect(await page.getByTestId("traces-table").textContent()).toContain(traces.b);
    await page.goto(`${consoleUrl}/traces/${traces.b}?tenant=globex`);
    await page.getByTestId("waterfall").waitFor();
    await page.goto(`${consoleUrl}/?tenant=acme`);
    await page.waitForSelector(".recharts-surface");
    await shot(page, "11-overview-admin");

    // CSRF: the same form with its token removed is refused and creates nothing.
    await page.goto(`${consoleUrl}/operator`);
    const form = page.getByTestId("create-tenant-form");
    await form.getByLabel("Tenant id").fill("csrf-victim");
    await form.locator('input[name="csrf"]').evaluate((el) => ((el as HTMLInputElement).value = "forged"));
    await form.getByRole("button", { name: "Create tenant" }).click();
    await expect.poll(() => form.getByTestId("form-status").textContent()).toContain("did not come from this console");
    expect((await api(ADMIN_KEY, "/api/v1/admin/tenants/csrf-victim")).status).toBe(404);

    // Create a tenant: its keys are shown once and work.
    await page.goto(`${consoleUrl}/operator`);
    await form.getByLabel("Tenant id").fill("initech");
    await form.getByLabel("Display name").fill("Initech");
    await form.getByRole("button", { name: "Create tenant" }).click();
    await form.getByTestId("secrets-once").waitFor();
    const initechConsole = (await form.getByTestId("secret-console").textContent())!.trim();
    expect(initechConsole).toMatch(/^trp_/);
    expect((await api(initechConsole, "/api/v1/traces")).status).toBe(200);
    await shot(page, "12-tenant-created");

    // Rotate its console key on the tenant page: new secret once, old one revoked.
    await page.goto(`${consoleUrl}/operator/tenants/initech`);
    await page.getByTestId("keys-table").waitFor();
    const rotate = page.getByTestId("rotate-console");
    await rotate.getByRole("button", { name: "Rotate console key" }).click();
    await rotate.getByTestId("secrets-once").waitFor();
    const rotated = (await rotate.getByTestId("secret-console").textContent())!.trim();
    expect(rotated).not.toBe(initechConsole);
    expect((await api(rotated, "/api/v1/traces")).status).toBe(200);
    expect((await api(initechConsole, "/api/v1/traces")).status).toBe(401);
    await shot(page, "13-key-rotated");
    await page.reload();
    await page.getByTestId("keys-table").waitFor();
    expect(await page.textContent("body")).not.toContain(rotated);
    // The keys table fits its half-width card on a 1280 px screen: the revoked key shows its state and when.
    await page.setViewportSize({ width: 1280, height: 960 });
    const keysFit = await page.getByTestId("keys-table").evaluate((el) => ({ visible: el.parentElement!.clientWidth, needed: el.parentElement!.scrollWidth }));
    expect(keysFit.needed).toBeLessThanOrEqual(keysFit.visible);
    expect(await page.getByTestId("keys-table").locator("tbody tr", { hasText: "revoked" }).locator("td").last().textContent()).toMatch(/^revoked\d{4}-\d\d-\d\d/);
    await page.setViewportSize({ width: 1440, height: 960 });

    // Settings: retention and a budget.
    await page.getByLabel("Retention (days)").fill("14");
    await page.getByLabel("Daily token budget").fill("5000");
    await page.getByRole("button", { name: "Save settings" }).click();
    await expect.poll(() => page.getByText("Settings saved.").count()).toBe(1);
    const detail = await api<{ tenant: { retentionDays: number; budgets: { dailyTokens: number | null } } }>(ADMIN_KEY, "/api/v1/admin/tenants/initech");
    expect(detail.body.tenant.retentionDays).toBe(14);
    expect(detail.body.tenant.budgets.dailyTokens).toBe(5000);
    await shot(page, "14-tenant-settings");
    await ctx.close();
  });
});
