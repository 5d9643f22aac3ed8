// What daily users of Langfuse and Jaeger reach for, in a real browser: trace filters (model,
// attribute, duration window) and a custom time range in the URL, tokens and cost per trace,
// in-progress traces, keyboard navigation, a span deep link, collapsible subtrees and a zoomable
// timeline, conversations, and dark mode. `next start` on the built console against a real collector
// (chDB); acme's research pipeline runs on the real runtime and exports over OTLP (its researchers'
// conversation ids included), and a few traces of exact shape are stored directly.
import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Page } from "playwright-core";
import { createClickHouseSpanStore, loadCollectorConfig, plainSpanFields, startCollector, type RunningCollector, type SpanRow } from "@troupe/collector";
import type { ConversationsResponse, TraceSearchResponse, TraceSummary } from "@troupe/contract/query-api";
import { LlmClients, Runtime, ToolRegistry } from "@troupe/runtime";
import { startMockOpenAiServer, type MockOpenAiServer } from "@troupe/runtime/testing";
import { registerResearchPipeline, runResearch, simulatedResearchModel } from "@troupe/examples/research-pipeline";
import { startTelemetry, type Telemetry } from "@troupe/runtime/otel";
import { startConsoleInBrowser, type ConsoleInBrowser } from "./support/console-in-browser.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const shots = join(root, "test-results", "screenshots");
const ADMIN_KEY = `trp_admin_${randomBytes(18).toString("base64url")}`;
const MIN = 60_000;
const NOW = Date.now();
const MODEL = "gpt-4o-mini-2024-07-18";
const hex = (bytes: number) => randomBytes(bytes).toString("hex");
/** A conversation id that needs encoding in a URL path. */
const ODD_CONVERSATION = "support ticket #42/ä 100%";

let dir: string;
let collector: RunningCollector;
let stack: ConsoleInBrowser | undefined;
let telemetry: Telemetry | undefined;
let llmServer: MockOpenAiServer | undefined;
let runtime: Runtime | undefined;
const keys = { acme: "", globex: "" };
/** Traces stored with an exact shape. */
const ids = { running: hex(16), small: hex(16), old: hex(16), zoom: hex(16), odd: hex(16) };
const zoomSpans = { root: hex(8), early: hex(8), late: hex(8), lateChild: hex(8) };

function span(tenantId: string, traceId: string, spanId: string, name: string, startMs: number, durationMs: number, attributes: Record<string, string>, fields: Partial<SpanRow> = {}): SpanRow {
  return {
    tenantId, traceId, spanId, parentSpanId: "", name, kind: 1, startTimeUnixNano: `${startMs}000000`, durationNs: durationMs * 1e6, statusCode: 0,
    serviceName: `${tenantId}-app`, resourceAttributes: { "service.name": `${tenantId}-app` }, ...plainSpanFields(), attributes: { "troupe.tenant.id": tenantId, ...attributes }, ...fields,
  };
}

function chat(tenantId: string, traceId: string, parentSpanId: string, startMs: number, durationMs: number, model: string, extra: Record<string, string> = {}): SpanRow {
  return span(tenantId, traceId, hex(8), `chat ${model}`, startMs, durationMs, {
    "gen_ai.operation.name": "chat", "gen_ai.request.model": model, "gen_ai.usage.input_tokens": "1500", "gen_ai.usage.output_tokens": "250", "troupe.llm.cost_usd": "0.0123", ...extra,
  }, { parentSpanId, kind: 3 });
}

async function api<T>(key: string, path: string): Promise<T> {
  const res = await fetch(`${collector.url}${path}`, { headers: { authorization: `Bearer ${key}` } });
  expect(res.status, path).toBe(200);
  return (await res.json()) as T;
}

beforeAll(async () => {
  mkdirSync(shots, { recursive: true });
  dir = await mkdtemp(join(tmpdir(), "troupe-daily-use-"));
  collector = await startCollector({ ...loadCollectorConfig({ TROUPE_DATA_DIR: dir, TROUPE_ADMIN_KEY: ADMIN_KEY }), port: 0, host: "127.0.0.1" }, { writer: { maxBatchDelayMs: 20 } });
  for (const id of ["acme", "globex"] as const) {
    await collector.registry.createTenant({ id });
    keys[id] = (await collector.registry.issueKey(id, "console")).key.secret;
  }

  // acme's research pipeline, twice on the same planner key: each of its three researchers keeps
  // one ConversationMemory, so each conversation spans both traces.
  const ingest = (await collector.registry.issueKey("acme", "ingest")).key.secret;
  telemetry = startTelemetry({ serviceName: "research", collector: { url: `${collector.url}/v1/traces`, apiKey: ingest }, batch: { scheduledDelayMs: 20 }, usageRecords: false, metrics: false });
  llmServer = await startMockOpenAiServer({ behaviour: simulatedResearchModel() });
  const llm = new LlmClients({ config: { acme: { apiKey: "sk-test", baseURL: llmServer.baseURL, defaultModel: MODEL } }, tracerProvider: telemetry.tracerProvider });
  runtime = new Runtime({ tracerProvider: telemetry.tracerProvider });
  registerResearchPipeline(runtime, { llm, tools: new ToolRegistry({ tracerProvider: telemetry.tracerProvider }) });
  await runtime.start();
  await runResearch(runtime.tenant("acme"), "token budgets", { key: "r1" });
  await runResearch(runtime.tenant("acme"), "actor model", { key: "r1" });
  await telemetry.forceFlush();

  const store = createClickHouseSpanStore(collector.gateway);
  const running = hex(8);
  const smallRoot = hex(8);
  const oldRoot = hex(8);
  const oddRoot = hex(8);
  await store.insertSpans([
    // Still running: the root (a local parent) has not ended, so only its children arrived.
    span("acme", ids.running, running, "invoke_agent writer", NOW - 5 * MIN, 300, { "gen_ai.operation.name": "invoke_agent", "troupe.agent.type": "writer" }, { parentSpanId: hex(8) }),
    chat("acme", ids.running, running, NOW - 5 * MIN + 5, 200, "gpt-4o"),
    // A slow coder turn on "small" that timed out.
    span("acme", ids.small, smallRoot, "process coder", NOW - 20 * MIN, 2000, { "troupe.agent.type": "coder", "troupe.turn.outcome": "timeout" }, { kind: 5, statusCode: 2 }),
    chat("acme", ids.small, smallRoot, NOW - 20 * MIN + 1, 1990, "small"),
    // Three hours old: outside the last hour, inside a custom range around it.
    span("acme", ids.old, oldRoot, "process archive", NOW - 180 * MIN, 40, { "troupe.agent.type": "archivist" }, { kind: 5 }),
    // A 1 s trace of exact shape for the zoomable timeline: a tree of four.
    span("acme", ids.zoom, zoomSpans.root, "process zoomer", NOW - 30 * MIN, 1000, { "troupe.agent.type": "zoomer" }, { kind: 5 }),
    span("acme", ids.zoom, zoomSpans.early, "execute_tool early", NOW - 30 * MIN, 100, { "gen_ai.operation.name": "execute_tool" }, { parentSpanId: zoomSpans.root }),
    span("acme", ids.zoom, zoomSpans.late, "invoke_agent late", NOW - 30 * MIN + 800, 200, { "gen_ai.operation.name": "invoke_agent" }, { parentSpanId: zoomSpans.root }),
    span("acme", ids.zoom, zoomSpans.lateChild, "execute_tool late-child", NOW - 30 * MIN + 850, 100, { "gen_ai.operation.name": "execute_tool" }, { parentSpanId: zoomSpans.late }),
    // A conversation whose id needs encoding in a URL.
    span("acme", ids.odd, oddRoot, "process support", NOW - 40 * MIN, 50, { "troupe.agent.type": "support" }, { kind: 5 }),
    chat("acme", ids.odd, oddRoot, NOW - 40 * MIN + 1, 40, "gpt-4o", { "gen_ai.conversation.id": ODD_CONVERSATION }),
  ], "acme-shapes");
  // globex: a trace and a conversation acme must never see.
  const gRoot = hex(8);
  await store.insertSpans([
    span("globex", hex(16), gRoot, "process globex-secret-agent", NOW - 10 * MIN, 10, { "troupe.agent.type": "globex-secret-agent" }, { kind: 5 }),
    chat("globex", hex(16), gRoot, NOW - 10 * MIN, 5, "gpt-4o", { "gen_ai.conversation.id": "globex-secret-conversation" }),
  ], "globex-1");

  // The OTLP export lands asynchronously: wait until the three conversations have both traces each.
  const deadline = Date.now() + 60_000;
  for (;;) {
    const c = await api<ConversationsResponse>(keys.acme, "/api/v1/conversations");
    if (c.conversations.filter((x) => x.traceCount === 2).length === 3) break;
    if (Date.now() > deadline) throw new Error(`the research conversations did not arrive: ${JSON.stringify(c)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  // test/global-setup.ts built the console before any test file ran.
  stack = await startConsoleInBrowser(collector.url);
}, 300_000);

afterAll(async () => {
  await stack?.close();
  await runtime?.stop();
  await telemetry?.shutdown();
  await llmServer?.close();
  await collector?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
}, 60_000);

/** A signed-in acme page; `problems` collects script errors and what the CSP refused. */
async function signedIn(options: { width?: number; colorScheme?: "light" | "dark" } = {}): Promise<{ page: Page; problems: string[] }> {
  const ctx = await stack!.browser.newContext({ viewport: { width: options.width ?? 1280, height: 900 }, colorScheme: options.colorScheme ?? "light" });
  const page = await ctx.newPage();
  const problems: string[] = [];
  page.on("pageerror", (e) => problems.push(e.message));
  page.on("console", (m) => {
    if (m.type() === "error" && /Content Security Policy|Refused to/i.test(m.text())) problems.push(m.text());
  });
  await page.goto(`${stack!.consoleUrl}/sign-in`);
  await page.getByLabel("Console key or admin key").fill(keys.acme);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(`${stack!.consoleUrl}/`);
  return { page, problems };
}

/** Waits until the page's scripts have loaded (client components answer clicks and keys). */
async function hydrated(page: Page): Promise<void> {
  await page.waitForLoadState("networkidle");
}

/** The trace ids the list shows, in order. */
async function listed(page: Page, testId = "traces-table"): Promise<string[]> {
  const table = page.getByTestId(testId);
  await table.waitFor();
  return table.locator("tbody tr").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-trace-id") ?? ""));
}

async function applyFilters(page: Page, fields: Record<string, string>): Promise<void> {
  for (const [label, value] of Object.entries(fields)) await page.getByLabel(label, { exact: true }).fill(value);
  await Promise.all([page.waitForURL(/\/traces\?/), page.getByRole("button", { name: "Apply filters" }).click()]);
  await page.waitForLoadState("networkidle");
}

describe("the trace list", () => {
  it("filters by model, allow-listed attribute and duration window in the URL; a refused key is named", async () => {
    const { page, problems } = await signedIn();
    await page.goto(`${stack!.consoleUrl}/traces`);
    const all = await listed(page);
    expect(all).toEqual(expect.arrayContaining([ids.running, ids.small, ids.zoom]));
    expect(all).not.toContain(ids.old);

    await applyFilters(page, { Model: "small" });
    expect(new URL(page.url()).searchParams.get("model")).toBe("small");
    expect(await listed(page)).toEqual([ids.small]);

    await applyFilters(page, { Model: "", Attribute: "troupe.turn.outcome=timeout" });
    expect(new URL(page.url()).searchParams.get("attr")).toBe("troupe.turn.outcome=timeout");
    expect(await listed(page)).toEqual([ids.small]);

    // A filtered view is a link: opened afresh, it lists the same traces.
    const again = await page.context().newPage();
    await again.goto(page.url());
    expect(await listed(again)).toEqual([ids.small]);
    await again.close();

    await applyFilters(page, { Attribute: "user.email=someone@example.com" });
    expect(await page.getByTestId("filter-refused").textContent()).toContain(`"user.email" is not an allow-listed span attribute`);

    // A duration window: at most 500 ms keeps the zoom trace (1 s) out; 500 ms to 5 s keeps the coder turn and the zoom trace.
    await applyFilters(page, { Attribute: "", "Max duration (ms)": "500" });
    const short = await listed(page);
    expect(short).toContain(ids.running);
    expect(short).not.toContain(ids.small);
    expect(short).not.toContain(ids.zoom);
    await applyFilters(page, { "Min duration (ms)": "500", "Max duration (ms)": "5000" });
    expect(new URL(page.url()).searchParams.get("maxDurationMs")).toBe("5000");
    const windowed = await listed(page);
    expect(windowed).toEqual(expect.arrayContaining([ids.small, ids.zoom]));
    expect(windowed).not.toContain(ids.running);
    expect(windowed).toEqual((await api<TraceSearchResponse>(keys.acme, "/api/v1/traces?minDurationMs=500&maxDurationMs=5000")).traces.map((t) => t.traceId));
    expect(problems).toEqual([]);
    await page.context().close();
  });

  it("shows tokens and cost per trace (saying they come from the trace's spans) and marks an unfinished trace as in progress", async () => {
    const { page, problems } = await signedIn();
    await page.goto(`${stack!.consoleUrl}/traces`);
    await page.getByTestId("traces-table").waitFor();
    const heads = page.getByTestId("traces-table").locator("th[title]");
    expect(await heads.allTextContents()).toEqual(["Tokens i", "Cost i"]);
    expect(await heads.first().getAttribute("title")).toMatch(/LLM spans.*sampled/);
    expect(await page.getByTestId("trace-usage-note").textContent()).toMatch(/stored \(sampled\) traces only/);

    // The exact figures the collector sums over each trace's LLM spans.
    const { traces } = await api<TraceSearchResponse>(keys.acme, "/api/v1/traces");
    const research = traces.filter((t) => t.inputTokens > 0 && t.agentTypes.includes("researcher"));
    expect(research).toHaveLength(2);
    for (const t of [...research, traces.find((x) => x.traceId === ids.small)!]) {
      const cells = await page.locator(`tr[data-trace-id="${t.traceId}"] td`).allTextContents();
      const tokens = t.inputTokens + t.outputTokens;
      expect(cells[5]).toBe(tokens < 10_000 ? tokens.toLocaleString("en-US") : new Intl.NumberFormat("en-US", { notation: "compact", maximumFractionDigits: 1 }).format(tokens));
      expect(cells[6]).toMatch(/^\$0\.\d{4}$/);
    }
    expect(await page.locator(`tr[data-trace-id="${ids.small}"] td`).nth(6).textContent()).toBe("$0.0123");

    const running = page.locator(`tr[data-trace-id="${ids.running}"]`);
    expect(await running.getAttribute("data-in-progress")).toBe("true");
    expect(await running.locator(".badge", { hasText: "In progress" }).count()).toBe(1);
    expect(await running.locator("td").nth(3).textContent()).toMatch(/^≥ /);
    expect(await page.locator("tr[data-in-progress]").count()).toBe(1);

    await page.goto(`${stack!.consoleUrl}/traces/${ids.running}`);
    expect(await page.locator("h1").textContent()).toBe("Trace in progress");
    await page.getByTestId("missing-root").waitFor();
    expect(await page.getByTestId("in-progress-note").textContent()).toContain("root span has not arrived");
    // The child that arrived first hangs under the missing root, not in its place.
    const firstRow = page.getByTestId("waterfall").locator("details").first();
    expect(await firstRow.locator(".wf-name").evaluate((el) => getComputedStyle(el).paddingLeft)).toBe("14px");
    expect(problems).toEqual([]);
    await page.context().close();
  });

  it("moves with j/k and opens the focused trace with Enter", async () => {
    const { page, problems } = await signedIn();
    await page.goto(`${stack!.consoleUrl}/traces`);
    await hydrated(page);
    const order = await listed(page);
    const focusedTrace = () => page.evaluate(() => document.activeElement?.closest("tr")?.getAttribute("data-trace-id") ?? null);
    await page.keyboard.press("j");
    expect(await focusedTrace()).toBe(order[0]);
    await page.keyboard.press("j");
    await page.keyboard.press("j");
    expect(await focusedTrace()).toBe(order[2]);
    await page.keyboard.press("k");
    expect(await focusedTrace()).toBe(order[1]);
    await page.keyboard.press("ArrowDown");
    expect(await focusedTrace()).toBe(order[2]);
    // Typing in a filter field is typing, not navigating.
    await page.getByLabel("Model", { exact: true }).focus();
    await page.keyboard.press("j");
    expect(await page.getByLabel("Model", { exact: true }).inputValue()).toBe("j");
    await page.locator(`tr[data-trace-id="${order[1]}"] a`).focus();
    await Promise.all([page.waitForURL(`**/traces/${order[1]}`), page.keyboard.press("Enter")]);
    expect(problems).toEqual([]);
    await page.context().close();
  });
});

describe("a custom time range", () => {
  it("takes ISO UTC inputs, refuses a backwards range, lives in the URL and holds on every page that takes a range", async () => {
    const { page, problems } = await signedIn();
    await page.goto(`${stack!.consoleUrl}/traces`);
    await hydrated(page);
    await page.getByLabel("Time range", { exact: true }).selectOption("custom");
    const from = page.getByLabel("From", { exact: true });
    const to = page.getByLabel("to", { exact: true });
    expect(await from.getAttribute("type")).toBe("text");
    expect(await from.inputValue()).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}$/);
    expect(await page.locator('input[type="date"], input[type="datetime-local"]').count()).toBe(0);
    await page.screenshot({ path: join(shots, "daily-custom-range-1280.png") });

    const iso = (ms: number) => new Date(ms).toISOString().slice(0, 16).replace("T", " ");
    const before = page.url();
    await from.fill(iso(NOW - 170 * MIN));
    await to.fill(iso(NOW - 190 * MIN));
    await page.getByRole("button", { name: "Apply range" }).click();
    expect(await page.getByRole("alert").filter({ hasText: "before the end" }).textContent()).toBe("The start must be before the end.");
    await from.fill("03/01/2026 2:30 PM");
    await page.getByRole("button", { name: "Apply range" }).click();
    expect(await page.getByRole("alert").filter({ hasText: "start is not" }).textContent()).toContain("like 2026-03-01 14:30");
    expect(page.url()).toBe(before);

    await from.fill(iso(NOW - 190 * MIN));
    await to.fill(iso(NOW - 170 * MIN));
    await Promise.all([page.waitForURL(/range=/), page.getByRole("button", { name: "Apply range" }).click()]);
    const range = new URL(page.url()).searchParams.get("range")!;
    expect(range).toBe(`${iso(NOW - 190 * MIN).replace(" ", "T")}Z/${iso(NOW - 170 * MIN).replace(" ", "T")}Z`);
    await expect.poll(() => listed(page)).toEqual([ids.old]);
    expect(await page.locator(".page-header p").textContent()).toContain(`${iso(NOW - 190 * MIN)} – `);

    // The sidebar keeps the range: the agents and conversations pages read it too.
    for (const [link, path] of [["Agents", "/agents"], ["Conversations", "/conversations"]] as const) {
      await Promise.all([page.waitForURL(`**${path}?**`), page.getByRole("link", { name: link, exact: true }).click()]);
      expect(new URL(page.url()).searchParams.get("range")).toBe(range);
      expect(await page.getByLabel("Time range", { exact: true }).inputValue()).toBe("custom");
      expect(await page.getByLabel("From", { exact: true }).inputValue()).toBe(iso(NOW - 190 * MIN));
    }
    expect(await page.textContent("main")).toContain("No conversations in this range");
    expect(problems).toEqual([]);
    await page.context().close();
  });
});

describe("a trace's waterfall", () => {
  it("keeps the selected span in the URL, and a link to it opens it again", async () => {
    const { page, problems } = await signedIn();
    const { traces } = await api<TraceSearchResponse>(keys.acme, "/api/v1/traces");
    const research = traces.filter((t) => t.agentTypes.includes("researcher")).sort((a, b) => b.spanCount - a.spanCount)[0]!;
    await page.goto(`${stack!.consoleUrl}/traces/${research.traceId}`);
    await hydrated(page);
    const waterfall = page.getByTestId("waterfall");
    await waterfall.waitFor();
    expect(await waterfall.locator("details").count()).toBe(research.spanCount);

    // Full names where they fit, and the whole story in the tooltip where they do not.
    const chats = waterfall.locator('summary[title*="agent researcher"]', { hasText: `chat ${MODEL}` });
    expect(await chats.count()).toBeGreaterThan(3);
    const cut = await waterfall.locator(".wf-name-text").evaluateAll((els) => els.filter((e) => e.scrollWidth > e.clientWidth + 1).map((e) => e.textContent));
    expect(cut).toEqual([]);
    expect(await chats.last().getAttribute("title")).toMatch(new RegExp(`^chat ${MODEL} · model ${MODEL} · agent researcher · `));

    await chats.last().click();
    const chosen = await chats.last().getAttribute("data-span-id");
    await expect.poll(() => new URL(page.url()).searchParams.get("span")).toBe(chosen);
    await page.locator(`#span-${chosen}`).getByTestId("span-panel").waitFor();
    await page.screenshot({ path: join(shots, "daily-trace-span-selected-1280.png"), fullPage: true });

    await page.reload();
    await hydrated(page);
    await page.locator(`#span-${chosen}`).getByTestId("span-panel").waitFor();
    expect(await page.locator(`#span-${chosen}`).getAttribute("open")).not.toBeNull();
    // Closing it takes it out of the URL.
    await page.locator(`#span-${chosen} > summary`).click();
    await expect.poll(() => new URL(page.url()).searchParams.has("span")).toBe(false);
    expect(problems).toEqual([]);
    await page.context().close();
  });

  it("moves, opens, collapses and expands with the keyboard; a toggle collapses a subtree", async () => {
    const { page, problems } = await signedIn();
    await page.goto(`${stack!.consoleUrl}/traces/${ids.zoom}`);
    await hydrated(page);
    const waterfall = page.getByTestId("waterfall");
    await waterfall.waitFor();
    const rows = () => waterfall.locator("details").evaluateAll((els) => els.map((e) => e.getAttribute("data-span-name")));
    const focused = () => page.evaluate(() => (document.activeElement as HTMLElement | null)?.dataset.spanId ?? null);
    expect(await rows()).toEqual(["process zoomer", "execute_tool early", "invoke_agent late", "execute_tool late-child"]);

    await page.keyboard.press("j");
    expect(await focused()).toBe(zoomSpans.root);
    await page.keyboard.press("ArrowDown");
    await page.keyboard.press("ArrowDown");
    expect(await focused()).toBe(zoomSpans.late);
    await page.keyboard.press("Enter");
    await expect.poll(() => new URL(page.url()).searchParams.get("span")).toBe(zoomSpans.late);
    expect(await page.locator(`#span-${zoomSpans.late}`).getByTestId("span-panel").isVisible()).toBe(true);
    await page.keyboard.press("Escape");
    await expect.poll(() => new URL(page.url()).searchParams.has("span")).toBe(false);

    // ← collapses the focused span's subtree (and says how much it hides), → brings it back.
    await page.keyboard.press("ArrowLeft");
    expect(await rows()).toEqual(["process zoomer", "execute_tool early", "invoke_agent late"]);
    expect(await waterfall.getByTestId("hidden-count").textContent()).toBe("+1");
    await page.keyboard.press("ArrowLeft");
    expect(await focused()).toBe(zoomSpans.root);
    await page.keyboard.press("ArrowLeft");
    expect(await rows()).toEqual(["process zoomer"]);
    expect(await waterfall.getByTestId("hidden-count").textContent()).toBe("+3");
    await page.keyboard.press("ArrowRight");
    expect(await rows()).toEqual(["process zoomer", "execute_tool early", "invoke_agent late"]);
    await page.keyboard.press("ArrowRight");
    expect(await focused()).toBe(zoomSpans.early);
    await page.getByRole("button", { name: "Expand all" }).click();
    expect(await rows()).toHaveLength(4);

    await page.getByRole("button", { name: "Collapse invoke_agent late" }).click();
    expect(await rows()).toEqual(["process zoomer", "execute_tool early", "invoke_agent late"]);
    // The toggle does not open the span.
    expect(new URL(page.url()).searchParams.has("span")).toBe(false);
    expect(problems).toEqual([]);
    await page.context().close();
  });

  it("zooms the timeline with buttons and by dragging across the time axis, and resets", async () => {
    const { page, problems } = await signedIn({ width: 1440 });
    await page.goto(`${stack!.consoleUrl}/traces/${ids.zoom}`);
    await hydrated(page);
    const bar = (spanId: string) => page.locator(`#span-${spanId} .wf-bar`);
    const placement = async (spanId: string) => {
      const b = bar(spanId);
      if ((await b.count()) === 0) return null;
      return b.evaluate((el): [number, number] => [Math.round(parseFloat((el as HTMLElement).style.left)), Math.round(parseFloat((el as HTMLElement).style.width))]);
    };
    expect(await page.getByTestId("timeline-window").textContent()).toBe("Whole trace · 1.00 s");
    expect(await placement(zoomSpans.late)).toEqual([80, 20]);

    await page.getByRole("button", { name: "Zoom in" }).click();
    expect(await page.getByTestId("timeline-window").textContent()).toBe("Showing 250 ms – 750 ms of 1.00 s");
    expect(await placement(zoomSpans.early)).toBeNull();
    expect(await placement(zoomSpans.root)).toEqual([0, 100]);
    await page.getByRole("button", { name: "Reset zoom" }).click();
    expect(await page.getByTestId("timeline-window").textContent()).toBe("Whole trace · 1.00 s");

    // Drag from 75% to the end of the axis: the last quarter fills the track.
    const ruler = await page.getByTestId("timeline-ruler").boundingBox();
    const y = ruler!.y + ruler!.height / 2;
    await page.mouse.move(ruler!.x + ruler!.width * 0.75, y);
    await page.mouse.down();
    await page.mouse.move(ruler!.x + ruler!.width * 0.9, y, { steps: 4 });
    await page.mouse.move(ruler!.x + ruler!.width, y, { steps: 4 });
    await page.mouse.up();
    expect(await page.getByTestId("timeline-window").textContent()).toMatch(/^Showing 7\d\d ms – 1\.00 s of 1\.00 s$/);
    expect(await placement(zoomSpans.early)).toBeNull();
    const late = (await placement(zoomSpans.late))!;
    expect(late[0]).toBeGreaterThanOrEqual(15);
    expect(late[0]).toBeLessThanOrEqual(22);
    expect(Math.abs(late[0] + late[1] - 100)).toBeLessThanOrEqual(1);
    await page.screenshot({ path: join(shots, "daily-trace-zoomed-1440.png"), fullPage: true });

    await page.keyboard.press("0");
    expect(await page.getByTestId("timeline-window").textContent()).toBe("Whole trace · 1.00 s");
    await page.keyboard.press("+");
    expect(await page.getByTestId("timeline-window").textContent()).toBe("Showing 250 ms – 750 ms of 1.00 s");
    expect(problems).toEqual([]);
    await page.context().close();
  });
});

describe("conversations", () => {
  it("groups the tenant's traces by gen_ai.conversation.id, the runtime's included, with each conversation's traces", async () => {
    const { page, problems } = await signedIn();
    await Promise.all([page.waitForURL("**/conversations**"), page.getByRole("link", { name: "Conversations", exact: true }).click()]);
    const table = page.getByTestId("conversations-table");
    await table.waitFor();
    const text = (await table.textContent())!;
    expect(text).not.toContain("globex");
    const { conversations } = await api<ConversationsResponse>(keys.acme, "/api/v1/conversations?from=" + (NOW - 24 * 60 * MIN));
    expect(conversations).toHaveLength(4);
    for (const c of conversations) expect(text).toContain(c.conversationId);
    const research = conversations.filter((c) => c.conversationId !== ODD_CONVERSATION);
    expect(research.every((c) => c.traceCount === 2 && c.agentTypes.join() === "researcher" && c.inputTokens > 0)).toBe(true);
    await page.screenshot({ path: join(shots, "daily-conversations-1280.png"), fullPage: true });

    // One of the researcher's conversations: its two traces.
    const first = research[0]!;
    await Promise.all([page.waitForURL("**/conversations/**"), table.getByRole("link", { name: first.conversationId }).click()]);
    expect(await page.getByTestId("conversation-id").textContent()).toBe(first.conversationId);
    expect(await page.getByTestId("conversation-traces").textContent()).toMatch(/^Traces2researcher/);
    expect(await page.getByTestId("conversation-tokens").textContent()).toContain((first.inputTokens + first.outputTokens).toLocaleString("en-US"));
    const own = await api<TraceSearchResponse>(keys.acme, `/api/v1/traces?attr=${encodeURIComponent(`gen_ai.conversation.id=${first.conversationId}`)}`);
    expect((await listed(page, "conversation-traces-table")).sort()).toEqual(own.traces.map((t: TraceSummary) => t.traceId).sort());
    await page.screenshot({ path: join(shots, "daily-conversation-1280.png"), fullPage: true });
    await Promise.all([page.waitForURL("**/traces?**"), page.getByRole("link", { name: "Open in Traces" }).click()]);
    expect(await listed(page)).toHaveLength(2);

    // An id that needs encoding survives the round trip through the URL.
    await page.goto(`${stack!.consoleUrl}/conversations`);
    await Promise.all([page.waitForURL("**/conversations/**"), page.getByTestId("conversations-table").getByRole("link", { name: ODD_CONVERSATION }).click()]);
    expect(await page.getByTestId("conversation-id").textContent()).toBe(ODD_CONVERSATION);
    expect(await listed(page, "conversation-traces-table")).toEqual([ids.odd]);
    expect(problems).toEqual([]);
    await page.context().close();
  });
});

describe("dark mode", () => {
  it("follows the system setting; the list, the waterfall and the charts stay readable in both schemes", async () => {
    const { traces } = await api<TraceSearchResponse>(keys.acme, "/api/v1/traces");
    const research = traces.filter((t) => t.agentTypes.includes("researcher")).sort((a, b) => b.spanCount - a.spanCount)[0]!;
    const expected = {
      light: { body: "rgb(245, 246, 250)", surface: "rgb(255, 255, 255)", text: "rgb(16, 24, 40)", llm: "rgb(168, 85, 247)" },
      dark: { body: "rgb(11, 17, 32)", surface: "rgb(17, 24, 39)", text: "rgb(229, 231, 235)", llm: "rgb(192, 132, 252)", grid: "rgb(36, 48, 71)" },
    };
    for (const scheme of ["light", "dark"] as const) {
      for (const width of [1280, 1440]) {
        const { page, problems } = await signedIn({ width, colorScheme: scheme });
        // The overview's charts: grid lines and axis labels take the scheme's colours.
        await page.waitForSelector(".recharts-cartesian-grid line", { state: "attached" });
        const grid = await page.locator(".recharts-cartesian-grid line").first().evaluate((el) => getComputedStyle(el).stroke);
        if (scheme === "dark") expect(grid).toBe(expected.dark.grid);
        else expect(grid).not.toBe(expected.dark.grid);
        if (width === 1440) await page.screenshot({ path: join(shots, `daily-overview-${scheme}-${width}.png`), fullPage: true });

        await page.goto(`${stack!.consoleUrl}/traces`);
        await page.getByTestId("traces-table").waitFor();
        expect(await page.evaluate(() => getComputedStyle(document.body).backgroundColor)).toBe(expected[scheme].body);
        expect(await page.locator(".card").first().evaluate((el) => getComputedStyle(el).backgroundColor)).toBe(expected[scheme].surface);
        expect(await page.locator(".trace-link").first().evaluate((el) => getComputedStyle(el.closest("td")!).color)).toBe(expected[scheme].text);
        await page.screenshot({ path: join(shots, `daily-traces-${scheme}-${width}.png`), fullPage: true });

        await page.goto(`${stack!.consoleUrl}/traces/${research.traceId}`);
        await hydrated(page);
        await page.getByTestId("waterfall").waitFor();
        expect(await page.locator(".wf-bar.llm").first().evaluate((el) => getComputedStyle(el).backgroundColor)).toBe(expected[scheme].llm);
        await page.getByTestId("waterfall").locator("summary", { hasText: `chat ${MODEL}` }).first().click();
        await page.getByTestId("span-panel").waitFor();
        await page.screenshot({ path: join(shots, `daily-trace-${scheme}-${width}.png`), fullPage: true });
        expect(problems).toEqual([]);
        await page.context().close();
      }
    }
  }, 240_000);
});
