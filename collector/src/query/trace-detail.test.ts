import { MAX_ATTRIBUTE_VALUE_LENGTH } from "@troupe/contract";
import { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ClickHouseGateway } from "../store/clickhouse-gateway.js";
import { createClickHouseSpanStore } from "../store/clickhouse-span-store.js";
import { plainSpanFields, type SpanRow } from "../store/span-row.js";
import { openTempChdb } from "../store/temp-chdb.test-helper.js";
import { createTenantRegistry } from "../tenants/tenant-registry.js";
import type { TraceDetailResponse, TraceSpan } from "@troupe/contract/query-api";
import { createQueryRoutes } from "./query-routes.js";
import { hexId, turnTrace } from "./seed-spans.test-helper.js";

// GET /api/v1/traces/{traceId} gives each span back as it was sent: typed attribute values, scope,
// trace state, flags, events and links, with links marked sameTenant only for the caller's traces.
const ADMIN = "test-admin-key-0123456789";
const NOW = Date.now();
const START_MS = NOW - 10 * 60_000;
const START_NS = `${START_MS}000000`;
let gateway: ClickHouseGateway;
let dispose: () => Promise<void>;
let app: Hono;
let acmeKey: string;
const ids = { typed: hexId(16), linked: hexId(16), old: hexId(16), globex: hexId(16), missing: hexId(16), rootSpan: hexId(8), childSpan: hexId(8) };
let seeded: { traceId: string; rows: SpanRow[] };

function span(tenantId: string, traceId: string, fields: Partial<SpanRow> = {}): SpanRow {
  return {
    tenantId, traceId, spanId: hexId(8), parentSpanId: "", name: "process planner", kind: 5, startTimeUnixNano: START_NS, durationNs: 5_000_000,
    statusCode: 0, serviceName: "svc", attributes: {}, resourceAttributes: { "service.name": "svc" }, ...plainSpanFields(), ...fields,
  };
}

async function trace(traceId: string, key = acmeKey): Promise<TraceDetailResponse> {
  const res = await app.request(`/api/v1/traces/${traceId}`, { headers: { authorization: `Bearer ${key}` } });
  expect(res.status).toBe(200);
  return (await res.json()) as TraceDetailResponse;
}

function spanOf(t: TraceDetailResponse, spanId: string): TraceSpan {
  return t.spans.find((s) => s.spanId === spanId)!;
}

beforeAll(async () => {
  ({ gateway, dispose } = await openTempChdb());
  const registry = createTenantRegistry(gateway, { adminKey: ADMIN });
  await registry.createTenant({ id: "acme" });
  await registry.createTenant({ id: "globex" });
  acmeKey = (await registry.issueKey("acme", "console")).key.secret;
  const store = createClickHouseSpanStore(gateway, { retentionDaysOf: (t) => registry.retentionDaysOf(t) });
  app = new Hono();
  app.route("/api/v1", createQueryRoutes({ gateway, authenticator: registry, now: () => NOW }));

  const root = span("acme", ids.typed, {
    spanId: ids.rootSpan,
    name: "chat gpt-4o",
    kind: 3,
    attributes: {
      "gen_ai.operation.name": "chat",
      "gen_ai.usage.input_tokens": "45",
      "gen_ai.usage.output_tokens": "9007199254740993",
      "gen_ai.request.stream": "false",
      "gen_ai.request.temperature": "0.7",
      "gen_ai.request.top_p": "NaN",
      "gen_ai.response.finish_reasons": '["stop","length"]',
      "gen_ai.request.seeds": "[1,9007199254740993]",
      "gen_ai.request.model": "m".repeat(MAX_ATTRIBUTE_VALUE_LENGTH),
      "troupe.agent.type": "planner",
    },
    attributeTypes: {
      "gen_ai.usage.input_tokens": "int",
      "gen_ai.usage.output_tokens": "int",
      "gen_ai.request.stream": "bool",
      "gen_ai.request.temperature": "double",
      "gen_ai.request.top_p": "double",
      "gen_ai.response.finish_reasons": "string[]",
      "gen_ai.request.seeds": "int[]",
      "gen_ai.request.model": "truncated",
    },
    resourceAttributes: { "service.name": "svc", "process.pid": "4242" },
    resourceAttributeTypes: { "process.pid": "int" },
    scopeName: "@troupe/runtime",
    scopeVersion: "0.1.0",
    traceState: "troupe=t61rcWkgMzE",
    flags: 0x301,
    events: [
      { timeUnixNano: `${START_MS + 2}000123`, name: "exception", attributes: { "exception.type": "TimeoutError" }, attributeTypes: {} },
      { timeUnixNano: `${START_MS + 3}000000`, name: "gen_ai.choice", attributes: { index: "0", "gen_ai.response.finish_reasons": '["stop"]' }, attributeTypes: { index: "int", "gen_ai.response.finish_reasons": "string[]" } },
    ],
    links: [
      { traceId: ids.linked, spanId: "00f067aa0ba902b7", traceState: "", flags: 1, attributes: { "messaging.batch.message_count": "3" }, attributeTypes: { "messaging.batch.message_count": "int" } },
      { traceId: ids.globex, spanId: "1111111111111111", traceState: "", flags: 1, attributes: {}, attributeTypes: {} },
      { traceId: ids.missing, spanId: "1111111111111111", traceState: "", flags: 1, attributes: {}, attributeTypes: {} },
      { traceId: ids.typed, spanId: ids.childSpan, traceState: "k=v", flags: 0, attributes: {}, attributeTypes: {} },
    ],
  });
  const child = span("acme", ids.typed, { spanId: ids.childSpan, parentSpanId: ids.rootSpan, name: "execute_tool search", startTimeUnixNano: `${START_MS + 1}000000` });
  // A span stored before types were kept: values are text and the new columns hold their defaults.
  const old = span("acme", ids.old, { attributes: { "gen_ai.usage.input_tokens": "45", "gen_ai.request.stream": "false" } });
  seeded = turnTrace({ tenantId: "acme", agentType: "planner", startMs: START_MS, durationMs: 20, inputTokens: 120, outputTokens: 7, costUsd: 0.0025, queueWaitMs: 1.5 });
  await store.insertSpans([root, child, span("acme", ids.linked), old, ...seeded.rows], "acme-1");
  await store.insertSpans([span("globex", ids.globex, { name: "process globex-secret" })], "globex-1");
});
afterAll(async () => dispose());

describe("GET /traces/:traceId gives spans back as they were sent", () => {
  it("answers each attribute with its type: numbers, booleans, arrays; ints past 2^53 as exact strings; cut values named", async () => {
    const root = spanOf(await trace(ids.typed), ids.rootSpan);
    expect(root.attributes).toStrictEqual({
      "gen_ai.operation.name": "chat",
      "gen_ai.usage.input_tokens": 45,
      "gen_ai.usage.output_tokens": "9007199254740993",
      "gen_ai.request.stream": false,
      "gen_ai.request.temperature": 0.7,
      "gen_ai.request.top_p": "NaN",
      "gen_ai.response.finish_reasons": ["stop", "length"],
      "gen_ai.request.seeds": [1, "9007199254740993"],
      "gen_ai.request.model": "m".repeat(MAX_ATTRIBUTE_VALUE_LENGTH),
      "troupe.agent.type": "planner",
    });
    expect(root.truncatedAttributes).toEqual(["gen_ai.request.model"]);
    expect(root.resourceAttributes).toStrictEqual({ "service.name": "svc", "process.pid": 4242 });
    expect(root).not.toHaveProperty("truncatedResourceAttributes");
    expect(root).toMatchObject({ scope: { name: "@troupe/runtime", version: "0.1.0" }, traceState: "troupe=t61rcWkgMzE", flags: 0x301, inputTokens: 45 });
  });

  it("answers events in order with their times (ISO and exact nanoseconds) and typed attributes", async () => {
    const root = spanOf(await trace(ids.typed), ids.rootSpan);
    expect(root.events).toStrictEqual([
      { time: new Date(START_MS + 2).toISOString(), timeUnixNano: `${START_MS + 2}000123`, name: "exception", attributes: { "exception.type": "TimeoutError" } },
      { time: new Date(START_MS + 3).toISOString(), timeUnixNano: `${START_MS + 3}000000`, name: "gen_ai.choice", attributes: { index: 0, "gen_ai.response.finish_reasons": ["stop"] } },
    ]);
  });

  it("marks a link sameTenant for the caller's own traces only: another tenant's trace reads exactly as a missing one", async () => {
    const t = await trace(ids.typed);
    const links = spanOf(t, ids.rootSpan).links;
    expect(links).toStrictEqual([
      { traceId: ids.linked, spanId: "00f067aa0ba902b7", traceState: "", flags: 1, attributes: { "messaging.batch.message_count": 3 }, sameTenant: true },
      { traceId: ids.globex, spanId: "1111111111111111", traceState: "", flags: 1, attributes: {}, sameTenant: false },
      { traceId: ids.missing, spanId: "1111111111111111", traceState: "", flags: 1, attributes: {}, sameTenant: false },
      { traceId: ids.typed, spanId: ids.childSpan, traceState: "k=v", flags: 0, attributes: {}, sameTenant: true },
    ]);
    expect(JSON.stringify(t)).not.toContain("globex-secret");
    // The linked trace answers for its tenant, the other tenant's does not.
    expect((await trace(ids.linked)).spanCount).toBe(1);
    expect((await app.request(`/api/v1/traces/${ids.globex}`, { headers: { authorization: `Bearer ${acmeKey}` } })).status).toBe(404);
  });

  it("answers spans without scope, events or links with empty ones", async () => {
    const child = spanOf(await trace(ids.typed), ids.childSpan);
    expect(child).toMatchObject({ scope: { name: "", version: "" }, traceState: "", flags: 0, events: [], links: [] });
    expect(child).not.toHaveProperty("truncatedAttributes");
  });

  it("answers values stored before types were kept as the strings they were stored as", async () => {
    const [old] = (await trace(ids.old)).spans;
    expect(old!.attributes).toStrictEqual({ "gen_ai.usage.input_tokens": "45", "gen_ai.request.stream": "false" });
    expect(old).toMatchObject({ events: [], links: [], inputTokens: 45 });
  });

  it("answers seeded runtime spans with SDK types: token counts and costs as numbers, names as strings", async () => {
    const t = await trace(seeded.traceId);
    const [turn, chat] = t.spans;
    expect(turn!.attributes).toMatchObject({ "troupe.queue.wait_ms": 1.5, "troupe.handler.wall_ms": 20, "troupe.turn.outcome": "ok" });
    expect(chat!.attributes).toMatchObject({ "gen_ai.usage.input_tokens": 120, "gen_ai.usage.output_tokens": 7, "troupe.llm.cost_usd": 0.0025, "gen_ai.request.model": "gpt-4o" });
  });
});
