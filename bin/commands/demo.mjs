// `troupe demo`: the demo workload against a running collector.
import { ensurePackagesBuilt } from "../lib/build.mjs";
import { adminKey, collectorUrl, dataDir, UsageError } from "../lib/config.mjs";
import { exitWithParent } from "../lib/supervisor.mjs";

export async function demoCommand(options) {
  const rate = Number(options.rate);
  if (!Number.isFinite(rate) || rate <= 0 || rate > 100) throw new UsageError(`--rate must be a number of pipelines per second, 0-100; got "${options.rate}"`);
  const env = process.env;
  ensurePackagesBuilt();
  const { startDemo } = await import("@troupe/examples/demo");
  const demo = await startDemo({
    collectorUrl: collectorUrl(options.collectorUrl),
    adminKey: adminKey(options.adminKey),
    dataDir: dataDir(),
    pipelinesPerSecond: rate,
    ...(env.OPENAI_API_KEY ? { openai: { apiKey: env.OPENAI_API_KEY, baseURL: env.OPENAI_BASE_URL || undefined, model: env.TROUPE_DEMO_MODEL || undefined } } : {}),
    ...(env.TROUPE_STATE_MASTER_KEY ? { stateMasterKey: env.TROUPE_STATE_MASTER_KEY } : {}),
    log: (line) => console.error(line),
  });
  if (!process.env.TROUPE_PARENT_PID) {
    for (const t of demo.tenants) console.log(`${t.id.padEnd(8)} console key ${t.consoleKey}   (${t.role})`);
  }
  let stopping = false;
  const stop = (reason) => {
    if (stopping) return;
    stopping = true;
    console.error(`demo: ${reason}; stopping`);
    setTimeout(() => process.exit(0), 8_000).unref();
    demo.stop().then(() => process.exit(0), () => process.exit(1));
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
  exitWithParent(process.env, () => stop("parent process gone"));
}
