// The control plane's two costs: how long a settings change takes to reach a running runtime, and
// what following costs a runtime that nothing changes for.
//
// The collector (chDB) runs here with 1,000 tenants; the runtime side runs in a child process as it
// ships (control-plane-runtime.mjs on the built packages: its own event loop and CPU account):
// followControlPlane with a service key for all 1,000 tenants, each with a daily token budget,
// applying to real LlmClients and a runtime target that reports each applied tenant config back.
// - settings_propagation_ms: from the admin API's answer to a PUT to the child applying it (p50,
//   p95 over CHANGES changes of one tenant's scheduler weight).
// - idle_settings_cpu_ms_per_min: the child's CPU (user + system) over IDLE_MS with no changes,
//   SETTLE_MS after it first read the settings (start-up work done), per minute: long polls
//   answered 304 and usage reads included. Measured before the changes: the figure is a runtime
//   that nothing changes for, not one collecting the garbage of a burst of full settings answers.
// Progress on stderr, one JSON object on the last stdout line.
import { fork, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const TENANTS = Number(process.env["BENCH_CONTROL_TENANTS"] ?? 1_000);
const CHANGES = Number(process.env["BENCH_CONTROL_CHANGES"] ?? 30);
const IDLE_MS = Number(process.env["BENCH_CONTROL_IDLE_MS"] ?? 60_000);
const SETTLE_MS = Number(process.env["BENCH_CONTROL_SETTLE_MS"] ?? 30_000);
const WATCHED = "t0042";

interface ChildParams {
  url: string;
  apiKey: string;
  tenants: string[];
  cacheFile: string;
  watched: string;
}
type ChildMessage = { kind: "ready" } | { kind: "applied"; tenant: string; weight: number | undefined; atMs: number } | { kind: "idle"; cpuMs: number; elapsedMs: number };
type ParentMessage = { kind: "measure-idle"; ms: number } | { kind: "stop" };

const log = (msg: string): void => void process.stderr.write(`control-plane.bench: ${msg}\n`);

await main();

async function main(): Promise<void> {
  // The runtime side runs the built packages: build them when a source changed (as the test suite does).
  const root = fileURLToPath(new URL("../..", import.meta.url));
  const build = spawnSync(process.execPath, ["--input-type=module", "-e", "(await import('./bin/lib/build.mjs')).ensurePackagesBuilt()"], { cwd: root, stdio: "inherit" });
  if (build.status !== 0) throw new Error(`building the packages failed (exit ${build.status ?? build.signal})`);
  const { startCollector, loadCollectorConfig } = await import("@troupe/collector");
  const dir = await mkdtemp(join(tmpdir(), "troupe-control-bench-"));
  const adminKey = `trp_admin_${randomBytes(18).toString("base64url")}`;
  const collector = await startCollector({ ...loadCollectorConfig({ TROUPE_DATA_DIR: dir, TROUPE_ADMIN_KEY: adminKey }), port: 0, host: "127.0.0.1" });
  try {
    const ids = Array.from({ length: TENANTS }, (_, i) => `t${String(i).padStart(4, "0")}`);
    log(`creating ${TENANTS} tenants ...`);
    for (const id of ids) await collector.registry.createTenant({ id, budgets: { dailyTokens: 1_000_000 } });
    const serviceKey = await collector.registry.issueServiceKey(ids);

    const params: ChildParams = { url: collector.url, apiKey: serviceKey.secret, tenants: ids, cacheFile: join(dir, "control-cache.json"), watched: WATCHED };
    const runtime = fork(fileURLToPath(new URL("./control-plane-runtime.mjs", import.meta.url)), [], {
      env: { ...process.env, TROUPE_BENCH_CONTROL_CHILD: JSON.stringify(params) },
      execArgv: [],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
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
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    log(`idle for ${IDLE_MS} ms ...`);
    runtime.send({ kind: "measure-idle", ms: IDLE_MS } satisfies ParentMessage);
    const idle = (await next((m) => m.kind === "idle", IDLE_MS + 60_000)) as { cpuMs: number; elapsedMs: number };
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

function round(n: number): number {
  return Math.round(n * 10) / 10;
}
