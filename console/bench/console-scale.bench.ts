// Benchmark: the console's overview and operator pages at volume (issue #18: "fast at any volume").
// Embedded chDB holds, over the last 24 hours, a tenant with 20,000,000 spans ("big"), one with
// 2,000,000 ("mid") and 100 others with 20,000 each, with a usage record per LLM call (two per
// five-span trace): 24M spans, 9.6M usage records, generated inside ClickHouse (INSERT ... SELECT
// FROM numbers(), which fires the marks' materialized views as ingest does). The rollup sealer then
// builds every stale bucket, and a few thousand spans are written into the current minute, so that
// each page also reads the open edge from raw spans as it would on a live tenant.
//
// Figures (p95 over sequential requests after warm-up, complete server-rendered document, `next start`):
//   console_overview_ttfb_ms_20m      GET /?range=24h as big's console key (target <= 300)
//   console_overview_ttfb_ms_2m       the same as mid
//   console_overview_scaling_ratio    20m / 2m (target <= 1.5)
//   console_operator_ttfb_ms          GET /operator (24 h, 102 tenants) as the admin (target <= 300)
//   console_overview_raw_ttfb_ms_2m   mid's overview before the sealer ran: every bucket read from
//                                     raw spans with FINAL, as every read was before rollups
//   console_overview_ttfb_ms_20k      the same page for a tenant of 20,000 spans (what rendering costs)
//   collector_overview_api_ms_20m     GET /api/v1/overview (24 h) straight from the collector, as big
//   collector_admin_tenants_api_ms    GET /api/v1/admin/tenants (24 h), as the admin
//   console_scale_seed_s / _seal_s    time to generate the data / to build every rollup
// CONSOLE_SCALE_BIG_SPANS (default 20,000,000) scales the big tenant; mid is a tenth of it.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, statSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { request } from "node:http";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadCollectorConfig, startCollector, type ClickHouseGateway, type RunningCollector } from "@troupe/collector";
import { loadConfig } from "../lib/config";
import { sealSession } from "../lib/session/session-codec";

const BIG_SPANS = Number(process.env.CONSOLE_SCALE_BIG_SPANS ?? 20_000_000);
const MID_SPANS = BIG_SPANS / 10;
const OTHER_TENANTS = 100;
const OTHER_SPANS = 20_000;
const SPANS_PER_TRACE = 5;
const CHUNK_SPANS = 2_000_000;
const WARMUP = 3;
const RUNS = 20;
const DAY_MS = 86_400_000;
const consoleDir = join(dirname(fileURLToPath(import.meta.url)), "..");
const root = join(consoleDir, "..");
const log = (line: string) => process.stderr.write(`console-scale.bench: ${line}\n`);

function newestMtime(path: string): number {
  let newest = 0;
  for (const entry of readdirSync(path, { withFileTypes: true })) {
    if ([".next", "node_modules", "bench"].includes(entry.name) || entry.name.endsWith(".test.ts") || entry.name.endsWith(".tsbuildinfo")) continue;
    const p = join(path, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

function ensureBuilt(): void {
  const buildId = join(consoleDir, ".next", "BUILD_ID");
  if (existsSync(buildId) && statSync(buildId).mtimeMs >= newestMtime(consoleDir)) return;
  log("next build ...");
  const r = spawnSync(process.execPath, [join(root, "node_modules/next/dist/bin/next"), "build"], { cwd: consoleDir, env: { ...process.env, NEXT_TELEMETRY_DISABLED: "1", NODE_ENV: "production" }, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`next build failed:\n${r.stdout}\n${r.stderr}`);
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
    srv.on("error", reject);
  });
}

/** One GET: ms to the end of the body. */
function timeGet(url: string, cookie: string): Promise<{ status: number; totalMs: number; body: string }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const chunks: Buffer[] = [];
    const req = request(url, { headers: { cookie } }, (res) => {
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, totalMs: performance.now() - t0, body: Buffer.concat(chunks).toString("utf8") }));
    });
    req.on("error", reject);
    req.end();
  });
}

function p95(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.min(s.length - 1, Math.ceil(s.length * 0.95) - 1)]! * 10) / 10;
}

async function measure(name: string, url: string, cookie: string, expectText: string, runs = RUNS): Promise<number> {
  const total: number[] = [];
  for (let i = 0; i < WARMUP + runs; i++) {
    const r = await timeGet(url, cookie);
    if (r.status !== 200) throw new Error(`${name}: ${url} answered ${r.status}`);
    if (!r.body.includes(expectText)) throw new Error(`${name}: the page does not show "${expectText}": it did not render its data`);
    if (i >= WARMUP) total.push(r.totalMs);
  }
  const s = [...total].sort((a, b) => a - b);
  log(`${name}: p50 ${Math.round(s[Math.floor(s.length / 2)]!)} ms, p95 ${p95(total)} ms`);
  return p95(total);
}

/**
 * `spans` spans of `tenantSql`'s tenants as traces of five (an agent turn, two LLM calls, a tool
 * call, a send), spread evenly over [endMs - periodMs, endMs], and a usage record per LLM call.
 * `salt` makes the ids of one call distinct from every other's.
 */
async function generate(gateway: ClickHouseGateway, salt: string, tenantSql: string, spans: number, endMs: number, periodMs = DAY_MS): Promise<void> {
  const traces = spans / SPANS_PER_TRACE;
  const stepNs = Math.floor((periodMs * 1e6) / traces);
  for (let offset = 0; offset < spans; offset += CHUNK_SPANS) {
    const size = Math.min(CHUNK_SPANS, spans - offset);
    const params = { offset, size, endNs: BigInt(endMs) * 1_000_000n, stepNs, salt };
    const rows = `
      SELECT n, intDiv(n, ${SPANS_PER_TRACE}) AS tr, n % ${SPANS_PER_TRACE} AS pos, cityHash64(tr, {salt:String}) AS h, ${tenantSql} AS tenant,
        ['planner', 'researcher', 'writer', 'critic', 'router'][tr % 5 + 1] AS agent, ['gpt-4o', 'gpt-4o-mini', 'claude-sonnet'][h % 3 + 1] AS model,
        multiIf(h % 50 = 0, 'error', h % 97 = 0, 'timeout', 'ok') AS outcome, lower(hex(MD5(concat({salt:String}, toString(tr))))) AS trace_id,
        fromUnixTimestamp64Nano(toInt64({endNs:Int64} - toInt64(tr) * {stepNs:Int64} + pos * 10000000)) AS start
      FROM (SELECT number + {offset:UInt64} AS n FROM numbers({size:UInt64}))`;
    await gateway.command(
      `INSERT INTO spans (tenant_id, trace_id, span_id, parent_span_id, name, kind, start_time, duration_ns, status_code, service_name, attributes, resource_attributes, retention_days)
       SELECT tenant, trace_id,
         substring(lower(hex(MD5(concat({salt:String}, 's', toString(n))))), 1, 16),
         if(pos = 0, '', substring(lower(hex(MD5(concat({salt:String}, 's', toString(n - pos))))), 1, 16)),
         multiIf(pos = 0, concat('process ', agent), pos IN (1, 2), concat('chat ', model), pos = 3, 'execute_tool search', concat('send ', agent)),
         multiIf(pos = 0, 5, pos = 4, 4, pos = 3, 1, 3),
         start,
         toUInt64(if(pos = 0, 40 + h % 4000, 5 + intDiv(h, 256) % 900) * 1000000 + h % 1000000),
         if(outcome != 'ok' AND pos IN (0, 1), 2, 1),
         'bench-app',
         multiIf(
           pos = 0, map('troupe.agent.type', agent, 'troupe.turn.outcome', outcome, 'messaging.operation.name', 'process',
                        'troupe.queue.wait_ms', toString(intDiv(h, 65536) % 200), 'troupe.handler.wall_ms', toString(30 + h % 3000)),
           pos IN (1, 2), map('troupe.agent.type', agent, 'gen_ai.operation.name', 'chat', 'gen_ai.request.model', model,
                        'gen_ai.usage.input_tokens', toString(100 + h % 2000), 'gen_ai.usage.output_tokens', toString(10 + h % 300), 'troupe.llm.cost_usd', toString((h % 1000) / 100000)),
           pos = 3, map('troupe.agent.type', agent, 'gen_ai.operation.name', 'execute_tool'),
           map('troupe.agent.type', agent, 'messaging.operation.name', 'send')),
         map('service.name', 'bench-app'),
         30
       FROM (${rows})`,
      params,
    );
    await gateway.command(
      `INSERT INTO usage_records (tenant_id, time, record_id, agent_type, provider, model, response_model, outcome, input_tokens, output_tokens,
         cached_input_tokens, reasoning_tokens, cost_usd, usage_exact, trace_id, span_id, service_name, retention_days)
       SELECT tenant, toDateTime64(start, 3, 'UTC'), concat({salt:String}, '-', toString(n)), agent, 'openai', model, model, if(outcome = 'timeout', 'timeout', 'ok'),
         100 + h % 2000, 10 + h % 300, 0, 0, (h % 1000) / 100000, true, trace_id, '', 'bench-app', 30
       FROM (${rows}) WHERE pos IN (1, 2)`,
      params,
    );
  }
}

let collector: RunningCollector | undefined;
let next: ChildProcess | undefined;
let dir: string | undefined;
try {
  dir = await mkdtemp(join(tmpdir(), "troupe-console-scale-bench-"));
  const adminKey = `trp_admin_${randomBytes(18).toString("base64url")}`;
  // The sealer is run by hand below, so that the raw figure is measured before it and every bucket is built at once after it.
  collector = await startCollector({ ...loadCollectorConfig({ TROUPE_DATA_DIR: dir, TROUPE_ADMIN_KEY: adminKey }), port: 0, host: "127.0.0.1" }, { rollups: { intervalMs: 24 * 3_600_000 } });
  const { gateway, registry } = collector;
  const others = Array.from({ length: OTHER_TENANTS }, (_, i) => `t${String(i).padStart(3, "0")}`);
  for (const id of ["big", "mid", ...others]) await registry.createTenant({ id });
  const bigKey = (await registry.issueKey("big", "console")).key.secret;
  const midKey = (await registry.issueKey("mid", "console")).key.secret;
  const smallKey = (await registry.issueKey("t000", "console")).key.secret;

  const endMs = Date.now();
  let t0 = performance.now();
  await generate(gateway, "big", "'big'", BIG_SPANS, endMs);
  await generate(gateway, "mid", "'mid'", MID_SPANS, endMs);
  await generate(gateway, "others", `concat('t', leftPad(toString(tr % ${OTHER_TENANTS}), 3, '0'))`, OTHER_TENANTS * OTHER_SPANS, endMs);
  const seedS = (performance.now() - t0) / 1000;
  const [{ spans, records }] = (await gateway.query<{ spans: string; records: string }>(
    "SELECT (SELECT count() FROM spans) AS spans, (SELECT count() FROM usage_records) AS records",
  )) as [{ spans: string; records: string }];
  log(`stored ${spans} spans and ${records} usage records in ${seedS.toFixed(1)} s`);

  ensureBuilt();
  const port = await freePort();
  const secret = randomBytes(32).toString("hex");
  next = spawn(process.execPath, [join(root, "node_modules/next/dist/bin/next"), "start", "-p", String(port), "-H", "127.0.0.1"], {
    cwd: consoleDir,
    env: { ...process.env, NODE_ENV: "production", NEXT_TELEMETRY_DISABLED: "1", TROUPE_COLLECTOR_URL: collector.url, TROUPE_CONSOLE_SECRET: secret },
    stdio: ["ignore", "ignore", "inherit"],
  });
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (await fetch(`${base}/healthz`).then((r) => r.ok, () => false)) break;
    if (i > 300) throw new Error("next start did not answer /healthz in 60 s");
    await new Promise((r) => setTimeout(r, 200));
  }
  const sessionKey = loadConfig({ TROUPE_CONSOLE_SECRET: secret } as NodeJS.ProcessEnv).sessionKey;
  const now = Date.now();
  const cookie = (key: string, kind: "console" | "admin", tenantId: string) =>
    `troupe_session=${sealSession({ key, kind, tenantId, iat: now, exp: now + 6 * 3_600_000 }, sessionKey)}`;
  const big = cookie(bigKey, "console", "big");
  const mid = cookie(midKey, "console", "mid");
  const small = cookie(smallKey, "console", "t000");
  const admin = cookie(adminKey, "admin", "");

  const rawMid = await measure("overview, 2M spans, raw spans (before the sealer ran)", `${base}/?range=24h`, mid, "Top agents", 8);

  t0 = performance.now();
  const sealed = await collector.rollups.sealAll(0);
  const sealS = (performance.now() - t0) / 1000;
  log(`sealed ${sealed.minutes} minutes and ${sealed.hours} hours in ${sealed.builds} builds, ${sealS.toFixed(1)} s`);
  const sealedBig = await measure("overview, 20M spans, all sealed", `${base}/?range=24h`, big, "Top agents");

  // The open edge: the current minute gets rows after the sealer ran, as on a live tenant; pages read it from raw spans.
  const edgeMs = Date.now();
  await generate(gateway, "big-edge", "'big'", 10_000, edgeMs, 30_000);
  await generate(gateway, "mid-edge", "'mid'", 1_000, edgeMs, 30_000);
  const overviewBig = await measure("overview, 20M spans, live edge", `${base}/?range=24h`, big, "Top agents");
  const overviewMid = await measure("overview, 2M spans, live edge", `${base}/?range=24h`, mid, "Top agents");
  const operator = await measure("operator tenants list, 102 tenants", `${base}/operator?range=24h`, admin, "All tenants");
  // What the pages cost beside the collector: the same page for a tenant of 20,000 spans, and the collector's own answers.
  const overviewSmall = await measure("overview, 20K spans, live edge", `${base}/?range=24h`, small, "Top agents");
  const to = Math.ceil(Date.now() / 60_000) * 60_000;
  const range = `from=${to - DAY_MS}&to=${to}`;
  const api = async (name: string, path: string, key: string) => {
    const ms: number[] = [];
    for (let i = 0; i < WARMUP + RUNS; i++) {
      const t = performance.now();
      const res = await fetch(`${collector!.url}${path}`, { headers: { authorization: `Bearer ${key}` } });
      if (res.status !== 200) throw new Error(`${name}: ${res.status} ${await res.text()}`);
      await res.arrayBuffer();
      if (i >= WARMUP) ms.push(performance.now() - t);
    }
    log(`${name}: p95 ${p95(ms)} ms`);
    return p95(ms);
  };
  const apiOverview = await api("collector GET /overview, 20M spans", `/api/v1/overview?${range}`, bigKey);
  const apiTenants = await api("collector GET /admin/tenants, 102 tenants", `/api/v1/admin/tenants?${range}`, adminKey);

  console.log(JSON.stringify({
    console_overview_ttfb_ms_20m: overviewBig,
    console_overview_ttfb_ms_2m: overviewMid,
    console_overview_scaling_ratio: Math.round((overviewBig / overviewMid) * 100) / 100,
    console_operator_ttfb_ms: operator,
    console_overview_ttfb_ms_20m_sealed: sealedBig,
    console_overview_ttfb_ms_20k: overviewSmall,
    collector_overview_api_ms_20m: apiOverview,
    collector_admin_tenants_api_ms: apiTenants,
    console_overview_raw_ttfb_ms_2m: rawMid,
    console_scale_seed_s: Math.round(seedS * 10) / 10,
    console_scale_seal_s: Math.round(sealS * 10) / 10,
    console_scale_spans: Number(spans),
  }));
} finally {
  if (next && next.exitCode === null) {
    next.kill("SIGTERM");
    await new Promise((r) => next!.once("exit", r));
  }
  await collector?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
}
