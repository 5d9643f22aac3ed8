// The console's span panel in a real browser: `next start` against a real collector (chDB) holding a
// trace whose span has typed attributes, scope, flags, an event and links (one to a trace of the same
// tenant, one to another tenant's), driven by playwright-core on Debian's chromium.
import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Page } from "playwright-core";
import { createClickHouseSpanStore, loadCollectorConfig, plainSpanFields, startCollector, type RunningCollector, type SpanRow } from "@troupe/collector";
import { MAX_ATTRIBUTE_VALUE_LENGTH } from "@troupe/runtime";
import { startConsoleInBrowser, type ConsoleInBrowser } from "./support/console-in-browser.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const shots = join(root, "test-results", "screenshots");
const ADMIN_KEY = `trp_admin_${randomBytes(18).toString("base64url")}`;
const hex = (bytes: number) => randomBytes(bytes).toString("hex");
const ids = { trace: hex(16), turn: hex(8), chat: hex(8), linked: hex(16), linkedSpan: hex(8), globex: hex(16), globexSpan: hex(8) };
const START_MS = Date.now() - 5 * 60_000;

let dir: string;
let collector: RunningCollector;
let stack: ConsoleInBrowser | undefined;
let acmeConsoleKey = "";

function span(tenantId: string, traceId: string, spanId: string, name: string, fields: Partial<SpanRow> = {}): SpanRow {
  return {
    tenantId, traceId, spanId, parentSpanId: "", name, kind: 5, startTimeUnixNano: `${START_MS}000000`, durationNs: 40_000_000, statusCode: 1,
    serviceName: `${tenantId}-app`, resourceAttributes: { "service.name": `${tenantId}-app` }, ...plainSpanFields(), attributes: { "troupe.tenant.id": tenantId }, ...fields,
  };
}

beforeAll(async () => {
  mkdirSync(shots, { recursive: true });
  dir = await mkdtemp(join(tmpdir(), "troupe-span-panel-"));
  collector = await startCollector({ ...loadCollectorConfig({ TROUPE_DATA_DIR: dir, TROUPE_ADMIN_KEY: ADMIN_KEY }), port: 0, host: "127.0.0.1" });
  for (const id of ["acme", "globex"]) {
    const res = await fetch(`${collector.url}/api/v1/admin/tenants`, { method: "POST", headers: { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" }, body: JSON.stringify({ id }) });
    expect(res.status).toBe(201);
    const body = (await res.json()) as { keys: Array<{ kind: string; secret: string }> };
    if (id === "acme") acmeConsoleKey = body.keys.find((k) => k.kind === "console")!.secret;
  }
  // The spans as ingest stores them from an SDK export (types, scope, flags, an event, links).
  const store = createClickHouseSpanStore(collector.gateway);
  await store.insertSpans([
    span("acme", ids.trace, ids.turn, "process planner", { attributes: { "troupe.tenant.id": "acme", "troupe.agent.type": "planner" } }),
    span("acme", ids.trace, ids.chat, "chat gpt-4o", {
      parentSpanId: ids.turn,
      kind: 3,
      startTimeUnixNano: `${START_MS + 1}000000`,
      durationNs: 30_000_000,
      attributes: {
        "troupe.tenant.id": "acme",
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.usage.input_tokens": "45",
        "gen_ai.request.stream": "false",
        "gen_ai.request.temperature": "0.7",
        "gen_ai.response.finish_reasons": '["stop","length"]',
        "gen_ai.response.id": "r".repeat(MAX_ATTRIBUTE_VALUE_LENGTH),
      },
      attributeTypes: { "gen_ai.usage.input_tokens": "int", "gen_ai.request.stream": "bool", "gen_ai.request.temperature": "double", "gen_ai.response.finish_reasons": "string[]", "gen_ai.response.id": "truncated" },
      scopeName: "@troupe/runtime",
      scopeVersion: "0.1.0",
      traceState: "troupe=t61rcWkgMzE",
      flags: 0x301,
      events: [{ timeUnixNano: `${START_MS + 3}000000`, name: "exception", attributes: { "exception.type": "TimeoutError" }, attributeTypes: {} }],
      links: [
        { traceId: ids.linked, spanId: ids.linkedSpan, traceState: "", flags: 1, attributes: { "messaging.batch.message_count": "3" }, attributeTypes: { "messaging.batch.message_count": "int" } },
        { traceId: ids.globex, spanId: ids.globexSpan, traceState: "", flags: 1, attributes: {}, attributeTypes: {} },
      ],
    }),
    span("acme", ids.linked, ids.linkedSpan, "process reviewer"),
  ], "acme-1");
  await store.insertSpans([span("globex", ids.globex, ids.globexSpan, "process globex-secret-agent")], "globex-1");
  // test/global-setup.ts built the console before any test file ran.
  stack = await startConsoleInBrowser(collector.url);
}, 300_000);

afterAll(async () => {
  await stack?.close();
  await collector?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
}, 60_000);

async function signedInPage(): Promise<{ page: Page; problems: string[] }> {
  const ctx = await stack!.browser.newContext({ viewport: { width: 1440, height: 960 } });
  const page = await ctx.newPage();
  const problems: string[] = [];
  page.on("pageerror", (e) => problems.push(e.message));
  // What the CSP refused (an inline script or style the page should not have), and script errors.
  page.on("console", (m) => {
    if (m.type() === "error" && /Content Security Policy|Refused to/i.test(m.text())) problems.push(m.text());
  });
  await page.goto(`${stack!.consoleUrl}/sign-in`);
  await page.getByLabel("Console key or admin key").fill(acmeConsoleKey);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(`${stack!.consoleUrl}/`);
  return { page, problems };
}

describe("the span panel in a real browser", () => {
  it("shows typed attributes, scope, flags, the event and links; a link opens the same tenant's trace at the linked span, another tenant's is not a link", async () => {
    const { page, problems } = await signedInPage();
    await page.goto(`${stack!.consoleUrl}/traces/${ids.trace}`);
    const waterfall = page.getByTestId("waterfall");
    await waterfall.waitFor();
    await waterfall.locator("summary", { hasText: "chat gpt-4o" }).click();
    const panel = page.locator(`#span-${ids.chat}`).getByTestId("span-panel");
    await panel.waitFor();

    // Values as they were sent: a number, a boolean, a double, a list, and a truncated marker.
    const value = (key: string) => panel.locator(`dd[data-attribute="${key}"]`);
    expect(await value("gen_ai.usage.input_tokens").locator("[data-type]").first().getAttribute("data-type")).toBe("number");
    expect(await value("gen_ai.usage.input_tokens").textContent()).toBe("45");
    expect(await value("gen_ai.request.stream").locator("[data-type]").first().getAttribute("data-type")).toBe("boolean");
    expect(await value("gen_ai.request.stream").textContent()).toBe("false");
    expect(await value("gen_ai.request.temperature").textContent()).toBe("0.7");
    expect(await value("gen_ai.response.finish_reasons").locator("li").allTextContents()).toEqual(["stop", "length"]);
    expect(await value("gen_ai.request.model").locator("[data-type]").first().getAttribute("data-type")).toBe("string");
    expect(await value("gen_ai.response.id").textContent()).toContain("truncated");
    expect(await value("gen_ai.request.model").textContent()).not.toContain("truncated");

    const text = (await panel.textContent())!;
    expect(text).toContain("@troupe/runtime@0.1.0");
    expect(text).toContain("troupe=t61rcWkgMzE");
    expect(text).toContain("sampled · remote (0x301)");

    // The event: its offset from the span start, name and attributes.
    const event = panel.getByTestId("span-event");
    expect(await event.count()).toBe(1);
    expect(await event.textContent()).toMatch(/^\+2\.00 msexception/);
    expect(await event.locator('dd[data-attribute="exception.type"]').textContent()).toBe("TimeoutError");

    // The links: the same tenant's trace is a link, the other tenant's plain text.
    const links = panel.getByTestId("span-link");
    expect(await links.count()).toBe(2);
    const own = links.nth(0).getByTestId("span-link-target");
    const foreign = links.nth(1).getByTestId("span-link-target");
    expect(await own.evaluate((el) => el.tagName)).toBe("A");
    expect(await own.getAttribute("href")).toBe(`/traces/${ids.linked}?span=${ids.linkedSpan}#span-${ids.linkedSpan}`);
    expect(await links.nth(0).locator('dd[data-attribute="messaging.batch.message_count"] [data-type="number"]').textContent()).toBe("3");
    expect(await foreign.evaluate((el) => el.tagName)).toBe("SPAN");
    expect(await foreign.textContent()).toContain(ids.globex);
    expect(await page.locator(`a[href*="${ids.globex}"]`).count()).toBe(0);
    expect(await page.textContent("body")).not.toContain("globex-secret-agent");
    await page.locator(`#span-${ids.chat}`).screenshot({ path: join(shots, "span-01-panel.png") });

    // Following the link lands on the linked trace with the linked span's panel open.
    await own.click();
    await page.waitForURL((url) => url.pathname === `/traces/${ids.linked}`);
    expect(await page.getByTestId("trace-id").textContent()).toBe(ids.linked);
    const linked = page.locator(`#span-${ids.linkedSpan}`);
    expect(await linked.getAttribute("open")).not.toBeNull();
    expect(await linked.getByTestId("span-panel").isVisible()).toBe(true);
    await page.screenshot({ path: join(shots, "span-02-linked-trace.png"), fullPage: true });
    expect(problems).toEqual([]);
    await page.context().close();
  });
});
