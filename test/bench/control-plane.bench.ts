// The control plane's two costs: how long a settings change takes to reach a running runtime, and
// what following costs a runtime that nothing changes for.
//
// The collector (chDB) runs here with 1,000 tenants; the runtime side runs in a child process (its
// own event loop and CPU account): followControlPlane with a service key for all 1,000 tenants,
// applying to real LlmClients and a runtime target that reports each applied tenant config back.
// - settings_propagation_ms: from the admin API's answer to a PUT to the child applying it (p50,
//   p95 over CHANGES changes of one tenant's scheduler weight).
// - idle_settings_cpu_ms_per_min: the child's CPU (user + system) over IDLE_MS with no changes,
//   per minute: long polls answered 304 and periodic usage reads included.
// Progress on stderr, one JSON object on the last stdout line.
import { fork } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const TENANTS = Number(process.env["BENCH_CONTROL_TENANTS"] ?? 1_000);
const CHANGES = Number(process.env["BENCH_CONTROL_CHANGES"] ?? 30);
const IDLE_MS = Number(process.env["BENCH_CONTROL_IDLE_MS"] ?? 60_000);
const WATCHED = "t0042";

interface ChildParams {
  url: string;
  apiKey: string;
  tenants: string[];
  cacheFile: string;
}
type ChildMessage = { kind: "ready" } | { kind: "applied"; tenant: string; weight: number | undefined; atMs: number } | { kind: "idle"; cpuMs: number; elapsedMs: number };
type ParentMessage = { kind: "measure-idle"; ms: number } | { kind: "stop" };

const log = (msg: string): void => void process.stderr.write(`control-plane.bench: ${msg}\n`);

const childParams = process.env["TROUPE_BENCH_CONTROL_CHILD"];
if (childParams === undefined) await main();
else await child(JSON.parse(childParams) as ChildParams);

async function main(): Promise<void> {
  const { startCollector, loadCollectorConfig } = await import("@troupe/collector");
  const dir = await mkdtemp(join(tmpdir(), "troupe-control-bench-"));
  const adminKey = `trp_admin_${randomBytes(18).toString("base64url")}`;
  const collector = await startCollector({ ...loadCollectorConfig({ TROUPE_DATA_DIR: dir, TROUPE_ADMIN_KEY: adminKey }), port: 0, host: "127.0.0.1" });
  try {
    const ids = Array.from({ length: TENANTS }, (_, i) => `t${String(i).padStart(4, "0")}`);
    log(`creating ${TENANTS} tenants ...`);
    for (const id of ids) await collector.registry.createTenant({ id, budgets: { dailyTokens: 1_000_000 } });
    const serviceKey = await collector.registry.issueServiceKey(ids);

    const execArgv = process.execArgv.filter((flag) => !flag.startsWith("--initial-heap-size") && !flag.startsWith("--max-semi-space"));
    const params: ChildParams = { url: collector.url, apiKey: serviceKey.secret, tenants: ids, cacheFile: join(dir, "control-cache.json") };
    const runtime = fork(fileURLToPath(import.meta.url), [], { env: { ...process.env, TROUPE_BENCH_CONTROL_CHILD: JSON.stringify(params) }, execArgv, stdio: ["ignore", "inherit", "inherit", "ipc"] });
    const messages: ChildMessage[] = [];
    const waiters: Array<() => void> = [];
    runtime.on("message", (m: ChildMessage) => {
      messages.push(m);
      for (const w of waiters.splice(0)) w();
    });
    const next = async (match: (m: ChildMessage) => boolean, timeoutMs: number): Promise<ChildMessage> => {
      const t0 = Date.now();
      for (;;) {
        const i = messages.findIndex(match);
        if (i >= 0) return messages.splice(i, 1)[0]!;
        if (Date.now() - t0 > timeoutMs) throw new Error(`no matching message from the runtime within ${timeoutMs} ms`);
        await new Promise<void>((r) => {
          waiters.push(r);
          setTimeout(r, 100);
        });
      }
    };
    await next((m) => m.kind === "ready", 60_000);
    log(`runtime following ${TENANTS} tenants; ${CHANGES} changes of ${WATCHED}'s weight ...`);

    const latencies: number[] = [];
    for (let i = 0; i < CHANGES; i++) {
      const weight = 2 + (i % 7);
      const res = await fetch(`${collector.url}/api/v1/admin/tenants/${WATCHED}`, {
        method: "PUT",
        headers: { authorization: `Bearer ${adminKey}`, "content-type": "application/json" },
        body: JSON.stringify({ quotas: { weight } }),
      });
      const answeredAtMs = Date.now();
      if (!res.ok) throw new Error(`PUT answered ${res.status}: ${await res.text()}`);
      const applied = await next((m) => m.kind === "applied" && m.tenant === WATCHED && m.weight === weight, 30_000);
      latencies.push(Math.max(0, (applied as { atMs: number }).atMs - answeredAtMs));
      messages.length = 0;
      await new Promise((r) => setTimeout(r, 200));
    }
    latencies.sort((a, b) => a - b);
    const pct = (p: number): number => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]!;

    log(`idle for ${IDLE_MS} ms ...`);
    runtime.send({ kind: "measure-idle", ms: IDLE_MS } satisfies ParentMessage);
    const idle = (await next((m) => m.kind === "idle", IDLE_MS + 60_000)) as { cpuMs: number; elapsedMs: number };
    runtime.send({ kind: "stop" } satisfies ParentMessage);

    const figures = {
      control_tenants_followed: TENANTS,
      settings_propagation_ms_p50: round(pct(0.5)),
      settings_propagation_ms_p95: round(pct(0.95)),
      settings_propagation_ms_max: round(latencies[latencies.length - 1]!),
      idle_settings_cpu_ms_per_min: round((idle.cpuMs / idle.elapsedMs) * 60_000),
      idle_settings_window_ms: idle.elapsedMs,
    };
    log(JSON.stringify(figures));
    console.log(JSON.stringify(figures));
  } finally {
    await collector.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/** The runtime side: follows every tenant, reports each applied weight of the watched tenant. */
async function child(params: ChildParams): Promise<void> {
  const { LlmClients, followControlPlane } = await import("@troupe/runtime");
  const llm = new LlmClients({ config: Object.fromEntries(params.tenants.map((t) => [t, { apiKey: "unused", defaultModel: "gpt-4o-mini" }])) });
  const runtime = {
    setManagedTenantConfig(tenant: string, config: { quotas: { weight: number | null } } | undefined): void {
      if (tenant === WATCHED) process.send!({ kind: "applied", tenant, weight: config?.quotas.weight ?? undefined, atMs: Date.now() } satisfies ChildMessage);
    },
  };
  const control = followControlPlane({ collectorUrl: params.url, apiKey: params.apiKey, runtime, llm, cacheFile: params.cacheFile, log: (line) => log(`runtime: ${line}`) });
  await control.ready;
  process.send!({ kind: "ready" } satisfies ChildMessage);
  process.on("message", (m: ParentMessage) => {
    if (m.kind === "measure-idle") {
      const cpu0 = process.cpuUsage();
      const t0 = Date.now();
      setTimeout(() => {
        const cpu = process.cpuUsage(cpu0);
        process.send!({ kind: "idle", cpuMs: (cpu.user + cpu.system) / 1_000, elapsedMs: Date.now() - t0 } satisfies ChildMessage);
      }, m.ms);
    } else {
      void control.stop().then(() => process.exit(0));
    }
  });
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}
