import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "./support/free-port.js";

// The stack as a user starts it: `npm start` in a subprocess (the README's command), on free ports
// and a fresh data directory. Demo data of every demo tenant must reach the query API (its LLM
// calls as usage records, which every usage figure reads), `troupe report` must print the API's
// numbers, and Ctrl-C must leave no process behind.

const root = join(import.meta.dirname, "..");
const dataDir = mkdtempSync(join(tmpdir(), "troupe-stack-"));
let stack: ChildProcess;
let output = "";
let collectorUrl = "";
let adminKey = "";
let reportRange: { from: string; to: string; api: unknown } | undefined;

/** Process ids in the stack's process group that are still alive. */
function groupMembers(pgid: number): number[] {
  const ps = spawnSync("ps", ["-eo", "pid=,pgid="], { encoding: "utf8" });
  return ps.stdout
    .split("\n")
    .map((line) => line.trim().split(/\s+/).map(Number))
    .filter(([pid, group]) => group === pgid && pid !== undefined && !Number.isNaN(pid))
    .map(([pid]) => pid!);
}

async function api<T>(path: string): Promise<T> {
  const res = await fetch(`${collectorUrl}${path}`, { headers: { authorization: `Bearer ${adminKey}` } });
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status} ${await res.text()}`);
  return (res.headers.get("content-type") ?? "").includes("json") ? ((await res.json()) as T) : ((await res.text()) as T);
}

beforeAll(async () => {
  const [collectorPort, consolePort] = [await freePort(), await freePort()];
  collectorUrl = `http://127.0.0.1:${collectorPort}`;
  stack = spawn("npm", ["start"], {
    cwd: root,
    detached: true, // its own process group, as a terminal would give it
    env: { ...process.env, TROUPE_DATA_DIR: dataDir, TROUPE_COLLECTOR_PORT: String(collectorPort), TROUPE_CONSOLE_PORT: String(consolePort), TROUPE_ADMIN_KEY: "" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  stack.stdout!.on("data", (d) => (output += d));
  stack.stderr!.on("data", (d) => (output += d));
  const deadline = Date.now() + 240_000;
  while (!output.includes("Troupe is running")) {
    if (stack.exitCode !== null) throw new Error(`npm start exited early:\n${output}`);
    if (Date.now() > deadline) throw new Error(`npm start did not become ready:\n${output}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  adminKey = readFileSync(join(dataDir, "admin.key"), "utf8").trim();
}, 300_000);

afterAll(async () => {
  try {
    if (stack?.pid) process.kill(-stack.pid, "SIGKILL");
  } catch {
    // the group is already gone
  }
  rmSync(dataDir, { recursive: true, force: true });
});

describe("npm start", () => {
  it("prints the console and collector URLs and the keys", () => {
    expect(output).toMatch(/Console\s+http:\/\/127\.0\.0\.1:\d+/);
    expect(output).toContain(`Collector   ${collectorUrl}`);
    expect(output).toContain(`Admin key   ${adminKey}`);
    for (const tenant of ["acme", "globex", "initech"]) expect(output).toMatch(new RegExp(`${tenant}\\s+console key trp_console_`));
    expect(output).toContain("simulated model");
  });

  it("brings demo data of every demo tenant to the query API, LLM calls as usage records", async () => {
    const deadline = Date.now() + 60_000;
    let calls: Record<string, number> = {};
    for (;;) {
      for (const tenant of ["acme", "globex", "initech"]) {
        const usage = await api<{ totals: { calls: number } }>(`/api/v1/usage?tenant=${tenant}`);
        calls[tenant] = usage.totals.calls;
      }
      if (Object.values(calls).every((n) => n > 0)) break;
      if (Date.now() > deadline) throw new Error(`no demo data for some tenant within 60 s: ${JSON.stringify(calls)}`);
      await new Promise((r) => setTimeout(r, 1000));
    }
    const agents = await api<{ agents: Array<{ agentType: string }> }>("/api/v1/agents?tenant=globex");
    expect(agents.agents.map((a) => a.agentType)).toEqual(expect.arrayContaining(["planner", "researcher", "writer", "cruncher"]));
    calls = {};
  }, 90_000);

  it("runs the demo on the control plane: its runtime follows every demo tenant's settings and checks in", async () => {
    expect(output).toMatch(/following the collector's tenant settings/);
    for (const tenant of ["acme", "globex", "initech"]) {
      const { settingsVersion, runtimes } = await api<{ settingsVersion: number; runtimes: Array<{ name: string; appliedVersion: number }> }>(`/api/v1/admin/tenants/${tenant}/runtimes`);
      expect(runtimes.some((r) => r.name.startsWith("troupe-demo@") && r.appliedVersion >= settingsVersion), `${tenant}: ${JSON.stringify(runtimes)}`).toBe(true);
    }
  });

  it("troupe report prints the query API's numbers for the same range", async () => {
    const from = new Date(Date.now() - 3_600_000).toISOString();
    let to = "";
    for (;;) {
      to = new Date(Date.now() - 2_000).toISOString();
      const usage = await api<{ totals: { calls: number } }>(`/api/v1/usage?tenant=acme&from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`);
      if (usage.totals.calls > 0) break;
      await new Promise((r) => setTimeout(r, 1_000));
    }
    await new Promise((r) => setTimeout(r, 4_000)); // everything before `to` is exported and stored
    const cli = (format: string) =>
      spawnSync(process.execPath, [join(root, "bin/troupe.mjs"), "report", "--tenant", "acme", "--from", from, "--to", to, "--group-by", "model", "--format", format, "--collector-url", collectorUrl, "--admin-key", adminKey], {
        encoding: "utf8",
      });
    const json = cli("json");
    expect(json.status, json.stderr).toBe(0);
    const query = `tenant=acme&from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}&groupBy=model`;
    const fromApi = await api(`/api/v1/usage?${query}`);
    expect(JSON.parse(json.stdout)).toEqual(fromApi);
    reportRange = { from, to, api: fromApi };
    const csv = cli("csv");
    expect(csv.stdout).toBe(await api<string>(`/api/v1/usage?${query}&format=csv`));
    const table = cli("table");
    expect(table.stdout).toContain("TOTAL");
    expect(table.stdout).toContain("gpt-4o-mini");
    expect(table.stdout).toContain("CALLS counts every LLM call attempt");
  }, 60_000);

  it("stops every process on Ctrl-C", async () => {
    const pgid = stack.pid!;
    expect(groupMembers(pgid).length).toBeGreaterThanOrEqual(4); // npm, troupe start, collector, console, demo
    process.kill(-pgid, "SIGINT");
    const deadline = Date.now() + 30_000;
    while (groupMembers(pgid).length > 0) {
      if (Date.now() > deadline) throw new Error(`processes left after Ctrl-C: ${groupMembers(pgid).join(", ")}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(output).toContain("stopping");
  }, 40_000);

  it("troupe report --embedded reads the same numbers from the data directory once the stack is stopped", () => {
    expect(reportRange).toBeDefined();
    const { from, to, api: fromApi } = reportRange!;
    const result = spawnSync(process.execPath, [join(root, "bin/troupe.mjs"), "report", "--embedded", "--tenant", "acme", "--from", from, "--to", to, "--group-by", "model", "--format", "json"], {
      encoding: "utf8",
      env: { ...process.env, TROUPE_DATA_DIR: dataDir },
    });
    expect(result.status, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual(fromApi);
  }, 60_000);
});
