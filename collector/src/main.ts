// Entry point: `node --conditions=source --import tsx collector/src/main.ts` (or dist/main.js).
// Reads the environment, starts the collector, stops gracefully on SIGINT/SIGTERM.
import { CollectorConfigError, loadCollectorConfig } from "./config.js";
import { startCollector } from "./start-collector.js";

async function main(): Promise<void> {
  const config = loadCollectorConfig(process.env);
  const collector = await startCollector(config);
  process.stderr.write(
    `troupe collector listening on ${collector.url} (store: ${config.clickhouse ? `ClickHouse ${new URL(config.clickhouse.url).host}` : "embedded chDB"}, data: ${config.dataDir})\n`,
  );
  // Machine-readable readiness line for supervisors and tests.
  process.stdout.write(`${JSON.stringify({ event: "listening", url: collector.url, port: collector.port })}\n`);
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`troupe collector: ${signal}, flushing and stopping\n`);
    collector.close().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`troupe collector: error while stopping: ${(err as Error).message}\n`);
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
}

main().catch((err: unknown) => {
  process.stderr.write(`troupe collector: ${err instanceof CollectorConfigError ? err.message : (err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
