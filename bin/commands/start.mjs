// `troupe start`: the embedded stack in one process group — collector on chDB, console, demo.
import { join } from "node:path";
import { ensureConsoleBuilt, ensurePackagesBuilt, root } from "../lib/build.mjs";
import { COLLECTOR_NODE_FLAGS, adminKey, dataDir, port } from "../lib/config.mjs";
import { Supervisor, waitForHttp } from "../lib/supervisor.mjs";

const troupe = join(root, "bin", "troupe.mjs");

export async function startCommand(options) {
  const started = Date.now();
  const dir = dataDir();
  const key = adminKey();
  const collectorPort = port(process.env.TROUPE_COLLECTOR_PORT, "TROUPE_COLLECTOR_PORT", 4318);
  const consolePort = port(process.env.TROUPE_CONSOLE_PORT, "TROUPE_CONSOLE_PORT", 3000);
  const collector = `http://127.0.0.1:${collectorPort}`;
  const log = (line) => console.error(`troupe: ${line}`);

  log(`data directory ${dir}`);
  ensurePackagesBuilt(log);
  if (options.console) ensureConsoleBuilt(log);

  const supervisor = new Supervisor((code) => process.exit(code));
  const env = { TROUPE_DATA_DIR: dir, TROUPE_ADMIN_KEY: key, TROUPE_COLLECTOR_URL: collector };
  try {
    log("starting the collector (embedded chDB) ...");
    const collectorChild = supervisor.spawn("collector", [...COLLECTOR_NODE_FLAGS, troupe, "collector"], env);
    await waitForHttp(`${collector}/readyz`, 60_000, () => collectorChild.exitCode === null);

    let consoleUrl;
    if (options.console) {
      log("starting the console ...");
      const consoleChild = supervisor.spawn("console", [troupe, "console"], env);
      consoleUrl = `http://127.0.0.1:${consolePort}`;
      await waitForHttp(`${consoleUrl}/healthz`, 60_000, () => consoleChild.exitCode === null);
    }

    let demoKeys;
    if (options.demo) {
      log("starting the demo workload ...");
      const demoChild = supervisor.spawn("demo", [troupe, "demo"], env);
      demoKeys = await waitForDemoKeys(dir, demoChild.pid, () => demoChild.exitCode === null);
    }

    const lines = [
      "",
      `Troupe is running (ready in ${((Date.now() - started) / 1000).toFixed(1)} s). Ctrl-C stops everything.`,
      "",
      consoleUrl ? `  Console     ${consoleUrl}` : "  Console     (not started: --no-console)",
      `  Collector   ${collector}   (OTLP/HTTP: POST ${collector}/v1/traces)`,
      `  Data        ${dir}`,
      "",
      `  Admin key   ${key}`,
    ];
    for (const tenant of demoKeys ?? []) {
      lines.push(`  ${tenant.id.padEnd(10)}  console key ${tenant.consoleKey}   (${tenant.role})`);
    }
    console.log(lines.join("\n") + "\n");
  } catch (err) {
    supervisor.stop(1, err instanceof Error ? err.message : String(err));
  }
}

/** Waits for this demo process to write the keys of its tenants (created on the first start). */
async function waitForDemoKeys(dir, pid, isAlive) {
  const { readFile } = await import("node:fs/promises");
  const file = join(dir, "demo", "tenants.json");
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (!isAlive()) throw new Error("the demo exited before it was ready");
    try {
      const state = JSON.parse(await readFile(file, "utf8"));
      if (state.ready && state.pid === pid) return state.tenants;
    } catch {
      // not written yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`the demo did not become ready in 60 s (no ${file})`);
}
