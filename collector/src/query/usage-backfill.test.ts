import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createChdbGateway } from "../store/chdb-gateway.js";
import type { ClickHouseGateway } from "../store/clickhouse-gateway.js";
import { runMigrations } from "../store/migrate.js";
import { MIGRATIONS } from "../store/migrations/index.js";
import { plainSpanFields, type SpanRow } from "../store/span-row.js";
import { createTenantRegistry } from "../tenants/tenant-registry.js";
import type { UsageGroupBy, UsageResponse } from "@troupe/contract/query-api";
import { createQueryRoutes } from "./query-routes.js";
import { hexId, turnTrace } from "./seed-spans.test-helper.js";

// Issue 14, part 4: usage stored as spans before usage records existed must still appear in reports
// for its period. A store at schema 3 (spans only) gets LLM calls as the runtime stored them; the
// span-based report of that time is computed; then the schema is brought up to date, and the usage
// API (now reading usage records) must give the same figures, however often the backfill runs.

const ADMIN = "test-admin-key-backfill-0123";
const DAY = 86_400_000;
const NOW = Date.now();
const FROM = NOW - 4 * DAY;
let dir: string;
let gateway: ClickHouseGateway;
let app: Hono;
const before = new Map<UsageGroupBy, LegacyRow[]>();

/** An LLM call span as the runtime stored it before usage records (operation, outcome, status, usage). */
function llmSpan(tenantId: string, startMs: number, o: { agent?: string; model?: string; responseModel?: string; operation?: string; input?: number; output?: number; cost?: number; outcome?: string; status?: number }): SpanRow {
  const attributes: Record<string, string> = {
    "troupe.tenant.id": tenantId,
    "gen_ai.operation.name": o.operation ?? "chat",
    "gen_ai.provider.name": "openai",
    "gen_ai.request.model": o.model ?? "gpt-4o",
  };
  if (o.agent !== undefined) attributes["troupe.agent.type"] = o.agent;
  if (o.responseModel !== undefined) attributes["gen_ai.response.model"] = o.responseModel;
  if (o.input !== undefined) attributes["gen_ai.usage.input_tokens"] = String(o.input);
  if (o.output !== undefined) attributes["gen_ai.usage.output_tokens"] = String(o.output);
  if (o.cost !== undefined) attributes["troupe.llm.cost_usd"] = String(o.cost);
  if (o.outcome !== undefined) attributes["troupe.turn.outcome"] = o.outcome;
  return {
    tenantId,
    traceId: hexId(16),
    spanId: hexId(8),
    parentSpanId: hexId(8),
    name: `chat ${o.model ?? "gpt-4o"}`,
    kind: 3,
    startTimeUnixNano: (BigInt(Math.round(startMs * 1000)) * 1000n + 999n).toString(),
    durationNs: 5e6,
    statusCode: o.status ?? (o.outcome === undefined || o.outcome === "ok" ? 1 : 2),
    serviceName: "svc",
    attributes,
    resourceAttributes: { "service.name": "svc" },
    ...plainSpanFields(),
  };
}

/** Inserts spans as a store at schema 3 wrote them: that schema's columns only, the batch id as deduplication token. */
async function insertAtSchema3(rows: readonly SpanRow[], batchId: string): Promise<void> {
  const startText = (nanos: string) => {
    const ns = BigInt(nanos);
    return `${new Date(Number(ns / 1_000_000n)).toISOString().slice(0, 19).replace("T", " ")}.${(ns % 1_000_000_000n).toString().padStart(9, "0")}`;
  };
  await gateway.insert("spans", rows.map((r) => ({
    tenant_id: r.tenantId, trace_id: r.traceId, span_id: r.spanId, parent_span_id: r.parentSpanId, name: r.name, kind: r.kind,
    start_time: startText(r.startTimeUnixNano), duration_ns: r.durationNs, status_code: r.statusCode, service_name: r.serviceName,
    attributes: r.attributes, resource_attributes: r.resourceAttributes, retention_days: 30,
  })), { dedupToken: batchId });
}

interface LegacyRow {
  group: string;
  calls: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  failed: number;
  budgetRejections: number;
}

/** The usage report as it was computed from spans before usage records (the old usage query). */
async function legacyReport(groupBy: UsageGroupBy): Promise<LegacyRow[]> {
  const group = { hour: "toString(toStartOfHour(start_time))", day: "toString(toStartOfDay(start_time))", model: "attributes['gen_ai.request.model']", agent: "agent_type" }[groupBy];
  const llm = "operation IN ('chat', 'text_completion', 'generate_content', 'embeddings')";
  const rows = await gateway.query<Record<string, string | number>>(
    `SELECT ${group} AS grp, countIf(${llm}) AS calls, sumIf(input_tokens, ${llm}) AS input, sumIf(output_tokens, ${llm}) AS output,
       sumIf(cost_usd, ${llm}) AS cost, countIf(${llm} AND status_code = 2) AS failed, countIf(outcome = 'budget_rejected') AS rejected
     FROM spans FINAL
     WHERE tenant_id = 'acme' AND start_time >= fromUnixTimestamp64Milli({fromMs:Int64}, 'UTC') AND start_time < fromUnixTimestamp64Milli({toMs:Int64}, 'UTC')
       AND (${llm} OR outcome = 'budget_rejected')
     GROUP BY grp ORDER BY grp`,
    { fromMs: FROM, toMs: NOW },
  );
  return rows.map((r) => ({
    group: groupBy === "hour" || groupBy === "day" ? new Date(`${String(r.grp).replace(" ", "T")}Z`).toISOString() : String(r.grp),
    calls: Number(r.calls),
    inputTokens: Number(r.input),
    outputTokens: Number(r.output),
    costUsd: Number(r.cost),
    failed: Number(r.failed),
    budgetRejections: Number(r.rejected),
  }));
}

async function usage(groupBy: UsageGroupBy, tenant = "acme"): Promise<UsageResponse> {
  const res = await app.request(`/api/v1/usage?tenant=${tenant}&from=${FROM}&to=${NOW}&groupBy=${groupBy}`, { headers: { authorization: `Bearer ${ADMIN}` } });
  expect(res.status).toBe(200);
  return (await res.json()) as UsageResponse;
}

/** The new report's rows in the legacy shape: "failed" was every LLM span with error status. */
function asLegacy(r: UsageResponse): LegacyRow[] {
  return r.rows
    .map((x) => ({
      group: x.group,
      calls: x.calls,
      inputTokens: x.inputTokens,
      outputTokens: x.outputTokens,
      costUsd: x.costUsd,
      failed: x.errors + x.timeouts + x.rateLimited + x.budgetRejections,
      budgetRejections: x.budgetRejections,
    }))
    .sort((a, b) => a.group.localeCompare(b.group));
}

const roundCosts = (rows: LegacyRow[]) => rows.map((r) => ({ ...r, costUsd: Math.round(r.costUsd * 1e9) / 1e9 }));

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "troupe-backfill-"));
  gateway = createChdbGateway({ dataDir: dir });
  expect(await runMigrations(gateway, MIGRATIONS.slice(0, 3))).toEqual([1, 2, 3]);

  // acme over four days, as the runtime stored it: calls that succeeded, failed, were refused by
  // the budget or the rate limit, other LLM operations, a call of no agent, a provider answering
  // with a dated model; agent spans carrying usage (never counted), and a whole turn with its chat span.
  const spans: SpanRow[] = [];
  for (let d = 0; d < 4; d++) {
    const t = NOW - d * DAY - 3_600_000;
    spans.push(
      llmSpan("acme", t, { agent: "planner", input: 100 + d, output: 10, cost: 0.01, outcome: "ok" }),
      llmSpan("acme", t + 60_000, { agent: "planner", input: 200, output: 20 + d, cost: 0.02, outcome: "ok", responseModel: "gpt-4o-2024-08-06" }),
      llmSpan("acme", t + 120_000, { agent: "coder", model: "small", input: 50, output: 5, cost: 0.0001 * (d + 1), outcome: "error" }),
      llmSpan("acme", t + 180_000, { agent: "coder", model: "small", outcome: "budget_rejected" }),
      llmSpan("acme", t + 240_000, { agent: "coder", model: "small", outcome: "rate_limited" }),
      llmSpan("acme", t + 300_000, { operation: "embeddings", model: "embed", input: 1000, cost: 0.0003 }),
      llmSpan("acme", t + 360_000, { operation: "text_completion", agent: "planner", input: 7, output: 3, status: 2 }),
      { ...llmSpan("acme", t + 400_000, { agent: "planner", input: 5000, output: 5000, cost: 5 }), name: "invoke_agent planner", attributes: { "troupe.agent.type": "planner", "gen_ai.operation.name": "invoke_agent", "gen_ai.usage.input_tokens": "5000" } },
      ...turnTrace({ tenantId: "acme", agentType: "writer", startMs: t + 500_000, durationMs: 20, inputTokens: 300, outputTokens: 30, costUsd: 0.003 }).rows,
    );
  }
  // Outside the range, and another tenant.
  spans.push(llmSpan("acme", FROM - 1, { agent: "planner", input: 99_999, cost: 99 }), llmSpan("globex", NOW - 3_600_000, { agent: "spy", input: 77_777, cost: 7 }));
  // Stored, replayed as the same batch, and partly re-sent in another batch (an exporter retry).
  await insertAtSchema3(spans, "batch-1");
  await insertAtSchema3(spans, "batch-1");
  await insertAtSchema3(spans.slice(0, 20), "batch-2");

  for (const groupBy of ["day", "hour", "model", "agent"] as const) before.set(groupBy, await legacyReport(groupBy));
  expect(before.get("day")!.length).toBeGreaterThanOrEqual(4);

  expect(await runMigrations(gateway)).toEqual(MIGRATIONS.slice(3).map((m) => m.version));
  app = new Hono();
  app.route("/api/v1", createQueryRoutes({ gateway, authenticator: createTenantRegistry(gateway, { adminKey: ADMIN }), now: () => NOW }));
});

afterAll(async () => {
  await gateway?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("migration 0004 carries usage stored as spans into usage records", () => {
  it("reports the same figures per day, hour and agent as the span-based report did", async () => {
    for (const groupBy of ["day", "hour", "agent"] as const) {
      expect(roundCosts(asLegacy(await usage(groupBy))), groupBy).toEqual(roundCosts([...before.get(groupBy)!].sort((a, b) => a.group.localeCompare(b.group))));
    }
    const totals = (await usage("day")).totals;
    expect(totals).toMatchObject({ calls: 4 * 8, budgetRejections: 4, rateLimited: 4, errors: 4 * 2, cachedInputTokens: 0, reasoningTokens: 0 });
    expect(totals.inputTokens).toBe(4 * (100 + 200 + 50 + 1000 + 7 + 300) + (0 + 1 + 2 + 3));
  });

  it("groups by the requested model, as usage records do (the span view preferred the response model)", async () => {
    expect(roundCosts(asLegacy(await usage("model")))).toEqual(roundCosts([...before.get("model")!].sort((a, b) => a.group.localeCompare(b.group))));
    const groups = (await usage("model")).rows.map((r) => r.group);
    expect(groups).not.toContain("gpt-4o-2024-08-06");
  });

  it("keeps each LLM call's tenant, agent, time, outcome and span ids", async () => {
    const rows = await gateway.query<{ record_id: string; outcome: string; agent_type: string; trace_id: string; span_id: string; provider: string }>(
      "SELECT record_id, outcome, agent_type, trace_id, span_id, provider FROM usage_records FINAL WHERE tenant_id = 'acme' AND outcome = 'budget_rejected'",
    );
    expect(rows).toHaveLength(4);
    for (const r of rows) expect(r).toMatchObject({ record_id: `span:${r.trace_id}:${r.span_id}`, agent_type: "coder", provider: "openai" });
    const globex = await usage("day", "globex");
    expect(globex.totals).toMatchObject({ calls: 1, inputTokens: 77_777 });
  });

  it("counts nothing twice when the backfill runs again (a half-applied migration re-run) or the migrations run again", async () => {
    const first = await usage("hour");
    const backfill = MIGRATIONS.find((m) => m.version === 4)!.statements;
    for (const statement of backfill) await gateway.command(statement);
    expect(await runMigrations(gateway)).toEqual([]);
    expect(await usage("hour")).toEqual(first);
    const [stored] = await gateway.query<{ records: string; spans: string }>(
      `SELECT (SELECT toString(count()) FROM usage_records FINAL) AS records,
              (SELECT toString(count()) FROM spans FINAL WHERE operation IN ('chat', 'text_completion', 'generate_content', 'embeddings')) AS spans`,
    );
    expect(Number(stored!.records)).toBe(Number(stored!.spans));
  });
});
