// The console's figures in a real browser: shares of all tenants, a tenant's own budget, charts on a
// real time axis (gaps, stacking, axes), the usage page's charts and the settings form's copy.
// `next start` on the built console against a real collector (chDB), spans sent through the real
// OTLP exporter, usage records stored as the collector's usage writer stores them, Chromium driven
// by playwright-core.
import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import { BasicTracerProvider, BatchSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import type { BrowserContext, Locator, Page } from "playwright-core";
import { loadCollectorConfig, startCollector, type RunningCollector } from "@troupe/collector";
import { startConsoleInBrowser, type ConsoleInBrowser } from "./support/console-in-browser.js";
import { seedUsageRecords, type SeedUsage } from "./support/usage-records.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const shots = join(root, "test-results", "screenshots");
const ADMIN_KEY = `trp_admin_${randomBytes(18).toString("base64url")}`;
const MIN = 60_000;
const DAY = 86_400_000;
/** Seeded at load: minutes before now. Spans every minute of two 10-minute blocks with a 10-minute gap between. */
const BLOCKS = [[-50, -41], [-30, -21]] as const;
/** Each tenant's one turn: queue wait and handler time, so that shares are known (queue 20/60/20 %, handler 50/30/20 %). */
const TURNS = { globex: { queueMs: 100, handlerMs: 500 }, initech: { queueMs: 300, handlerMs: 300 }, acme: { queueMs: 100, handlerMs: 200 } } as const;
const TENANTS = Object.keys(TURNS) as Array<keyof typeof TURNS>;

let dir: string;
let collector: RunningCollector;
let stack: ConsoleInBrowser | undefined;
const keys: Record<string, { console: string; ingest: string }> = {};
const cspErrors: string[] = [];
const nowMs = Date.now();
let globexUsage: SeedUsage[] = [];

interface SpanSpec {
  name: string;
  startMs: number;
  kind: SpanKind;
  attributes: Record<string, string | number | boolean>;
  error?: boolean;
}

/** Sends spans through the real OTLP/HTTP exporter with the tenant's ingest key. */
async function sendSpans(tenant: string, specs: SpanSpec[]): Promise<void> {
  const tp = new BasicTracerProvider({
    resource: resourceFromAttributes({ "service.name": `${tenant}-app` }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: `${collector.url}/v1/traces`, headers: { Authorization: `Bearer ${keys[tenant]!.ingest}` } }), { scheduledDelayMillis: 10, maxExportBatchSize: 512 })],
  });
  const tracer = tp.getTracer("console-figures-test");
  for (const s of specs) {
    const span = tracer.startSpan(s.name, { kind: s.kind, startTime: s.startMs, attributes: { "troupe.tenant.id": tenant, ...s.attributes } });
    span.setStatus({ code: s.error ? SpanStatusCode.ERROR : SpanStatusCode.OK });
    span.end(s.startMs + 20);
  }
  await tp.forceFlush();
  await tp.shutdown();
}

async function api<T>(key: string, path: string, init?: RequestInit): Promise<{ status: number; body: T }> {
  const res = await fetch(`${collector.url}${path}`, { ...init, headers: { authorization: `Bearer ${key}`, "content-type": "application/json", ...(init?.headers ?? {}) } });
  return { status: res.status, body: (await res.json()) as T };
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const minuteAgo = (m: number) => Math.floor(nowMs / MIN) * MIN + m * MIN + 5_000;
const blockMinutes = BLOCKS.flatMap(([a, b]) => Array.from({ length: b - a + 1 }, (_, i) => a + i));

beforeAll(async () => {
  mkdirSync(shots, { recursive: true });
  dir = await mkdtemp(join(tmpdir(), "troupe-figures-"));
  collector = await startCollector({ ...loadCollectorConfig({ TROUPE_DATA_DIR: dir, TROUPE_ADMIN_KEY: ADMIN_KEY }), port: 0, host: "127.0.0.1" }, { writer: { maxBatchDelayMs: 20 } });
  for (const id of TENANTS) {
    const budgets = id === "initech" ? { dailyTokens: 40_000 } : {};
    const res = await api<{ keys: Array<{ kind: string; secret: string }> }>(ADMIN_KEY, "/api/v1/admin/tenants", { method: "POST", body: JSON.stringify({ id, name: id[0]!.toUpperCase() + id.slice(1), budgets }) });
    expect(res.status).toBe(201);
    keys[id] = { console: res.body.keys.find((k) => k.kind === "console")!.secret, ingest: res.body.keys.find((k) => k.kind === "ingest")!.secret };
  }

  // One turn per tenant, five minutes ago: the queue wait and handler time the shares divide.
  for (const id of TENANTS) {
    await sendSpans(id, [{
      name: "process worker",
      startMs: minuteAgo(-5),
      kind: SpanKind.CONSUMER,
      attributes: { "troupe.agent.type": "worker", "troupe.turn.outcome": "ok", "messaging.operation.name": "process", "troupe.queue.wait_ms": TURNS[id].queueMs, "troupe.handler.wall_ms": TURNS[id].handlerMs },
    }]);
  }
  // globex: three spans a minute in two 10-minute blocks with nothing between, none failed; the
  // chat spans claim huge token counts that no usage record confirms (figures read usage records).
  await sendSpans("globex", blockMinutes.flatMap((m) => [0, 1, 2].map((i): SpanSpec => ({
    name: i === 0 ? "chat gpt-4o" : "step",
    startMs: minuteAgo(m) + i,
    kind: i === 0 ? SpanKind.CLIENT : SpanKind.INTERNAL,
    attributes: i === 0 ? { "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": 999_999, "gen_ai.usage.output_tokens": 999_999 } : {},
  }))));
  // Usage records: globex 1,000 in + 100 out tokens a minute in the same blocks (two models, two
  // agent types), one budget-rejected attempt, and a call three days ago; initech 79.6K tokens today.
  globexUsage = blockMinutes.map((m, i) => ({
    tenant: "globex", timeMs: minuteAgo(m), model: i % 2 ? "gpt-4o-mini" : "gpt-4o", agentType: i % 2 ? "researcher" : "planner", inputTokens: 1000, outputTokens: 100, costUsd: i % 2 ? 0.001 : 0.01,
  }));
  globexUsage.push({ tenant: "globex", timeMs: minuteAgo(-25), model: "gpt-4o", agentType: "planner", outcome: "budget_rejected" });
  globexUsage.push({ tenant: "globex", timeMs: nowMs - 3 * DAY, model: "gpt-4o", agentType: "researcher", inputTokens: 5000, outputTokens: 500, costUsd: 0.5 });
  await seedUsageRecords(collector.gateway, globexUsage);
  await seedUsageRecords(collector.gateway, [{ tenant: "initech", timeMs: Math.max(nowMs - 1000, Math.floor(nowMs / DAY) * DAY), model: "gpt-4o", agentType: "worker", inputTokens: 70_000, outputTokens: 9_600, costUsd: 0.4 }]);

  let seen = "";
  await waitFor("the seeded spans to be stored", async () => {
    const overview = await api<{ totals: { spans: number } }>(ADMIN_KEY, `/api/v1/overview?tenant=globex&from=${new Date(nowMs - 3_600_000).toISOString()}`);
    const all = await api<{ tenants: Array<{ activity: { handlerWallMsTotal: number } }> }>(ADMIN_KEY, `/api/v1/admin/tenants?from=${new Date(nowMs - 3_600_000).toISOString()}`);
    const handler = all.body.tenants.reduce((n, t) => n + t.activity.handlerWallMsTotal, 0);
    seen = `globex spans ${overview.body.totals.spans}, handler time ${handler} ms`;
    return overview.body.totals.spans === blockMinutes.length * 3 + 1 && handler === 1000 ? true : undefined;
  }, 90_000).catch((err: Error) => {
    throw new Error(`${err.message} (last seen: ${seen})`);
  });

  // test/global-setup.ts built the console before any test file ran.
  stack = await startConsoleInBrowser(collector.url);
}, 300_000);

afterAll(async () => {
  await stack?.close();
  await collector?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
}, 60_000);

async function signedIn(key: string, width = 1440): Promise<{ ctx: BrowserContext; page: Page }> {
  const ctx = await stack!.browser.newContext({ viewport: { width, height: 1000 } });
  const page = await ctx.newPage();
  page.on("console", (m) => {
    if (m.type() === "error" && /Content Security Policy|Refused to/i.test(m.text())) cspErrors.push(`${page.url()}: ${m.text()}`);
  });
  await page.goto(`${stack!.consoleUrl}/sign-in`);
  await page.getByLabel("Console key or admin key").fill(key);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL((u) => !u.pathname.startsWith("/sign-in"));
  return { ctx, page };
}

/** Full-page screenshots at 1280 and 1440 px. */
async function shotsAtBothWidths(page: Page, name: string): Promise<void> {
  for (const width of [1280, 1440]) {
    await page.setViewportSize({ width, height: 1000 });
    await page.waitForTimeout(150);
    await page.screenshot({ path: join(shots, `figures-${name}-${width}.png`), fullPage: true });
  }
}

/** The card whose heading is `title`. */
function card(page: Page, title: string | RegExp): Locator {
  return page.locator("section.card", { has: page.getByRole("heading", { name: title, exact: true }) });
}

interface DrawnChart {
  /** Each area series' stroke as points (SVG px), one list per continuous segment. */
  series: Array<Array<Array<{ x: number; y: number }>>>;
  /** The plot's left and right edges and the y of its zero line (the lowest grid line). */
  left: number;
  right: number;
  zeroY: number;
  xTicks: string[];
  yTicks: string[];
  note: string;
}

/** What a chart drew, read from its SVG. */
async function drawn(chart: Locator): Promise<DrawnChart> {
  await chart.locator(".recharts-surface").first().waitFor();
  return chart.evaluate((el) => {
    const num = (v: string | null) => Number(v ?? "NaN");
    const grid = Array.from(el.querySelectorAll(".recharts-cartesian-grid-horizontal line"));
    const segments = (d: string) =>
      d.split("M").filter((s) => s.trim()).map((s) => [...s.matchAll(/(-?[\d.]+(?:e-?\d+)?)[ ,](-?[\d.]+(?:e-?\d+)?)/g)].map((m) => ({ x: Number(m[1]), y: Number(m[2]) })));
    return {
      series: Array.from(el.querySelectorAll(".recharts-area")).map((a) => segments(a.querySelector(".recharts-area-curve")?.getAttribute("d") ?? "")),
      left: Math.min(...grid.map((l) => num(l.getAttribute("x1")))),
      right: Math.max(...grid.map((l) => num(l.getAttribute("x2")))),
      zeroY: Math.max(...grid.map((l) => num(l.getAttribute("y1")))),
      xTicks: Array.from(el.querySelectorAll(".recharts-xAxis-tick-labels .recharts-cartesian-axis-tick-value")).map((t) => t.textContent ?? ""),
      yTicks: Array.from(el.querySelectorAll(".recharts-yAxis-tick-labels .recharts-cartesian-axis-tick-value")).map((t) => t.textContent ?? ""),
      note: el.querySelector(".chart-note")?.textContent ?? "",
    };
  });
}

const pct = (text: string | null) => Number(/([\d.]+)%/.exec(text ?? "")?.[1] ?? "NaN");

describe("figures that are right and say what they are", () => {
  it("shows each tenant's queue wait and handler time as a share of all tenants, the same on the list and the tenant page, adding up to 100%", async () => {
    const { ctx, page } = await signedIn(ADMIN_KEY);
    await page.goto(`${stack!.consoleUrl}/operator`);
    const table = page.getByTestId("tenants-table");
    await table.waitFor();
    expect(await card(page, "All tenants").textContent()).toMatch(/share of all tenants' totals over the last 24 hours \(they add up to 100%\)/);
    const headers = await table.locator("thead th").allTextContents();
    const queueCol = headers.findIndex((h) => h.startsWith("Queue wait"));
    const handlerCol = headers.findIndex((h) => h.startsWith("Handler time"));
    const listed: Record<string, { queue: number; handler: number }> = {};
    for (const id of TENANTS) {
      const cells = await table.locator("tbody tr", { has: page.locator(`a[href^="/operator/tenants/${id}?"]`) }).locator("td").allTextContents();
      listed[id] = { queue: pct(cells[queueCol]!), handler: pct(cells[handlerCol]!) };
    }
    expect(listed).toEqual({ globex: { queue: 20, handler: 50 }, initech: { queue: 60, handler: 30 }, acme: { queue: 20, handler: 20 } });
    expect(TENANTS.reduce((n, id) => n + listed[id]!.queue, 0)).toBe(100);
    expect(TENANTS.reduce((n, id) => n + listed[id]!.handler, 0)).toBe(100);

    for (const id of TENANTS) {
      await page.goto(`${stack!.consoleUrl}/operator`);
      await page.locator(`a[href^="/operator/tenants/${id}?"]`).click();
      await page.waitForURL(new RegExp(`/operator/tenants/${id}\\?range=24h$`));
      const queue = page.getByTestId("tenant-queue-wait-share");
      const handler = page.getByTestId("tenant-handler-time-share");
      expect(pct(await queue.locator(".stat-value").textContent())).toBe(listed[id]!.queue);
      expect(pct(await handler.locator(".stat-value").textContent())).toBe(listed[id]!.handler);
      expect(await queue.locator(".stat-sub").textContent()).toBe("share of all tenants' queue wait, last 24 hours");
      expect(await handler.locator(".stat-sub").textContent()).toBe("share of all tenants' handler time, last 24 hours");
      if (id === "initech") await shotsAtBothWidths(page, "operator-tenant-initech");
    }
    await ctx.close();
  });

  it("shows a tenant over its budget its own limit and over-budget state, as the operator sees it", async () => {
    const meterText = async (page: Page) => (await page.getByTestId("budget-meters").locator(".meter", { hasText: "Tokens today" }).locator(".meter-top").textContent())!.replace(/\s+/g, " ");
    const { ctx, page } = await signedIn(keys.initech!.console);
    await page.goto(`${stack!.consoleUrl}/`);
    await page.getByTestId("budget-meters").waitFor();
    expect(await meterText(page)).toBe("Tokens today79.6K / 40K");
    const fill = page.getByTestId("budget-meters").locator(".meter", { hasText: "Tokens today" }).locator(".meter-fill");
    expect(await fill.getAttribute("class")).toContain("over");
    expect(await page.getByTestId("budget-meters").getByRole("meter", { name: "Tokens today" }).getAttribute("aria-valuetext")).toBe("199% used");
    expect(await page.getByTestId("budget-state").textContent()).toBe("Over budget");
    expect(await page.getByTestId("budget-state").locator(".badge").getAttribute("class")).toContain("badge-err");
    // Limits not set read the same for both: "no limit set", never "set by operator".
    expect(await page.getByTestId("budget-meters").textContent()).not.toContain("set by operator");
    await shotsAtBothWidths(page, "overview-tenant-initech");
    await ctx.close();

    const admin = await signedIn(ADMIN_KEY);
    await admin.page.goto(`${stack!.consoleUrl}/operator/tenants/initech`);
    await admin.page.getByTestId("budget-meters").waitFor();
    expect(await meterText(admin.page)).toBe("Tokens today79.6K / 40K");
    expect(await admin.page.getByTestId("budget-state").textContent()).toBe("Over budget");
    await admin.ctx.close();
  });

  it("draws the overview on a real time axis: a 10-minute gap takes its width, nothing is stacked unsaid, the error-rate axis stops at 100%", async () => {
    const { ctx, page } = await signedIn(ADMIN_KEY);
    await page.goto(`${stack!.consoleUrl}/?tenant=globex&range=1h`);
    const spans = await drawn(card(page, "Spans per minute"));
    const width = spans.right - spans.left;
    // The spans line: at zero for the whole gap between the blocks, nine bucket widths from its first
    // empty bucket to its last (other zero stretches run to the range's ends or to the turns).
    const line = spans.series[0]!.flat();
    const atZero = (p: { y: number }) => Math.abs(p.y - spans.zeroY) < 1;
    const zeroRuns: number[] = [];
    for (let i = 1; i < line.length; i++) {
      if (!atZero(line[i]!) || atZero(line[i - 1]!)) continue;
      let j = i;
      while (j + 1 < line.length && atZero(line[j + 1]!)) j++;
      if (j + 1 < line.length) zeroRuns.push((line[j]!.x - line[i]!.x) / width);
      i = j;
    }
    expect(zeroRuns.filter((w) => w > 8 / 60 && w < 10 / 60)).toHaveLength(1);
    // The first block starts 50 minutes before the end of the hour shown, not at the axis' left edge.
    const first = line.find((p) => !atZero(p))!;
    expect((first.x - spans.left) / width).toBeGreaterThan(5 / 60);
    expect((first.x - spans.left) / width).toBeLessThan(11 / 60);
    expect(spans.note).toBe("One point per minute (UTC) · empty buckets drawn as 0 · not stacked: each series from 0");

    // The error rate: no line where no span was stored; 0–100% when nothing failed.
    const rate = await drawn(card(page, "Error rate per minute"));
    expect(rate.series[0]!.length).toBeGreaterThanOrEqual(2);
    expect(rate.yTicks).toEqual(["0%", "50%", "100%"]);
    expect(rate.note).toBe("One point per minute (UTC) · no line where there is nothing to measure");
    // The lone turn five minutes ago, between two empty buckets, is a dot.
    expect(await card(page, "Error rate per minute").locator(".recharts-area-dots circle").count()).toBe(1);

    // Tokens are not stacked: output (100 a minute) is drawn below input (1,000 a minute), from 0.
    const tokens = await drawn(card(page, "Tokens per minute"));
    const top = (segments: Array<Array<{ y: number }>>) => Math.min(...segments.flat().map((p) => p.y));
    expect(top(tokens.series[1]!)).toBeGreaterThan(top(tokens.series[0]!) + (tokens.zeroY - top(tokens.series[0]!)) * 0.8);
    expect(tokens.note).toContain("not stacked");
    expect(await card(page, "Tokens per minute").locator(".card-header p").textContent()).toContain("each drawn from 0");

    // LLM calls say they include the refused attempts, and how many.
    expect(await card(page, "LLM calls per minute").locator(".card-header p").textContent()).toMatch(/^Every attempt, budget-rejected and rate-limited ones included \(1 budget-rejected, 0 rate-limited in this range\)/);
    // Tokens and cost come from usage records (20 × 1,000 in, 20 × 100 out), not from the spans' own counts.
    expect(await page.getByTestId("stat-cost").textContent()).toContain("20K in · 2,000 out tokens · from usage records");
    await shotsAtBothWidths(page, "overview-globex-1h");

    // Last 7 days: seven days of axis, labelled by day, and the bucket width in the titles.
    await page.goto(`${stack!.consoleUrl}/?tenant=globex&range=7d`);
    const weekCard = card(page, /^Spans per /);
    const week = await drawn(weekCard);
    expect(week.xTicks.length).toBeGreaterThanOrEqual(7);
    expect(new Set(week.xTicks).size).toBe(week.xTicks.length);
    for (const t of week.xTicks) expect(t).not.toMatch(/^\d\d:\d\d$/);
    const bucket = /^Spans per (.+)$/.exec((await weekCard.getByRole("heading").textContent())!)![1]!;
    expect(bucket).not.toBe("minute");
    expect(week.note).toContain(`One point per ${bucket} (UTC)`);
    await shotsAtBothWidths(page, "overview-globex-7d");
    await ctx.close();
  });

  it("draws every day of the usage report, zero-filled, and cost by model and by agent type", async () => {
    const { ctx, page } = await signedIn(ADMIN_KEY);
    await page.goto(`${stack!.consoleUrl}/usage?tenant=globex`);
    const overTime = card(page, "Cost and tokens by day");
    await overTime.locator(".recharts-surface").first().waitFor();
    const costChart = overTime.locator("figure.chart").first();
    const days = await costChart.locator(".recharts-xAxis-tick-labels .recharts-cartesian-axis-tick-value").allTextContents();
    expect(days).toHaveLength(7);
    expect(new Set(days).size).toBe(7);
    // Only the days with usage have a bar; the others are drawn as 0.
    const usedDays = new Set(globexUsage.map((u) => new Date(u.timeMs).toISOString().slice(0, 10))).size;
    expect(await costChart.locator(".recharts-bar-rectangle path").count()).toBe(usedDays);
    expect(await costChart.locator(".chart-note").textContent()).toBe("One bar per day (UTC) · empty buckets drawn as 0");
    expect(await overTime.locator("figure.chart").nth(1).locator(".chart-note").textContent()).toBe("One bar per day (UTC) · empty buckets drawn as 0 · stacked: the top edge is the total");

    const byModel = card(page, "Cost by model");
    await byModel.locator(".recharts-surface").waitFor();
    expect(await byModel.locator(".recharts-yAxis-tick-labels .recharts-cartesian-axis-tick-value").allTextContents()).toEqual(["gpt-4o", "gpt-4o-mini"]);
    expect(await byModel.getByRole("img").getAttribute("aria-label")).toMatch(/^Cost by model: gpt-4o \$0\.60*, gpt-4o-mini \$0\.010*$/);
    const byAgent = card(page, "Cost by agent type");
    expect(await byAgent.locator(".recharts-yAxis-tick-labels .recharts-cartesian-axis-tick-value").allTextContents()).toEqual(["researcher", "planner"]);
    expect(await byAgent.getByRole("img").getAttribute("aria-label")).toMatch(/^Cost by agent type: researcher \$0\.510*, planner \$0\.10*$/);
    await shotsAtBothWidths(page, "usage-globex");
    await ctx.close();
  });

  it("says in the settings form when a runtime applies budgets, and what an empty budget means", async () => {
    const { ctx, page } = await signedIn(ADMIN_KEY);
    await page.goto(`${stack!.consoleUrl}/operator/tenants/initech`);
    const form = page.getByTestId("tenant-settings-form");
    await form.waitFor();
    const budgets = form.locator("fieldset", { has: page.locator("legend", { hasText: "Budgets" }) });
    expect(await budgets.locator(".form-section-note").textContent()).toBe(
      "Tokens and cost per UTC day and month. A runtime following this collector applies a change on the tenant's next LLM call and refuses calls past a budget, counting what every runtime spent. Empty: not set, and the runtime's own budget (its code) applies, if any; else unlimited.",
    );
    expect(await budgets.textContent()).not.toContain("Empty: unlimited");
    const body = (await page.textContent("body"))!;
    expect(body).not.toMatch(/policy refresh/i);
    expect(body).toContain("A runtime that does not follow it (no followControlPlane) runs on its code options.");
    await ctx.close();
  });

  it("breaks no content-security rule on any of these pages", () => {
    expect(cspErrors).toEqual([]);
  });
});
