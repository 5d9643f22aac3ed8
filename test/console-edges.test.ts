// The console's edges in a real browser: a slow collector told from a down one (with a retry), the
// admin shell streaming before the tenant list answers, sign-in returning to the page asked
// for (and never to another site), the 404 page under the content-security policy, refused forms
// answered 403 with the reason, the header's tenant picker following the page, one cost and date
// format, and every page at 1280 and 1440 px (screenshots in test-results/screenshots/, no
// horizontal overflow, no console or CSP errors). Also: a signed-out cookie stays refused after the
// console restarts. `next start` on the built console, against a stand-in on loopback that forwards
// to a real collector (chDB) and can hold answers back or refuse connections.
import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import { mkdirSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { createClickHouseSpanStore, loadCollectorConfig, plainSpanFields, startCollector, type RunningCollector, type SpanRow } from "@troupe/collector";
import { launchChromium } from "./support/console-in-browser.js";
import { startConsoleProcess, type ConsoleProcess } from "./support/console-process.js";
import { startHoldingProxy, type HoldingProxy } from "./support/holding-proxy.js";
import { seedUsageRecords, type SeedUsage } from "./support/usage-records.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const shots = join(root, "test-results", "screenshots");
const ADMIN_KEY = `trp_admin_${randomBytes(18).toString("base64url")}`;
const CONSOLE_SECRET = randomBytes(32).toString("hex");
/** The console's collector timeout here: short enough for a test to wait it out, long enough for a busy CI machine. */
const COLLECTOR_TIMEOUT_MS = 8_000;
const hex = (bytes: number) => randomBytes(bytes).toString("hex");
const NOW_MS = Date.now();
const START_MS = NOW_MS - 5 * 60_000;

let dir: string;
let collector: RunningCollector;
let standIn: HoldingProxy;
let consoleProc: ConsoleProcess | undefined;
let base = "";
let browser: Browser;
const keys = { acme: "", globex: "" };
const traces = { acme: "", globex: "" };

function span(tenantId: string, traceId: string, spanId: string, name: string, fields: Partial<SpanRow> = {}): SpanRow {
  return {
    tenantId, traceId, spanId, parentSpanId: "", name, kind: 5, startTimeUnixNano: `${START_MS}000000`, durationNs: 40_000_000, statusCode: 1,
    serviceName: `${tenantId}-app`, resourceAttributes: { "service.name": `${tenantId}-app` }, ...plainSpanFields(), attributes: { "troupe.tenant.id": tenantId }, ...fields,
  };
}

/** A turn and its LLM call, as one trace. */
function turn(tenantId: string, agent: string, model: string, offsetMs: number, tokensIn: number, tokensOut: number, costUsd: number): SpanRow[] {
  const traceId = hex(16);
  const root = hex(8);
  const start = START_MS + offsetMs;
  return [
    span(tenantId, traceId, root, `process ${agent}`, { startTimeUnixNano: `${start}000000`, attributes: { "troupe.tenant.id": tenantId, "troupe.agent.type": agent, "troupe.turn.outcome": "ok" } }),
    span(tenantId, traceId, hex(8), `chat ${model}`, {
      parentSpanId: root, kind: 3, startTimeUnixNano: `${start + 2}000000`, durationNs: 30_000_000,
      attributes: {
        "troupe.tenant.id": tenantId, "troupe.agent.type": agent, "gen_ai.operation.name": "chat", "gen_ai.request.model": model,
        "gen_ai.usage.input_tokens": String(tokensIn), "gen_ai.usage.output_tokens": String(tokensOut), "troupe.llm.cost_usd": String(costUsd),
      },
      attributeTypes: { "gen_ai.usage.input_tokens": "int", "gen_ai.usage.output_tokens": "int", "troupe.llm.cost_usd": "double" },
    }),
  ];
}

async function admin<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${collector.url}${path}`, { method, headers: { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
  if (!res.ok) throw new Error(`${method} ${path} answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as T;
}

function startConsole(port?: number): Promise<ConsoleProcess> {
  return startConsoleProcess(standIn.url, { TROUPE_CONSOLE_SECRET: CONSOLE_SECRET, TROUPE_COLLECTOR_TIMEOUT_MS: String(COLLECTOR_TIMEOUT_MS) }, port);
}

beforeAll(async () => {
  mkdirSync(shots, { recursive: true });
  dir = await mkdtemp(join(tmpdir(), "troupe-console-edges-"));
  collector = await startCollector({ ...loadCollectorConfig({ TROUPE_DATA_DIR: dir, TROUPE_ADMIN_KEY: ADMIN_KEY }), port: 0, host: "127.0.0.1" }, { writer: { maxBatchDelayMs: 20 } });

  // Three tenants as an operator makes them; globex is busy and over its daily token budget.
  type Created = { keys: Array<{ kind: string; secret: string }> };
  const acme = await admin<Created>("POST", "/api/v1/admin/tenants", { id: "acme", name: "Acme Corp", tier: "worker", budgets: { dailyCostUsd: 25 } });
  const globex = await admin<Created>("POST", "/api/v1/admin/tenants", { id: "globex", name: "Globex Corporation", tier: "process", retentionDays: 365, budgets: { dailyTokens: 40_000, monthlyCostUsd: 5_000 } });
  await admin("POST", "/api/v1/admin/tenants", { id: "initech", name: "Initech" });
  keys.acme = acme.keys.find((k) => k.kind === "console")!.secret;
  keys.globex = globex.keys.find((k) => k.kind === "console")!.secret;
  // A rotated key, so the keys table shows a revoked one with its date.
  await collector.registry.issueKey("globex", "console", { rotate: true });

  const store = createClickHouseSpanStore(collector.gateway);
  const acmeSpans = [...turn("acme", "planner", "gpt-4o-mini", 0, 1200, 300, 0.0021), ...turn("acme", "researcher", "gpt-4o", 60_000, 800, 150, 0.0065), ...turn("acme", "researcher", "gpt-4o", 120_000, 500, 90, 0.004)];
  traces.acme = acmeSpans[0]!.traceId;
  // globex: figures as wide as a busy tenant's (tens of thousands of error spans, thousands of calls, a four-digit cost).
  const globexSpans = turn("globex", "globex-support-agent", "gpt-4o", 30_000, 999, 111, 0.5);
  traces.globex = globexSpans[0]!.traceId;
  const batch = hex(16);
  for (let i = 0; i < 23_456; i++) {
    globexSpans.push(span("globex", batch, hex(8), "execute_tool fetch_invoice", { statusCode: 2, startTimeUnixNano: `${START_MS + 200_000 + (i % 1000)}000000`, attributes: { "troupe.tenant.id": "globex", "troupe.agent.type": "globex-batch-agent" } }));
  }
  await store.insertSpans([...acmeSpans, ...globexSpans], "console-edges-seed");

  const usage: SeedUsage[] = [
    { tenant: "acme", timeMs: START_MS, agentType: "planner", model: "gpt-4o-mini", inputTokens: 1200, outputTokens: 300, costUsd: 0.0021 },
    { tenant: "acme", timeMs: START_MS + 60_000, agentType: "researcher", model: "gpt-4o", inputTokens: 800, outputTokens: 150, costUsd: 0.0065 },
    { tenant: "acme", timeMs: START_MS + 120_000, agentType: "researcher", model: "gpt-4o", inputTokens: 500, outputTokens: 90, costUsd: 0.004 },
  ];
  for (let i = 0; i < 3_456; i++) {
    usage.push(i % 3 === 0
      ? { tenant: "globex", timeMs: START_MS + i * 10, agentType: "globex-support-agent", model: "gpt-4o", outcome: "budget_rejected" }
      : { tenant: "globex", timeMs: START_MS + i * 10, agentType: "globex-support-agent", model: "gpt-4o", inputTokens: 41_000, outputTokens: 2_300, costUsd: 1.2345 });
  }
  await seedUsageRecords(collector.gateway, usage);

  standIn = await startHoldingProxy(collector.url);
  consoleProc = await startConsole();
  base = consoleProc.url;
  browser = await launchChromium();
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await consoleProc?.stop();
  await standIn?.close();
  await collector?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
}, 60_000);

// ---------------------------------------------------------------------------------------------

/**
 * Console errors, uncaught page errors and CSP violations a page reports while a test drives it,
 * each with the URL it concerns. The one error a 404 or 403 page always logs (the browser reporting
 * the document's own status) is left out: that status is what the page is for.
 */
function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  const documents = new Set<string>();
  page.on("response", (r) => {
    if (r.request().resourceType() === "document" && r.status() >= 400) documents.add(r.url());
  });
  page.on("console", (m) => {
    if (m.type() !== "error") return;
    const url = m.location().url;
    if (m.text().startsWith("Failed to load resource") && documents.has(url)) return;
    errors.push(`console: ${m.text()} (${url})`);
  });
  page.on("pageerror", (e) => errors.push(`page: ${e.message}`));
  return errors;
}

async function newPage(width = 1440, options: { javaScriptEnabled?: boolean } = {}): Promise<{ ctx: BrowserContext; page: Page; errors: string[] }> {
  const ctx = await browser.newContext({ viewport: { width, height: 900 }, ...options });
  const page = await ctx.newPage();
  return { ctx, page, errors: watchErrors(page) };
}

/** Signs in through the form, from whatever page the browser is on (or /sign-in). */
async function signIn(page: Page, key: string, from = `${base}/sign-in`): Promise<void> {
  if (from) await page.goto(from);
  await page.getByLabel("Console key or admin key").fill(key);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL((u) => u.pathname !== "/sign-in");
}

async function cookieHeader(ctx: BrowserContext): Promise<string> {
  return (await ctx.cookies()).map((c) => `${c.name}=${c.value}`).join("; ");
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
}

/** The named inputs of the first <form> of `html` that contains `marker`, as a browser without JavaScript would post them. */
function formFields(html: string, marker: string): Map<string, string> {
  const form = (html.match(/<form[\s\S]*?<\/form>/g) ?? []).find((f) => f.includes(marker));
  if (!form) throw new Error(`no form containing ${marker}`);
  const fields = new Map<string, string>();
  const decode = (s: string) => s.replace(/&quot;/g, '"').replace(/&#x27;/g, "'").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
  for (const input of form.match(/<input[^>]*>/g) ?? []) {
    const name = /name="([^"]*)"/.exec(input)?.[1];
    if (name !== undefined) fields.set(decode(name), decode(/value="([^"]*)"/.exec(input)?.[1] ?? ""));
  }
  for (const select of form.match(/<select[\s\S]*?<\/select>/g) ?? []) {
    const name = /name="([^"]*)"/.exec(select)?.[1];
    const value = /<option[^>]*value="([^"]*)"/.exec(select)?.[1];
    if (name !== undefined && value !== undefined) fields.set(decode(name), decode(value));
  }
  return fields;
}

/** Posts `fields` as a multipart form, as a browser without JavaScript does. */
function postForm(path: string, cookie: string, fields: Map<string, string>, origin = base): Promise<Response> {
  const form = new FormData();
  for (const [k, v] of fields) form.append(k, v);
  return fetch(`${base}${path}`, { method: "POST", body: form, redirect: "manual", headers: { cookie, origin, accept: "text/html" } });
}

// ---------------------------------------------------------------------------------------------

describe("sessions revoked for good", () => {
  it("a copy of a signed-out cookie is refused after the console process restarts, on a page and on the usage export", async () => {
    const { ctx, page } = await newPage();
    await signIn(page, keys.acme);
    const copy = await cookieHeader(ctx);
    // Another browser stays signed in: the control that the restarted console still opens sessions.
    const other = await newPage();
    await signIn(other.page, keys.acme);
    const live = await cookieHeader(other.ctx);

    await page.getByRole("button", { name: "Sign out" }).click();
    await page.waitForURL(/\/sign-in/);

    await consoleProc!.stop();
    consoleProc = await startConsole(consoleProc!.port);

    const replayPage = await fetch(`${base}/traces`, { headers: { cookie: copy }, redirect: "manual" });
    expect([302, 303, 307, 308]).toContain(replayPage.status);
    expect(replayPage.headers.get("location")).toMatch(/^\/sign-in/);
    const replayExport = await fetch(`${base}/api/export/usage?format=json`, { headers: { cookie: copy } });
    expect(replayExport.status).toBe(401);
    const control = await fetch(`${base}/traces`, { headers: { cookie: live }, redirect: "manual" });
    expect(control.status).toBe(200);
    expect((await fetch(`${base}/api/export/usage?format=json`, { headers: { cookie: live } })).status).toBe(200);
    await other.ctx.close();
    await ctx.close();
  }, 120_000);
});

describe("a slow collector is not a collector that is down", () => {
  it("a timeout reads as slow with a working Try again; a closed port reads as not reachable", async () => {
    const { ctx, page, errors } = await newPage();
    await signIn(page, keys.acme);

    const hold = standIn.hold("/api/v1/overview");
    onTestFinished(() => hold.release()); // a failure must not leave the overview held for later tests
    await page.goto(`${base}/`);
    const state = page.getByTestId("error-state").first();
    await state.waitFor({ timeout: COLLECTOR_TIMEOUT_MS + 30_000 });
    const slow = (await state.textContent())!;
    expect(slow).toContain("slow to answer");
    expect(slow).not.toContain("not reachable");
    expect(hold.seen).toBeGreaterThan(0);
    await shot(page, "edges-collector-slow");
    // Try again, once the collector keeps up: the figures come back without leaving the page.
    hold.release();
    await state.getByRole("button", { name: "Try again" }).click();
    await page.getByTestId("stat-llm-calls").waitFor();
    expect(await page.getByTestId("error-state").count()).toBe(0);

    await standIn.refuseConnections();
    try {
      const started = Date.now();
      await page.goto(`${base}/agents`);
      const down = (await page.getByTestId("error-state").first().textContent())!;
      expect(down).toContain("not reachable");
      expect(down).not.toContain("slow");
      // Refused at once: no waiting out the timeout for a port that is closed.
      expect(Date.now() - started).toBeLessThan(COLLECTOR_TIMEOUT_MS);
      await shot(page, "edges-collector-down");
    } finally {
      await standIn.acceptConnections();
    }
    await page.getByRole("button", { name: "Try again" }).click();
    await page.getByTestId("agents-table").waitFor();
    expect(errors).toEqual([]);
    await ctx.close();
  }, 120_000);
});

describe("the admin shell streams", () => {
  it("sends the shell before the tenant list answers, and finishes the page once it has", async () => {
    const { ctx, page } = await newPage();
    await signIn(page, ADMIN_KEY);
    const cookie = await cookieHeader(ctx);

    for (const path of ["/operator/tenants/acme", "/?tenant=acme"]) {
      const hold = standIn.hold("/api/v1/admin/tenant-list");
      // Released whatever happens: a list left held would hang every admin page of the tests after this one.
      onTestFinished(() => hold.release());
      const started = performance.now();
      const res = await fetch(`${base}${path}`, { headers: { cookie } });
      expect(res.status).toBe(200);
      const reader = res.body!.getReader();
      const decoder = new TextDecoder();
      let html = "";
      // Read until the shell (the header naming who is signed in) has come; give up after 20 s.
      const deadline = started + 20_000;
      let shellMs: number | undefined;
      while (shellMs === undefined && performance.now() < deadline) {
        const next = await Promise.race([reader.read(), new Promise<"wait">((r) => setTimeout(() => r("wait"), 250))]);
        if (next === "wait") continue;
        if (next.done) break;
        html += decoder.decode(next.value, { stream: true });
        if (html.includes('data-testid="signed-in-as"')) shellMs = performance.now() - started;
      }
      // The shell arrived while the tenant list was still unanswered.
      expect(shellMs, `${path}: the shell came only once the tenants list was released`).toBeDefined();
      // ...and before the console could have given up on it (a layout that waits sends the shell only then, without the picker).
      expect(shellMs!, `${path}: the shell waited for the console's collector timeout`).toBeLessThan(COLLECTOR_TIMEOUT_MS);
      // The page asks for the list (the request may reach the stand-in just after the shell has come:
      // either way it is unanswered while held).
      await Promise.race([hold.whenWaiting(), new Promise((r) => setTimeout(r, 10_000))]);
      expect(hold.waiting, `${path}: the page never asked for the tenant list`).toBeGreaterThan(0);
      expect(html).not.toContain('data-testid="tenant-picker"');
      const heldMs = 1_500;
      await new Promise((r) => setTimeout(r, heldMs));
      hold.release();
      for (;;) {
        const next = await reader.read();
        if (next.done) break;
        html += decoder.decode(next.value, { stream: true });
      }
      const totalMs = performance.now() - started;
      // The rest came once the query answered: the picker, set to the page's tenant.
      expect(html).toContain('data-testid="tenant-picker"');
      expect(totalMs).toBeGreaterThan(shellMs! + heldMs);
      console.log(`${path}: shell after ${Math.round(shellMs!)} ms, page complete after ${Math.round(totalMs)} ms (the tenants list was held ${heldMs} ms past the shell)`);
    }
    await ctx.close();
  }, 120_000);
});

describe("sign-in returns to the page asked for", () => {
  it("lands on the deep link after sign-in, and never on another site", async () => {
    const { ctx, page, errors } = await newPage();
    await page.goto(`${base}/traces?status=error&range=6h`);
    expect(new URL(page.url()).pathname).toBe("/sign-in");
    await signIn(page, keys.acme, "");
    await page.waitForURL(`${base}/traces?status=error&range=6h`);
    await ctx.close();

    const admin = await newPage();
    await admin.page.goto(`${base}/operator/tenants/globex`);
    await signIn(admin.page, ADMIN_KEY, "");
    await admin.page.waitForURL(`${base}/operator/tenants/globex`);
    await admin.ctx.close();

    for (const evil of ["https://evil.example/phish", "//evil.example/phish", "/\\evil.example/phish", "javascript:alert(1)"]) {
      const tricked = await newPage();
      await tricked.page.goto(`${base}/sign-in?next=${encodeURIComponent(evil)}`);
      await signIn(tricked.page, keys.acme, "");
      const landed = new URL(tricked.page.url());
      expect(landed.origin, evil).toBe(base);
      expect(landed.pathname, evil).toBe("/");
      await tricked.ctx.close();
    }
    expect(errors).toEqual([]);
  }, 120_000);
});

describe("error pages", () => {
  it("the 404 page renders and works under the content-security policy", async () => {
    const { ctx, page, errors } = await newPage();
    const res = await page.goto(`${base}/no-such-page`);
    expect(res!.status()).toBe(404);
    expect(res!.headers()["content-security-policy"]).toContain("'nonce-");
    await page.getByTestId("not-found").waitFor();
    await page.waitForLoadState("load");
    await page.waitForTimeout(500);
    expect(errors).toEqual([]);
    await shot(page, "edges-404");
    await page.getByRole("link", { name: /overview/i }).click();
    await page.waitForURL(/\/sign-in/);
    expect(errors).toEqual([]);
    await ctx.close();
  });

  it("a form posted without its CSRF token gets a 403 page saying why, never a 500; the session stays", async () => {
    const { ctx, page } = await newPage();
    await signIn(page, ADMIN_KEY);
    const cookie = await cookieHeader(ctx);
    const html = await (await fetch(`${base}/operator`, { headers: { cookie } })).text();

    // The create-tenant form and the sign-out form, posted as a browser without JavaScript posts them, token removed.
    const create = formFields(html, 'data-testid="create-tenant-form"');
    create.delete("csrf");
    create.set("id", "no-token-co");
    const signOut = formFields(html, "Sign out");
    signOut.set("csrf", "forged");
    for (const [name, fields] of [["create tenant", create], ["sign out", signOut]] as const) {
      const res = await postForm("/operator", cookie, fields);
      const body = await res.text();
      expect(res.status, name).toBe(403);
      expect(body, name).toContain("Form refused");
      expect(body, name).toContain("expired or did not come from this console");
      expect(body, name).not.toMatch(/digest/i);
    }
    expect(await collector.registry.getTenant("no-token-co")).toBeNull();
    expect((await fetch(`${base}/operator`, { headers: { cookie }, redirect: "manual" })).status).toBe(200);

    // In the browser, with its script: a forged sign-out says why beside the button, and keeps the session.
    const statuses: number[] = [];
    page.on("response", (r) => {
      if (r.request().method() === "POST") statuses.push(r.status());
    });
    await page.goto(`${base}/operator`);
    await page.locator("form.sign-out input[name=csrf]").evaluate((el) => ((el as HTMLInputElement).value = "forged"));
    await page.getByRole("button", { name: "Sign out" }).click();
    await expect.poll(() => page.locator("form.sign-out [role=alert]").textContent()).toContain("expired or did not come from this console");
    expect(new URL(page.url()).pathname).toBe("/operator");
    expect(statuses.length).toBeGreaterThan(0);
    expect(statuses.every((s) => s < 500)).toBe(true);
    await shot(page, "edges-sign-out-refused");
    await ctx.close();
  }, 120_000);

  it("a form posted from another site gets a 403 page saying so, and changes nothing", async () => {
    const { ctx, page } = await newPage();
    await signIn(page, ADMIN_KEY);
    const cookie = await cookieHeader(ctx);
    const html = await (await fetch(`${base}/operator`, { headers: { cookie } })).text();
    const fields = formFields(html, 'data-testid="create-tenant-form"');
    fields.set("id", "cross-site-co");
    // A page on another origin that submits the console's own form (its real token included) as soon as it loads.
    const inputs = [...fields].map(([k, v]) => `<input type="hidden" name="${k.replace(/"/g, "&quot;")}" value="${v.replace(/&/g, "&amp;").replace(/"/g, "&quot;")}">`).join("");
    const evil: Server = createServer((_req, res) => {
      res.writeHead(200, { "content-type": "text/html" });
      res.end(`<!doctype html><form id="f" method="post" enctype="multipart/form-data" action="${base}/operator">${inputs}</form><script>document.getElementById("f").submit()</script>`);
    });
    await new Promise<void>((r) => evil.listen(0, "127.0.0.1", r));
    try {
      const statuses: number[] = [];
      page.on("response", (r) => {
        if (r.request().method() === "POST") statuses.push(r.status());
      });
      await page.goto(`http://localhost:${(evil.address() as AddressInfo).port}/`);
      await page.getByTestId("refused").waitFor();
      expect(statuses).toEqual([403]);
      expect(await page.textContent("body")).toContain("sent from another site");
      await shot(page, "edges-cross-site-refused");
    } finally {
      await new Promise<void>((r) => evil.close(() => r()));
    }
    expect(await collector.registry.getTenant("cross-site-co")).toBeNull();
    // Posted directly with a foreign Origin header: the same refusal, saying why.
    const res = await postForm("/operator", cookie, fields, "https://evil.example");
    expect(res.status).toBe(403);
    expect(await res.text()).toContain("sent from another site");
    await ctx.close();
  }, 120_000);
});

describe("the header's tenant picker follows the page", () => {
  it("names the tenant of the page in view and switches to the same kind of page", async () => {
    const { ctx, page, errors } = await newPage();
    await signIn(page, ADMIN_KEY);
    const picker = page.getByTestId("tenant-picker");
    await page.goto(`${base}/operator/tenants/globex`);
    await expect.poll(() => picker.inputValue()).toBe("globex");
    // The sidebar keeps that tenant too.
    expect(await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Overview" }).getAttribute("href")).toBe("/?tenant=globex");
    await picker.selectOption("initech");
    await page.waitForURL(`${base}/operator/tenants/initech`);
    await expect.poll(() => picker.inputValue()).toBe("initech");
    await page.goto(`${base}/traces?tenant=globex`);
    await expect.poll(() => picker.inputValue()).toBe("globex");
    await page.goto(`${base}/operator`);
    await expect.poll(() => picker.locator("option:checked").textContent()).toBe("All tenants");
    expect(errors).toEqual([]);
    await ctx.close();
  }, 120_000);
});

describe("one way of writing costs, dates and counts", () => {
  it("writes every cost one way, dates as ISO, counts with the right plural, and has a favicon", async () => {
    const { ctx, page } = await newPage();
    await signIn(page, ADMIN_KEY);
    const COST = /^(\$(0\.\d{2,4}|[1-9]\d{0,2}(,\d{3})*\.\d{2})|<\$0\.0001)$/;
    for (const path of ["/operator", "/operator/tenants/globex", "/?tenant=acme", "/agents?tenant=globex", "/usage?tenant=acme&groupBy=model", `/traces/${traces.acme}?tenant=acme`]) {
      await page.goto(`${base}${path}`);
      await page.locator("main h1").waitFor();
      // Text outside the charts (whose value axes are their own concern), one line per text node.
      const text = await page.locator("main").evaluate((el) => {
        const lines: string[] = [];
        const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
        for (let n = walker.nextNode(); n; n = walker.nextNode()) {
          if (!n.parentElement?.closest("svg, .recharts-wrapper")) lines.push(n.textContent ?? "");
        }
        return lines.join("\n");
      });
      const costs = text.match(/<?\$[\d,.]+/g) ?? [];
      expect(costs.length, `${path} shows costs`).toBeGreaterThan(0);
      for (const cost of costs) expect(cost, `${path}: ${cost}`).toMatch(COST);
      expect(text, path).not.toMatch(/(?<![\d,.])1 (rows|errors|traces|spans|keys|calls|runtimes|alerts)\b/);
      expect(text, path).not.toMatch(/\b(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{1,2}\b/);
      expect(text, path).not.toMatch(/\b\d{1,2}\/\d{1,2}\/\d{4}\b/);
    }
    // The usage report's day fields read and write yyyy-mm-dd whatever the browser's locale.
    await page.goto(`${base}/usage?tenant=acme&groupBy=model&from=2020-01-01`);
    const from = page.getByLabel("From", { exact: true });
    expect(await from.getAttribute("type")).toBe("text");
    expect(await from.inputValue()).toBe("2020-01-01");
    await from.fill("2020-01-02");
    await page.getByRole("button", { name: "Show report" }).click();
    await page.waitForURL(/from=2020-01-02/);
    // One model in acme's report: "1 row"... (two models: "2 rows").
    await page.goto(`${base}/usage?tenant=acme&groupBy=agent`);
    await page.getByTestId("usage-table").waitFor();
    expect(await page.locator("main").textContent()).toContain("2 rows");
    await page.goto(`${base}/usage?tenant=globex&groupBy=agent`);
    await page.getByTestId("usage-table").waitFor();
    expect(await page.locator("main").textContent()).toContain("1 row ·");

    // A favicon, served under the CSP.
    await page.goto(`${base}/operator`);
    const icon = await page.locator('link[rel="icon"]').first().getAttribute("href");
    expect(icon).toBeTruthy();
    const served = await fetch(new URL(icon!, base));
    expect(served.status).toBe(200);
    expect(served.headers.get("content-type")).toContain("image/svg+xml");
    await ctx.close();
  }, 120_000);
});

describe("every page at 1280 and 1440 px", () => {
  const tenantPages = [
    ["overview", "/"],
    ["traces", "/traces"],
    ["trace", () => `/traces/${traces.acme}`],
    ["agents", "/agents"],
    ["usage", "/usage"],
    ["help", "/help/control-plane"],
    ["operator-forbidden", "/operator"],
    ["404", "/no-such-page"],
  ] as const;
  const operatorPages = [
    ["overview", "/?tenant=globex"],
    ["traces", "/traces?tenant=globex"],
    ["trace", () => `/traces/${traces.globex}?tenant=globex`],
    ["agents", "/agents?tenant=globex"],
    ["usage", "/usage?tenant=globex"],
    ["operator-list", "/operator"],
    ["operator-tenant-settings", "/operator/tenants/globex"],
    ["help", "/help/control-plane"],
  ] as const;

  for (const width of [1280, 1440]) {
    it(`${width} px: screenshots, no page wider than the window, no console or CSP errors, operator tables in full`, async () => {
      const signedOut = await newPage(width);
      await signedOut.page.goto(`${base}/sign-in`);
      await expectFits(signedOut.page, `sign-in@${width}`);
      await shot(signedOut.page, `pages-${width}-sign-in`);
      expect(signedOut.errors, "sign-in").toEqual([]);
      await signedOut.ctx.close();

      for (const [who, key, pages] of [["tenant", keys.acme, tenantPages], ["operator", ADMIN_KEY, operatorPages]] as const) {
        const { ctx, page, errors } = await newPage(width);
        await signIn(page, key);
        for (const [name, target] of pages) {
          const path = typeof target === "function" ? target() : target;
          await page.goto(`${base}${path}`);
          await page.locator("main h1").first().waitFor();
          await settled(page);
          await expectFits(page, `${who} ${name}@${width}`);
          await shot(page, `pages-${width}-${who}-${name}`);
          if (name === "operator-list" || name === "operator-tenant-settings") {
            // The tenants table and the keys table show every column without scrolling inside their card.
            for (const id of name === "operator-list" ? ["tenants-table"] : ["keys-table"]) {
              const fit = await page.getByTestId(id).evaluate((el) => ({ visible: el.parentElement!.clientWidth, needed: el.parentElement!.scrollWidth }));
              expect(fit.needed, `${id} at ${width} px`).toBeLessThanOrEqual(fit.visible);
            }
          }
          expect(errors, `${who} ${name}@${width}`).toEqual([]);
        }
        await ctx.close();
      }
    }, 240_000);
  }
});

/** Waits until no part of the page is still loading (no skeleton left) and its charts have drawn. */
async function settled(page: Page): Promise<void> {
  await page.waitForFunction(() => document.querySelector('[aria-busy="true"]') === null, undefined, { timeout: 30_000 });
  await page.waitForTimeout(300);
}

/** Nothing on the page is wider than the window (the body does not scroll sideways). */
async function expectFits(page: Page, what: string): Promise<void> {
  const fit = await page.evaluate(() => ({ body: document.documentElement.scrollWidth, window: window.innerWidth }));
  expect(fit.body, `${what}: the page is ${fit.body} px wide in a ${fit.window} px window`).toBeLessThanOrEqual(fit.window);
}
