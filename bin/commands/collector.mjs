// `troupe collector`: the collector process (embedded chDB, or a ClickHouse server).
import { ensurePackagesBuilt } from "../lib/build.mjs";
import { COLLECTOR_NODE_FLAGS, adminKey, dataDir, port, UsageError } from "../lib/config.mjs";
import { exitWithParent } from "../lib/supervisor.mjs";

export async function collectorCommand(options) {
  const env = { ...process.env };
  if (options.dataDir) env.TROUPE_DATA_DIR = options.dataDir;
  if (options.port !== undefined) env.TROUPE_COLLECTOR_PORT = String(port(options.port, "--port", 4318));
  env.TROUPE_COLLECTOR_HOST = options.host ?? env.TROUPE_COLLECTOR_HOST ?? "127.0.0.1";
  env.TROUPE_DATA_DIR = dataDir(env);
  env.TROUPE_ADMIN_KEY = adminKey(options.adminKey, env);

  ensurePackagesBuilt();
  const { loadCollectorConfig, startCollector, CollectorConfigError } = await import("@troupe/collector");
  let config;
  try {
    config = loadCollectorConfig(env);
  } catch (err) {
    if (err instanceof CollectorConfigError) throw new UsageError(err.message);
    throw err;
  }
  const collector = await startCollector(config);
  const store = config.clickhouse ? `ClickHouse server ${new URL(config.clickhouse.url).host}` : `embedded chDB in ${config.dataDir}`;
  console.error(`collector listening on ${collector.url} (${store})`);
  if (!COLLECTOR_NODE_FLAGS.every((flag) => process.execArgv.includes(flag))) {
    console.error(`collector: tip: start it as \`node ${COLLECTOR_NODE_FLAGS.join(" ")} bin/troupe.mjs collector\` (as troupe start and the image do): fewer full GCs while ingesting, ~18% less CPU per span`);
  }

  let stopping = false;
  const stop = (reason) => {
    if (stopping) return;
    stopping = true;
    console.error(`collector: ${reason}; flushing and stopping`);
    collector.close().then(
      () => process.exit(0),
      (err) => {
        console.error(`collector: error while stopping: ${err.message}`);
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
  exitWithParent(process.env, () => stop("parent process gone"));
}
