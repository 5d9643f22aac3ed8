// What daily users search traces by (model, allow-listed attribute, duration window), the per-trace
// tokens and cost, in-progress traces, and conversations: through the real routes on real chDB.
import { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ClickHouseGateway, QueryParams } from "../store/clickhouse-gateway.js";
import { createClickHouseSpanStore } from "../store/clickhouse-span-store.js";
import { plainSpanFields, type SpanRow } from "../store/span-row.js";
import { openTempChdb } from "../store/temp-chdb.test-helper.js";
import { createTenantRegistry } from "../tenants/tenant-registry.js";
import type { ConversationsResponse, TraceDetailResponse, TraceSearchResponse, TraceSummary } from "@troupe/contract/query-api";
import { createQueryRoutes } from "./query-routes.js";
import { hexId, turnTrace } from "./seed-spans.test-helper.js";

const ADMIN = "test-admin-key-0123456789";
const NOW = Date.now();
const MIN = 60_000;
let gateway: ClickHouseGateway;
let dispose: () => Promise<void>;
let app: Hono;
let acmeKey: string;
let globexKey: string;
/** Every SELECT the routes sent, with its parameters (to EXPLAIN them). */
const sent: Array<{ sql: string; params: QueryParams | undefined }> = [];
const t: Record<string, string> = {};

function span(tenantId: string, traceId: string, name: string, startMs: number, durationMs: number, attributes: Record<string, string>, fields: Partial<SpanRow> = {}): SpanRow {
  return {
    tenantId, traceId, spanId: hexId(8), parentSpanId: "", name, kind: 1, startTimeUnixNano: `${startMs}000000`, durationNs: durationMs * 1e6, statusCode: 0,
    serviceName: "svc", resourceAttributes: { "service.name": "svc" }, ...plainSpanFields(), attributes: { "troupe.tenant.id": tenantId, ...attributes }, ...fields,
  };
}

function chat(tenantId: string, traceId: string, parentSpanId: string, startMs: number, model: string, tokens: [number, number], costUsd: number, extra: Record<string, string> = {}): SpanRow {
  return span(tenantId, traceId, `chat ${model}`, startMs, 10, {
    "gen_ai.operation.name": "chat", "gen_ai.request.model": model, "gen_ai.usage.input_tokens": String(tokens[0]), "gen_ai.usage.output_tokens": String(tokens[1]), "troupe.llm.cost_usd": String(costUsd), ...extra,
  }, { parentSpanId, kind: 3 });
}

async function get<T>(path: string, key = acmeKey): Promise<{ status: number; body: T }> {
  const res = await app.request(path, { headers: { authorization: `Bearer ${key}` } });
  return { status: res.status, body: (await res.json()) as T };
}

async function traces(query: string, key = acmeKey): Promise<TraceSummary[]> {
  const r = await get<TraceSearchResponse>(`/api/v1/traces?${query}`, key);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body.traces;
}

beforeAll(async () => {
  ({ gateway, dispose } = await openTempChdb());
  const spy: ClickHouseGateway = Object.assign(Object.create(gateway) as ClickHouseGateway, {
    query: <T>(sql: string, params?: QueryParams) => {
      sent.push({ sql, params });
      return gateway.query<T>(sql, params);
    },
  });
  const registry = createTenantRegistry(gateway, { adminKey: ADMIN });
  await registry.createTenant({ id: "acme" });
  await registry.createTenant({ id: "globex" });
  acmeKey = (await registry.issueKey("acme", "console")).key.secret;
  globexKey = (await registry.issueKey("globex", "console")).key.secret;
  app = new Hono();
  app.route("/api/v1", createQueryRoutes({ gateway: spy, authenticator: registry, now: () => NOW }));
  const rows: SpanRow[] = [];

  // A planner turn on gpt-4o whose chat asked for at most 400 tokens.
  const planner = turnTrace({ tenantId: "acme", agentType: "planner", startMs: NOW - 50 * MIN, durationMs: 100, model: "gpt-4o", inputTokens: 100, outputTokens: 20, costUsd: 0.01 });
  Object.assign(planner.rows[1]!.attributes, { "gen_ai.request.max_tokens": "400" });
  t.planner = planner.traceId;
  rows.push(...planner.rows);

  // A slow coder turn on "small", with an agent span that also reports the call's usage (as some
  // instrumentations roll it up): the trace's tokens count the LLM span only.
  const coder = turnTrace({ tenantId: "acme", agentType: "coder", startMs: NOW - 45 * MIN, durationMs: 2000, model: "small", inputTokens: 1000, outputTokens: 100, costUsd: 0.002 });
  t.coder = coder.traceId;
  rows.push(...coder.rows, span("acme", coder.traceId, "invoke_agent coder", NOW - 45 * MIN + 1, 1500, { "gen_ai.operation.name": "invoke_agent", "gen_ai.usage.input_tokens": "1000", "troupe.llm.cost_usd": "0.002" }, { parentSpanId: coder.rows[0]!.spanId }));

  // Still running: its root (a local parent) has not ended, so only children arrived.
  t.running = hexId(16);
  const missingRoot = hexId(8);
  const running = span("acme", t.running, "invoke_agent writer", NOW - 5 * MIN, 300, { "gen_ai.operation.name": "invoke_agent", "troupe.agent.type": "writer" }, { parentSpanId: missingRoot, flags: 0x101 });
  rows.push(running, chat("acme", t.running, running.spanId, NOW - 5 * MIN + 10, "gpt-4o-mini", [50, 5], 0.0001));

  // Continued from a service that does not send here: its first span's parent is remote. Complete.
  t.remote = hexId(16);
  rows.push(span("acme", t.remote, "process billing", NOW - 8 * MIN, 40, { "troupe.agent.type": "billing" }, { parentSpanId: hexId(8), flags: 0x301, kind: 5 }));

  // A long trace whose root started 40 minutes ago (and ended) with a child 25 minutes ago.
  t.long = hexId(16);
  const longRoot = span("acme", t.long, "process long-job", NOW - 40 * MIN, 20 * MIN, { "troupe.agent.type": "batch" }, { kind: 5 });
  rows.push(longRoot, chat("acme", t.long, longRoot.spanId, NOW - 25 * MIN, "gpt-4o", [7, 3], 0.0007));

  // Two conversations of acme's researcher over three traces; globex reuses the id "conv-a".
  for (const [name, startMs, conversation] of [["convA1", NOW - 30 * MIN, "conv-a"], ["convA2", NOW - 20 * MIN, "conv-a"], ["convB", NOW - 15 * MIN, "conv-b"]] as const) {
    const turn = turnTrace({ tenantId: "acme", agentType: "researcher", startMs, durationMs: 50, noLlm: true });
    t[name] = turn.traceId;
    rows.push(...turn.rows, chat("acme", turn.traceId, turn.rows[0]!.spanId, startMs + 1, "gpt-4o-mini", [200, 30], 0.0003, { "gen_ai.conversation.id": conversation }));
  }
  const store = createClickHouseSpanStore(gateway);
  await store.insertSpans(rows, "acme-1");
  await store.insertSpans(rows, "acme-1-resent");
  const g = turnTrace({ tenantId: "globex", agentType: "spy", startMs: NOW - 12 * MIN, durationMs: 10, noLlm: true });
  t.globex = g.traceId;
  await store.insertSpans([...g.rows, chat("globex", g.traceId, g.rows[0]!.spanId, NOW - 12 * MIN, "gpt-4o", [9999, 1], 9, { "gen_ai.conversation.id": "conv-a" })], "globex-1");
});
afterAll(async () => dispose());

describe("trace search filters", () => {
  it("by model: traces with an LLM span of that model", async () => {
    expect((await traces("model=small")).map((x) => x.traceId)).toEqual([t.coder]);
    expect((await traces("model=gpt-4o")).map((x) => x.traceId)).toEqual([t.long, t.planner]);
    expect(await traces("model=gpt-4")).toEqual([]);
  });

  it("by allow-listed attribute key=value, matched on its text; several are ANDed", async () => {
    expect((await traces("attr=gen_ai.request.max_tokens=400")).map((x) => x.traceId)).toEqual([t.planner]);
    expect((await traces(`attr=${encodeURIComponent("gen_ai.conversation.id=conv-a")}`)).map((x) => x.traceId)).toEqual([t.convA2, t.convA1]);
    expect((await traces("attr=troupe.agent.type=planner&attr=gen_ai.request.max_tokens=400")).map((x) => x.traceId)).toEqual([t.planner]);
    expect(await traces("attr=troupe.agent.type=coder&attr=gen_ai.request.max_tokens=400")).toEqual([]);
    // A value holding "=" and SQL text is a value like any other.
    expect(await traces(`attr=${encodeURIComponent("troupe.agent.type=x' OR 1=1 --")}`)).toEqual([]);
  });

  it("an attribute key that is not allow-listed is a 400 naming it; so is a malformed or excessive filter", async () => {
    const unknown = await get<{ error: { code: string; message: string } }>("/api/v1/traces?attr=user.email=a@b.c");
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.message).toBe(`invalid parameter "attr": "user.email" is not an allow-listed span attribute`);
    for (const bad of ["attr=troupe.agent.type", "attr=troupe.agent.type=", `attr=troupe.agent.type=${"x".repeat(257)}`, "attr=%3Dplanner", Array.from({ length: 6 }, () => "attr=troupe.agent.type=a").join("&")]) {
      const r = await get<{ error: { message: string } }>(`/api/v1/traces?${bad}`);
      expect(r.status, bad.slice(0, 60)).toBe(400);
      expect(r.body.error.message).toContain('"attr"');
    }
  });

  it("by a duration window: a maximum beside the minimum, never below it", async () => {
    const ids = async (q: string) => (await traces(q)).map((x) => x.traceId);
    expect(await ids("maxDurationMs=100")).toEqual(expect.arrayContaining([t.planner, t.remote]));
    expect(await ids("maxDurationMs=100")).not.toContain(t.coder);
    expect(await ids("minDurationMs=1000&maxDurationMs=2000")).toEqual([t.coder]);
    const reversed = await get<{ error: { message: string } }>("/api/v1/traces?minDurationMs=10&maxDurationMs=5");
    expect(reversed.status).toBe(400);
    expect(reversed.body.error.message).toMatch(/"maxDurationMs"/);
  });

  it("filters combine with the tenant scope: another tenant's matching spans never show", async () => {
    expect(await traces("model=gpt-4o", globexKey).then((r) => r.map((x) => x.traceId))).toEqual([t.globex]);
    expect((await traces(`attr=${encodeURIComponent("gen_ai.conversation.id=conv-a")}`, globexKey)).map((x) => x.traceId)).toEqual([t.globex]);
  });
});

describe("per-trace tokens, cost and progress", () => {
  it("sums tokens and cost over the trace's LLM spans only, once per span however often it was sent", async () => {
    const all = await traces("");
    const coder = all.find((x) => x.traceId === t.coder)!;
    expect(coder).toMatchObject({ inputTokens: 1000, outputTokens: 100, costUsd: 0.002, inProgress: false });
    expect(all.find((x) => x.traceId === t.planner)).toMatchObject({ inputTokens: 100, outputTokens: 20, costUsd: 0.01 });
    expect(all.find((x) => x.traceId === t.remote)).toMatchObject({ inputTokens: 0, outputTokens: 0, costUsd: 0 });
    const detail = (await get<TraceDetailResponse>(`/api/v1/traces/${t.coder}`)).body;
    expect(detail).toMatchObject({ llmCalls: 1, inputTokens: 1000, outputTokens: 100, costUsd: 0.002, inProgress: false });
  });

  it("marks a trace whose root has not arrived as in progress, in the list and in detail; a remote parent is not a missing root", async () => {
    const all = await traces("");
    expect(all.filter((x) => x.inProgress).map((x) => x.traceId)).toEqual([t.running]);
    expect(all.find((x) => x.traceId === t.running)).toMatchObject({ rootName: "invoke_agent writer", spanCount: 2, inputTokens: 50 });
    expect(all.find((x) => x.traceId === t.remote)).toMatchObject({ rootName: "process billing", inProgress: false });
    expect((await get<TraceDetailResponse>(`/api/v1/traces/${t.running}`)).body.inProgress).toBe(true);
    expect((await get<TraceDetailResponse>(`/api/v1/traces/${t.remote}`)).body.inProgress).toBe(false);
    expect((await get<TraceDetailResponse>(`/api/v1/traces/${t.planner}`)).body.inProgress).toBe(false);
  });

  it("a trace whose root started before the range is complete, named and timed by that root", async () => {
    const r = await traces(`from=${NOW - 30 * MIN}&to=${NOW}`);
    const long = r.find((x) => x.traceId === t.long)!;
    expect(long).toMatchObject({ rootName: "process long-job", inProgress: false, startTime: new Date(NOW - 40 * MIN).toISOString(), spanCount: 1 });
    expect(long.durationMs).toBe(20 * MIN);
  });
});

describe("GET /conversations", () => {
  it("groups the tenant's traces by gen_ai.conversation.id, most recently active first, with tokens and cost", async () => {
    const r = await get<ConversationsResponse>("/api/v1/conversations");
    expect(r.status).toBe(200);
    expect(r.body.truncated).toBe(false);
    expect(r.body.conversations.map((c) => c.conversationId)).toEqual(["conv-b", "conv-a"]);
    expect(r.body.conversations[1]).toEqual({
      conversationId: "conv-a",
      traceCount: 2,
      firstTime: new Date(NOW - 30 * MIN + 1).toISOString(),
      lastTime: new Date(NOW - 20 * MIN + 11).toISOString(),
      agentTypes: [],
      llmCalls: 2,
      inputTokens: 400,
      outputTokens: 60,
      costUsd: 0.0006,
      errorCount: 0,
    });
    const limited = await get<ConversationsResponse>("/api/v1/conversations?limit=1");
    expect(limited.body).toMatchObject({ truncated: true, conversations: [{ conversationId: "conv-b" }] });
    const earlier = await get<ConversationsResponse>(`/api/v1/conversations?from=${NOW - 60 * MIN}&to=${NOW - 25 * MIN}`);
    expect(earlier.body.conversations).toMatchObject([{ conversationId: "conv-a", traceCount: 1 }]);
    const one = await get<ConversationsResponse>("/api/v1/conversations?id=conv-a");
    expect(one.body.conversations).toEqual([r.body.conversations[1]]);
    expect((await get<ConversationsResponse>(`/api/v1/conversations?id=${encodeURIComponent("conv-a' OR '1'='1")}`)).body.conversations).toEqual([]);
  });

  it("is tenant-scoped: the same conversation id of another tenant is that tenant's alone", async () => {
    const g = await get<ConversationsResponse>("/api/v1/conversations", globexKey);
    expect(g.body.conversations).toMatchObject([{ conversationId: "conv-a", traceCount: 1, inputTokens: 9999 }]);
    expect((await get<ConversationsResponse>("/api/v1/conversations?tenant=globex")).status).toBe(403);
    expect((await get<ConversationsResponse>("/api/v1/conversations?tenant=acme", ADMIN)).body.conversations).toHaveLength(2);
    expect((await get("/api/v1/conversations", ADMIN)).status).toBe(400);
    expect((await get("/api/v1/conversations?limit=0")).status).toBe(400);
  });
});

describe("the queries read through the spans sort key", () => {
  it("every search, root lookup and conversation query selects granules by tenant and hour", async () => {
    sent.length = 0;
    await traces(`model=small&attr=troupe.agent.type=coder&maxDurationMs=5000`);
    await traces(`from=${NOW - 30 * MIN}&to=${NOW}`);
    await get("/api/v1/conversations");
    const selects = sent.filter((q) => /FROM spans/.test(q.sql));
    expect(selects.length).toBeGreaterThanOrEqual(4);
    for (const q of selects) {
      const plan = (await gateway.query<{ explain: string }>(`EXPLAIN indexes = 1 ${q.sql}`, q.params)).map((r) => r.explain).join("\n");
      const primaryKey = plan.slice(plan.indexOf("PrimaryKey"));
      expect(primaryKey, plan).toMatch(/Keys:\s*\n\s*tenant_id\s*\n\s*toStartOfHour\(start_time\)/);
      expect(q.sql).toContain("tenant_id = {tenant:String}");
    }
  });
});
