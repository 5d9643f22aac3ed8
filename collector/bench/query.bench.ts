// Query latency at scale: 10,000,000 spans across 100 tenants in embedded chDB, with one usage record
// per LLM call span (4,000,000), read through the real query API (Hono routes, zod validation, auth,
// FINAL reads). Prints p95 latencies (ms) of:
//   query_p95_ms_usage         GET /usage over the tenant's last 7 days, grouped by day (usage records)
//   query_p95_ms_trace_search  GET /traces over the last 24 hours, newest 50
//   query_p95_ms_trace_lookup  GET /traces/{id} for a random trace of the tenant
// plus query_p95_ms_trace_search_7d_filtered (7 days, status=error and a name filter), not a target.
// The data is generated inside ClickHouse (INSERT ... SELECT FROM numbers()) into the real schema
// and cached in bench-results/query-bench-chdb between runs (delete it to regenerate). Its rollups
// are built before measuring, as a running collector's sealer keeps them (the first run after
// generating builds them all; later runs find nothing stale): the usage query reads them. What a read
// costs before the sealer has run is console-scale's console_overview_raw_ttfb_ms_2m.
import { existsSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { Hono } from "hono";
import { openClickHouse } from "../src/store/open-clickhouse.js";
import type { ClickHouseGateway } from "../src/store/clickhouse-gateway.js";
import { createTenantRegistry } from "../src/tenants/tenant-registry.js";
import { createQueryRoutes } from "../src/query/query-routes.js";
import { RollupSealer } from "../src/rollups/rollup-sealer.js";

const SPANS = Number(process.env.BENCH_QUERY_SPANS ?? 10_000_000);
const TENANTS = 100;
const SPANS_PER_TRACE = 5;
const DAYS = 7;
const CHUNK = 1_000_000;
const SAMPLES = Number(process.env.BENCH_QUERY_SAMPLES ?? 40);
const DATA_VERSION = `v1-${SPANS}-${TENANTS}`;
/** Usage records are generated (and cached) apart from spans, so a cache of spans from before them is kept. */
const USAGE_DATA_VERSION = `usage-v1-${SPANS}-${TENANTS}`;
const ADMIN = "bench-admin-key-0123456789";

const dataDir = join(process.cwd(), "bench-results", "query-bench-chdb");
const log = (msg: string) => process.stderr.write(`query.bench: ${msg}\n`);

async function generated(gateway: ClickHouseGateway, version = DATA_VERSION): Promise<{ endMs: number } | null> {
  const rows = await gateway.query<{ version: string; end_ms: number | string }>(
    "SELECT version, end_ms FROM bench_meta WHERE version = {v:String} LIMIT 1",
    { v: version },
  ).catch(() => []);
  return rows[0] ? { endMs: Number(rows[0].end_ms) } : null;
}

async function generate(gateway: ClickHouseGateway): Promise<number> {
  const endMs = Date.now();
  const traces = SPANS / SPANS_PER_TRACE;
  // Trace k starts at end - k * step, so traces spread evenly over DAYS; spans of a trace 10 ms apart.
  const stepNs = Math.floor((DAYS * 86_400_000 * 1e6) / traces);
  const t0 = Date.now();
  for (let offset = 0; offset < SPANS; offset += CHUNK) {
    const size = Math.min(CHUNK, SPANS - offset);
    await gateway.command(
      `INSERT INTO spans (tenant_id, trace_id, span_id, parent_span_id, name, kind, start_time, duration_ns, status_code, service_name, attributes, resource_attributes, retention_days)
       SELECT
         concat('tenant-', toString(tr % {tenants:UInt32})) AS tenant_id,
         lower(hex(MD5(toString(tr)))) AS trace_id,
         substring(lower(hex(MD5(concat('s', toString(n))))), 1, 16) AS span_id,
         if(pos = 0, '', substring(lower(hex(MD5(concat('s', toString(n - pos))))), 1, 16)) AS parent_span_id,
         multiIf(pos = 0, concat('process agent-', toString(tr % 7)), pos IN (1, 2), concat('chat model-', toString(tr % 3)), pos = 3, 'execute_tool search', 'send reply') AS name,
         multiIf(pos = 0, 5, pos = 4, 4, 3) AS kind,
         fromUnixTimestamp64Nano(toInt64({endNs:Int64} - toInt64(tr) * {stepNs:Int64} + pos * 10000000)) AS start_time,
         toUInt64(if(pos = 0, 50 + h % 3000, 5 + h % 800) * 1000000) AS duration_ns,
         if(outcome = 'error' AND pos IN (0, 1), 2, 0) AS status_code,
         'bench-svc' AS service_name,
         multiIf(
           pos = 0, map('troupe.agent.type', concat('agent-', toString(tr % 7)), 'troupe.turn.outcome', outcome,
                        'troupe.queue.wait_ms', toString(h % 50), 'troupe.handler.wall_ms', toString(50 + h % 3000),
                        'messaging.operation.name', 'process'),
           pos IN (1, 2), map('troupe.agent.type', concat('agent-', toString(tr % 7)), 'gen_ai.operation.name', 'chat',
                        'gen_ai.request.model', concat('model-', toString(tr % 3)), 'gen_ai.usage.input_tokens', toString(100 + h % 2000),
                        'gen_ai.usage.output_tokens', toString(10 + h % 500), 'troupe.llm.cost_usd', toString((h % 1000) / 100000)),
           pos = 3, map('troupe.agent.type', concat('agent-', toString(tr % 7)), 'gen_ai.operation.name', 'execute_tool', 'gen_ai.tool.name', 'search'),
           map('messaging.operation.name', 'send', 'messaging.system', 'troupe')) AS attributes,
         map('service.name', 'bench-svc') AS resource_attributes,
         30 AS retention_days
       FROM (
         SELECT number AS n, intDiv(number, ${SPANS_PER_TRACE}) AS tr, number % ${SPANS_PER_TRACE} AS pos, cityHash64(number) AS h,
           multiIf(cityHash64(intDiv(number, ${SPANS_PER_TRACE})) % 100 < 90, 'ok', cityHash64(intDiv(number, ${SPANS_PER_TRACE})) % 100 < 95, 'error',
                   cityHash64(intDiv(number, ${SPANS_PER_TRACE})) % 100 < 97, 'timeout', cityHash64(intDiv(number, ${SPANS_PER_TRACE})) % 100 < 98, 'quota_rejected',
                   cityHash64(intDiv(number, ${SPANS_PER_TRACE})) % 100 < 99, 'budget_rejected', 'rate_limited') AS outcome
         FROM numbers({offset:UInt64}, {size:UInt64})
       )`,
      { tenants: TENANTS, endNs: String(BigInt(endMs) * 1_000_000n), stepNs, offset, size },
    );
    log(`generated ${offset + size} / ${SPANS} spans (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  }
  await gateway.command("CREATE TABLE IF NOT EXISTS bench_meta (version String, end_ms Int64) ENGINE = MergeTree ORDER BY version");
  await gateway.insert("bench_meta", [{ version: DATA_VERSION, end_ms: endMs }]);
  log(`generation took ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return endMs;
}

/**
 * One usage record per LLM call span of the data above (the two `chat` spans of each trace), with
 * the span's tenant, agent, model, time, ids and tokens, as the runtime exports them beside the spans.
 * Outcomes follow the trace's: the first call of a failed, timed-out or refused turn carries its
 * outcome (refused attempts without tokens). Replaces whatever usage_records held (e.g. records that
 * migration 0004 backfilled from a cache of spans made before usage records existed).
 */
async function generateUsage(gateway: ClickHouseGateway, endMs: number): Promise<void> {
  const traces = SPANS / SPANS_PER_TRACE;
  const records = traces * 2;
  const stepNs = Math.floor((DAYS * 86_400_000 * 1e6) / traces);
  const t0 = Date.now();
  await gateway.command("TRUNCATE TABLE usage_records");
  for (let offset = 0; offset < records; offset += CHUNK) {
    const size = Math.min(CHUNK, records - offset);
    await gateway.command(
      `INSERT INTO usage_records (tenant_id, time, record_id, agent_type, provider, model, response_model, outcome, input_tokens, output_tokens,
         cached_input_tokens, reasoning_tokens, cost_usd, usage_exact, trace_id, span_id, service_name, retention_days)
       SELECT
         concat('tenant-', toString(tr % {tenants:UInt32})) AS tenant_id,
         toDateTime64(fromUnixTimestamp64Nano(toInt64({endNs:Int64} - toInt64(tr) * {stepNs:Int64} + pos * 10000000)), 3, 'UTC') AS time,
         UUIDNumToString(toFixedString(MD5(concat('u', toString(n))), 16)) AS record_id,
         concat('agent-', toString(tr % 7)) AS agent_type,
         'openai' AS provider,
         concat('model-', toString(tr % 3)) AS model,
         if(call_outcome = 'ok', model, '') AS response_model,
         call_outcome AS outcome,
         if(refused, 0, 100 + h % 2000) AS input_tokens,
         if(refused, 0, 10 + h % 500) AS output_tokens,
         if(refused, 0, h % 100) AS cached_input_tokens,
         0 AS reasoning_tokens,
         if(refused, 0, (h % 1000) / 100000) AS cost_usd,
         true AS usage_exact,
         lower(hex(MD5(toString(tr)))) AS trace_id,
         substring(lower(hex(MD5(concat('s', toString(n))))), 1, 16) AS span_id,
         'bench-svc' AS service_name,
         30 AS retention_days
       FROM (
         SELECT intDiv(number, 2) AS tr, 1 + number % 2 AS pos, tr * ${SPANS_PER_TRACE} + pos AS n, cityHash64(n) AS h,
           multiIf(cityHash64(tr) % 100 < 90, 'ok', cityHash64(tr) % 100 < 95, 'error', cityHash64(tr) % 100 < 97, 'timeout',
                   cityHash64(tr) % 100 < 98, 'quota_rejected', cityHash64(tr) % 100 < 99, 'budget_rejected', 'rate_limited') AS turn_outcome,
           if(pos = 1 AND turn_outcome IN ('error', 'timeout', 'budget_rejected', 'rate_limited'), turn_outcome, 'ok') AS call_outcome,
           call_outcome IN ('budget_rejected', 'rate_limited') AS refused
         FROM numbers({offset:UInt64}, {size:UInt64})
       )`,
      { tenants: TENANTS, endNs: String(BigInt(endMs) * 1_000_000n), stepNs, offset, size },
    );
    log(`generated ${offset + size} / ${records} usage records (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  }
  await gateway.insert("bench_meta", [{ version: USAGE_DATA_VERSION, end_ms: endMs }]);
  log(`usage generation took ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

function percentile(samples: number[], q: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(sorted.length * q) - 1))]!;
}
const p95 = (samples: number[]) => percentile(samples, 0.95);

async function timed(app: Hono, path: string): Promise<number> {
  const t0 = performance.now();
  const res = await app.request(path, { headers: { authorization: `Bearer ${ADMIN}` } });
  await res.arrayBuffer();
  const ms = performance.now() - t0;
  if (res.status !== 200) throw new Error(`${path} answered ${res.status}`);
  return ms;
}

async function main(): Promise<void> {
  mkdirSync(dataDir, { recursive: true });
  let gateway = await openClickHouse({ kind: "chdb", dataDir });
  let meta = await generated(gateway);
  if (!meta) {
    log(`no cached data for ${DATA_VERSION}: generating ${SPANS} spans across ${TENANTS} tenants`);
    await gateway.close();
    rmSync(dataDir, { recursive: true, force: true });
    mkdirSync(dataDir, { recursive: true });
    gateway = await openClickHouse({ kind: "chdb", dataDir });
    meta = { endMs: await generate(gateway) };
  } else log(`using cached data in ${dataDir}`);
  if (!(await generated(gateway, USAGE_DATA_VERSION))) {
    log(`no cached usage records for ${USAGE_DATA_VERSION}: generating one per LLM call span`);
    await generateUsage(gateway, meta.endMs);
  }
  const [info] = await gateway.query<{ rows: number | string; parts: number | string }>(
    "SELECT sum(rows) AS rows, count() AS parts FROM system.parts WHERE database = currentDatabase() AND table = 'spans' AND active",
  );
  log(`spans table: ${info?.rows} rows in ${info?.parts} active parts`);
  const [usageInfo] = await gateway.query<{ rows: number | string; parts: number | string }>(
    "SELECT sum(rows) AS rows, count() AS parts FROM system.parts WHERE database = currentDatabase() AND table = 'usage_records' AND active",
  );
  log(`usage_records table: ${usageInfo?.rows} rows in ${usageInfo?.parts} active parts`);
  // Every stale bucket built now, however old the cached data (the sealer's look-back is from the clock).
  let sealError: unknown;
  const sealStart = performance.now();
  const sealed = await new RollupSealer({ gateway, onError: (err) => (sealError ??= err) }, { lookbackMs: 3650 * 86_400_000 }).sealAll(0);
  if (sealError !== undefined || sealed.failed > 0) throw new Error(`building the rollups failed: ${String(sealError)}`);
  log(`rollups: ${sealed.minutes} minutes and ${sealed.hours} hours built in ${((performance.now() - sealStart) / 1000).toFixed(1)} s`);

  const registry = createTenantRegistry(gateway, { adminKey: ADMIN });
  const app = new Hono();
  app.route("/api/v1", createQueryRoutes({ gateway, authenticator: registry, now: () => meta.endMs + 1000 }));
  const endMs = meta.endMs + 1000;
  const tenantOf = (i: number) => `tenant-${(i * 37) % TENANTS}`;

  // Trace ids to look up: a few random traces per sampled tenant.
  const lookups: { tenant: string; traceId: string }[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const tenant = tenantOf(i);
    const [row] = await gateway.query<{ trace_id: string }>(
      "SELECT trace_id FROM spans WHERE tenant_id = {t:String} AND start_time >= now64() - toIntervalDay({d:UInt32}) ORDER BY cityHash64(trace_id, {i:UInt32}) LIMIT 1",
      { t: tenant, d: DAYS, i },
    );
    if (row) lookups.push({ tenant, traceId: row.trace_id });
  }

  const usagePath = (i: number) => `/api/v1/usage?tenant=${tenantOf(i)}&from=${endMs - DAYS * 86_400_000}&to=${endMs}&groupBy=day`;
  const searchPath = (i: number) => `/api/v1/traces?tenant=${tenantOf(i)}&from=${endMs - 86_400_000}&to=${endMs}&limit=50`;
  const search7dPath = (i: number) => `/api/v1/traces?tenant=${tenantOf(i)}&from=${endMs - DAYS * 86_400_000}&to=${endMs}&limit=50&status=error&q=chat`;
  const lookupPath = (i: number) => `/api/v1/traces/${lookups[i % lookups.length]!.traceId}?tenant=${lookups[i % lookups.length]!.tenant}`;

  // Warm-up (first reads load marks and columns).
  for (let i = 0; i < 3; i++) {
    await timed(app, usagePath(i));
    await timed(app, searchPath(i));
    await timed(app, lookupPath(i));
  }
  // The usage query must read the records, not an empty table.
  const probe = (await (await app.request(usagePath(0), { headers: { authorization: `Bearer ${ADMIN}` } })).json()) as { totals: { calls: number } };
  if (!(probe.totals.calls > 0)) throw new Error(`${usagePath(0)} found no usage records`);
  log(`usage of ${tenantOf(0)} over ${DAYS} days: ${probe.totals.calls} calls`);
  const usage: number[] = [];
  const search: number[] = [];
  const lookup: number[] = [];
  const search7d: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    usage.push(await timed(app, usagePath(i)));
    search.push(await timed(app, searchPath(i)));
    lookup.push(await timed(app, lookupPath(i)));
    if (i % 2 === 0) search7d.push(await timed(app, search7dPath(i)));
  }
  const figures = {
    query_p95_ms_usage: Math.round(p95(usage) * 10) / 10,
    query_p95_ms_trace_search: Math.round(p95(search) * 10) / 10,
    query_p95_ms_trace_lookup: Math.round(p95(lookup) * 10) / 10,
    // Not a target: a heavier search (7 days, status and text filters) reported for honesty.
    query_p95_ms_trace_search_7d_filtered: Math.round(p95(search7d) * 10) / 10,
    query_bench_spans: Number(info?.rows ?? 0),
    query_bench_usage_records: Number(usageInfo?.rows ?? 0),
  };
  for (const [name, samples] of Object.entries({ usage, search, lookup, search7d })) {
    log(`${name}: p50 ${percentile(samples, 0.5).toFixed(1)} ms, p95 ${p95(samples).toFixed(1)} ms, max ${percentile(samples, 1).toFixed(1)} ms`);
  }
  await gateway.close();
  if (!existsSync(dataDir)) throw new Error("data directory vanished");
  process.stdout.write(`${JSON.stringify(figures)}\n`);
}

await main();
