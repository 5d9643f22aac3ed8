// Benchmark: server render time of the console's overview and trace detail pages with 1,000,000
// spans stored (embedded chDB), through `next start` and the collector's query API.
//
// Figures (p95 over sequential requests, after warm-up):
//   console_overview_ttfb_ms       GET / (last hour), until the complete server-rendered document arrived
//   console_overview_24h_ttfb_ms   GET /?range=24h (all ~800k spans of the tenant)
//   console_trace_detail_ttfb_ms   GET /traces/{id}, complete document
//   *_first_byte_ms                time to the first response byte (the overview streams its shell first)
// The complete-document time is reported under the _ttfb_ms names because it is the conservative one.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, statSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { request } from "node:http";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadCollectorConfig, startCollector, type RunningCollector } from "@troupe/collector";
import { loadConfig } from "../lib/config";
import { sealSession } from "../lib/session/session-codec";

const SPANS = Number(process.env.CONSOLE_BENCH_SPANS ?? 1_000_000);
const WARMUP = 5;
const RUNS = 40;
const consoleDir = join(dirname(fileURLToPath(import.meta.url)), "..");
const root = join(consoleDir, "..");
const log = (line: string) => process.stderr.write(`console.bench: ${line}\n`);

function newestMtime(path: string): number {
  let newest = 0;
  for (const entry of readdirSync(path, { withFileTypes: true })) {
    if ([".next", "node_modules", "bench"].includes(entry.name) || entry.name.endsWith(".test.ts")) continue;
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

/** One GET: ms to the first byte and to the end of the body. */
function timeGet(url: string, cookie: string): Promise<{ status: number; firstByteMs: number; totalMs: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let first = 0;
    let bytes = 0;
    const req = request(url, { headers: { cookie } }, (res) => {
      res.on("data", (chunk: Buffer) => {
        if (!first) first = performance.now() - t0;
        bytes += chunk.length;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, firstByteMs: first || performance.now() - t0, totalMs: performance.now() - t0, bytes }));
    });
    req.on("error", reject);
    req.end();
  });
}

function p95(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.min(s.length - 1, Math.ceil(s.length * 0.95) - 1)]! * 10) / 10;
}

async function measure(name: string, url: string, cookie: string, expectText: string): Promise<{ firstByte: number; total: number }> {
  const first: number[] = [];
  const total: number[] = [];
  for (let i = 0; i < WARMUP + RUNS; i++) {
    const r = await timeGet(url, cookie);
    if (r.status !== 200) throw new Error(`${name}: ${url} answered ${r.status}`);
    if (i >= WARMUP) {
      first.push(r.firstByteMs);
      total.push(r.totalMs);
    }
  }
  const check = await fetch(url, { headers: { cookie } }).then((r) => r.text());
  if (!check.includes(expectText)) throw new Error(`${name}: the page does not show "${expectText}": it did not render its data`);
  log(`${name}: first byte p95 ${p95(first)} ms, complete p95 ${p95(total)} ms`);
  return { firstByte: p95(first), total: p95(total) };
}

let collector: RunningCollector | undefined;
let next: ChildProcess | undefined;
let dir: string | undefined;
try {
  dir = await mkdtemp(join(tmpdir(), "troupe-console-bench-"));
  const adminKey = `trp_admin_${randomBytes(18).toString("base64url")}`;
  collector = await startCollector({ ...loadCollectorConfig({ TROUPE_DATA_DIR: dir, TROUPE_ADMIN_KEY: adminKey }), port: 0, host: "127.0.0.1" });
  for (const id of ["bench", "noise"]) {
    const res = await fetch(`${collector.url}/api/v1/admin/tenants`, { method: "POST", headers: { authorization: `Bearer ${adminKey}`, "content-type": "application/json" }, body: JSON.stringify({ id }) });
    if (res.status !== 201) throw new Error(`creating tenant ${id}: ${res.status} ${await res.text()}`);
  }
  const consoleKey = (await (await fetch(`${collector.url}/api/v1/admin/tenants/bench/keys`, { method: "POST", headers: { authorization: `Bearer ${adminKey}`, "content-type": "application/json" }, body: JSON.stringify({ kind: "console" }) })).json()) as { key: { secret: string } };

  // 1,000,000 spans in one INSERT … SELECT: traces of two spans (an agent turn and its LLM call),
  // spread over the last 24 hours; every fifth trace belongs to another tenant.
  const t0 = performance.now();
  const traces = Math.floor(SPANS / 2);
  const stepUs = Math.floor((86_400 * 1e6) / traces);
  await collector.gateway.command(`
    INSERT INTO spans (tenant_id, trace_id, span_id, parent_span_id, name, kind, start_time, duration_ns, status_code, service_name, attributes, resource_attributes, retention_days)
    SELECT
      if(t % 5 = 0, 'noise', 'bench') AS tenant,
      lower(hex(MD5(toString(t)))) AS trace_id,
      substring(lower(hex(MD5(concat('s', toString(number))))), 1, 16),
      if(number % 2 = 0, '', substring(lower(hex(MD5(concat('s', toString(number - 1))))), 1, 16)),
      if(number % 2 = 0, concat('process ', agent), 'chat gpt-4o-mini'),
      if(number % 2 = 0, 5, 3),
      now64(9) - toIntervalMicrosecond(t * ${stepUs}) + toIntervalMicrosecond(number % 2 * 1000),
      if(number % 2 = 0, 50000000 + (t % 200) * 1000000, 40000000),
      if(t % 50 = 0, 2, 1),
      'bench-app',
      if(number % 2 = 0,
        map('troupe.tenant.id', tenant, 'troupe.agent.type', agent, 'troupe.turn.outcome', if(t % 50 = 0, 'error', 'ok'), 'troupe.queue.wait_ms', '2', 'troupe.handler.wall_ms', '45', 'messaging.operation.name', 'process'),
        map('troupe.tenant.id', tenant, 'troupe.agent.type', agent, 'gen_ai.operation.name', 'chat', 'gen_ai.request.model', 'gpt-4o-mini', 'gen_ai.usage.input_tokens', '100', 'gen_ai.usage.output_tokens', '20', 'troupe.llm.cost_usd', '0.0001')),
      map('service.name', 'bench-app'),
      30
    FROM (SELECT number, intDiv(number, 2) AS t, arrayElement(['planner', 'researcher', 'writer', 'critic'], (intDiv(number, 2) % 4) + 1) AS agent FROM numbers(${SPANS}))`);
  // One usage record per LLM call, as the runtime exports them beside the spans (the overview's LLM
  // calls, tokens and cost read these).
  await collector.gateway.command(`
    INSERT INTO usage_records (tenant_id, time, record_id, agent_type, provider, model, response_model, outcome, input_tokens, output_tokens,
      cached_input_tokens, reasoning_tokens, cost_usd, usage_exact, trace_id, span_id, service_name, retention_days)
    SELECT tenant_id, toDateTime64(start_time, 3, 'UTC'), toString(generateUUIDv4()), agent_type, 'openai', 'gpt-4o-mini', 'gpt-4o-mini', 'ok',
      input_tokens, output_tokens, 0, 0, cost_usd, true, trace_id, span_id, service_name, retention_days
    FROM spans WHERE operation = 'chat'`);
  const [{ n }] = (await collector.gateway.query<{ n: string }>("SELECT count() AS n FROM spans")) as [{ n: string }];
  log(`stored ${n} spans (and a usage record per LLM call) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const [{ trace_id: traceId }] = (await collector.gateway.query<{ trace_id: string }>(
    "SELECT trace_id FROM spans WHERE tenant_id = 'bench' AND start_time > now64(9) - INTERVAL 30 MINUTE ORDER BY start_time DESC LIMIT 1",
  )) as [{ trace_id: string }];

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
  // A session cookie sealed exactly as the console seals it (same secret, same derivation).
  const now = Date.now();
  const sessionKey = loadConfig({ TROUPE_CONSOLE_SECRET: secret } as NodeJS.ProcessEnv).sessionKey;
  const cookie = `troupe_session=${sealSession({ key: consoleKey.key.secret, kind: "console", tenantId: "bench", iat: now, exp: now + 3_600_000 }, sessionKey)}`;

  const overview = await measure("overview (1h)", `${base}/`, cookie, "Top agents");
  const overview24h = await measure("overview (24h)", `${base}/?range=24h`, cookie, "Top agents");
  const detail = await measure("trace detail", `${base}/traces/${traceId}`, cookie, "chat gpt-4o-mini");

  console.log(JSON.stringify({
    console_overview_ttfb_ms: overview.total,
    console_overview_24h_ttfb_ms: overview24h.total,
    console_trace_detail_ttfb_ms: detail.total,
    console_overview_first_byte_ms: overview.firstByte,
    console_trace_detail_first_byte_ms: detail.firstByte,
    console_bench_spans: Number(n),
  }));
} finally {
  if (next && next.exitCode === null) {
    next.kill("SIGTERM");
    await new Promise((r) => next!.once("exit", r));
  }
  await collector?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
}
