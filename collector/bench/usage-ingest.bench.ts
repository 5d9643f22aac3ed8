// Usage-record ingest throughput: real OTLP log exporters (protobuf, as the runtime sends usage
// records: 512-record batches) on loopback → POST /v1/logs → usage spool → deduplicating writer →
// chDB usage_records, sustained for a fixed window; the figure runs from the first export until
// every acknowledged record is stored, and every one of them is then counted in the table.
//
// Load runs in a child process (its own event loop and core); the collector and chDB run here.
// Progress on stderr, one JSON object on the last stdout line.
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { ReadableLogRecord } from "@opentelemetry/sdk-logs";

const WINDOW_MS = Number(process.env["BENCH_WINDOW_MS"] ?? 10_000);
/** The runtime's usage batch (DEFAULT_USAGE_BATCH.maxExportBatchSize). */
const BATCH_SIZE = Number(process.env["BENCH_USAGE_BATCH"] ?? 512);
const CONCURRENCY = Number(process.env["BENCH_CONCURRENCY"] ?? 8);

interface LoadParams {
  url: string;
  secret: string;
  tenant: string;
  windowMs: number;
}
interface LoadResult {
  acked: number;
  failed: number;
  /** Wall-clock time (Date.now()) when the first export started: the window starts there, not at the load process's start. */
  firstExportAtMs: number;
  /** CPU time (user + system) the load process spent, exporters included. */
  cpuUs: number;
}

const log = (msg: string): void => void process.stderr.write(`usage-ingest.bench: ${msg}\n`);

const loadParams = process.env["TROUPE_BENCH_USAGE_LOAD"];
if (loadParams === undefined) {
  await main();
} else {
  process.send!(await load(JSON.parse(loadParams) as LoadParams));
  process.disconnect();
}

async function main(): Promise<void> {
  const { startCollector, loadCollectorConfig } = await import("@troupe/collector");
  const dir = await mkdtemp(join(tmpdir(), "troupe-usage-bench-"));
  const collector = await startCollector({ ...loadCollectorConfig({ TROUPE_DATA_DIR: dir }), port: 0, host: "127.0.0.1" });
  const figures: Record<string, number> = {};
  try {
    const tenant = "bench-usage";
    await collector.registry.createTenant({ id: tenant });
    const { key } = await collector.registry.issueKey(tenant, "ingest");
    log(`${CONCURRENCY} protobuf log exporters x ${BATCH_SIZE}-record batches for ${WINDOW_MS} ms`);
    const cpuBefore = process.cpuUsage();
    const result = await new Promise<LoadResult>((resolve, reject) => {
      const params: LoadParams = { url: collector.url, secret: key.secret, tenant, windowMs: WINDOW_MS };
      // The load is an application's exporters: Node's default heap, not the collector's flags.
      const execArgv = process.execArgv.filter((flag) => !flag.startsWith("--initial-heap-size"));
      const child = fork(fileURLToPath(import.meta.url), [], { execArgv, env: { ...process.env, TROUPE_BENCH_USAGE_LOAD: JSON.stringify(params) }, stdio: ["ignore", "ignore", "inherit", "ipc"] });
      child.once("message", (m) => resolve(m as LoadResult));
      child.once("error", reject);
      child.once("exit", (code) => code !== 0 && reject(new Error(`load process exited with ${code}`)));
    });
    // From the first export (the load process takes about a second to start, which is not ingest time).
    const started = performance.now() - (Date.now() - result.firstExportAtMs);
    const ackedAt = performance.now();
    while (collector.usagePipeline.health().queueDepthRecords > 0) await sleep(10);
    const storedAt = performance.now();
    const cpu = process.cpuUsage(cpuBefore);
    const [row] = await collector.gateway.query<{ n: string; distinct: string }>(
      "SELECT toString(count()) AS n, toString(uniqExact(record_id)) AS distinct FROM usage_records WHERE tenant_id = {t:String}",
      { t: tenant },
    );
    const stored = Number(row?.n ?? 0);
    const ackRate = result.acked / ((ackedAt - started) / 1000);
    const e2eRate = result.acked / ((storedAt - started) / 1000);
    log(`acked ${result.acked} (${result.failed} failed exports) at ${Math.round(ackRate)}/s; all stored ${Math.round(storedAt - started)} ms after the first export → ${Math.round(e2eRate)} records/s end to end; stored ${stored}`);
    if (stored !== result.acked || Number(row?.distinct) !== stored) throw new Error(`${result.acked} usage records acknowledged but ${stored} stored (${row?.distinct} distinct)`);
    figures["usage_ingest_records_per_s"] = Math.round(e2eRate);
    figures["usage_ingest_ack_records_per_s"] = Math.round(ackRate);
    figures["usage_ingest_failed_exports"] = result.failed;
    // CPU per record (user + system): the collector process (HTTP, decode, validation, spool, writer, chDB threads) and the exporters.
    const collectorUs = (cpu.user + cpu.system) / Math.max(1, result.acked);
    const exporterUs = result.cpuUs / Math.max(1, result.acked);
    log(`CPU per record: collector ${collectorUs.toFixed(1)} µs, exporters ${exporterUs.toFixed(1)} µs`);
    figures["usage_ingest_collector_cpu_us_per_record"] = round2(collectorUs);
    figures["usage_ingest_exporter_cpu_us_per_record"] = round2(exporterUs);
  } finally {
    await collector.close();
    await rm(dir, { recursive: true, force: true });
  }
  process.stdout.write(`${JSON.stringify(figures)}\n`);
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Load process: CONCURRENCY real protobuf log exporters sending BATCH_SIZE usage records back to back for the window. */
async function load(params: LoadParams): Promise<LoadResult> {
  const { ExportResultCode } = await import("@opentelemetry/core");
  const { resourceFromAttributes } = await import("@opentelemetry/resources");
  const { OTLPLogExporter } = await import("@opentelemetry/exporter-logs-otlp-proto");
  const { USAGE_ATTR, USAGE_EVENT_NAME } = await import("@troupe/runtime");

  const resource = resourceFromAttributes({ "service.name": "bench-runtime", "host.name": "bench" });
  const scope = { name: "@troupe/runtime", version: "0.1.0" };
  // Ids are UUIDs: a per-process random prefix and a counter in the last group.
  const prefix = randomBytes(10).toString("hex");
  const idPrefix = `${prefix.slice(0, 8)}-${prefix.slice(8, 12)}-4${prefix.slice(13, 16)}-8${prefix.slice(17, 20)}-`;
  let counter = 0;
  const startMs = Date.now();

  // ReadableLogRecords as the SDK hands them to exporters, one per LLM call, as the runtime emits
  // them. Each exporter reuses one batch of record objects and renumbers them before each export (the
  // export is settled by then), so the load process spends its CPU on exporting, not on making objects.
  type MutableRecord = { attributes: Record<string, string | number | boolean>; hrTime: [number, number]; record: ReadableLogRecord };
  const makeBatch = (): MutableRecord[] =>
    Array.from({ length: BATCH_SIZE }, (_, k) => {
      const attributes: Record<string, string | number | boolean> = {
        [USAGE_ATTR.id]: "",
        [USAGE_ATTR.tenantId]: params.tenant,
        [USAGE_ATTR.agentType]: `agent-${k % 7}`,
        [USAGE_ATTR.model]: "gpt-4o-mini",
        [USAGE_ATTR.responseModel]: "gpt-4o-mini-2024-07-18",
        [USAGE_ATTR.provider]: "openai",
        [USAGE_ATTR.inputTokens]: 100 + ((k * 37) % 900),
        [USAGE_ATTR.outputTokens]: 20 + ((k * 11) % 300),
        [USAGE_ATTR.cachedInputTokens]: (k * 13) % 64,
        [USAGE_ATTR.costUsd]: 0.00042 + k * 1e-7,
        [USAGE_ATTR.outcome]: k % 50 === 0 ? "error" : "ok",
      };
      const hrTime: [number, number] = [0, 0];
      const record = {
        hrTime,
        hrTimeObserved: hrTime,
        eventName: USAGE_EVENT_NAME,
        resource,
        instrumentationScope: scope,
        attributes,
        droppedAttributesCount: 0,
      } as unknown as ReadableLogRecord;
      return { attributes, hrTime, record };
    });
  const renumber = (batch: MutableRecord[]): ReadableLogRecord[] =>
    batch.map(({ attributes, hrTime, record }) => {
      const i = counter++;
      attributes[USAGE_ATTR.id] = idPrefix + i.toString(16).padStart(12, "0");
      // One record per microsecond from the start (seconds and nanoseconds apart: their sum exceeds 2^53).
      const nanos = (startMs % 1000) * 1e6 + i * 1000;
      hrTime[0] = Math.floor(startMs / 1000) + Math.floor(nanos / 1e9);
      hrTime[1] = nanos % 1e9;
      return record;
    });

  let acked = 0;
  let failed = 0;
  const deadline = Date.now() + params.windowMs;
  const firstExportAtMs = Date.now();
  const cpuBefore = process.cpuUsage();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      const exporter = new OTLPLogExporter({ url: `${params.url}/v1/logs`, headers: { Authorization: `Bearer ${params.secret}` }, timeoutMillis: 60_000 });
      const records = makeBatch();
      while (Date.now() < deadline) {
        const batch = renumber(records);
        const code = await new Promise<number>((resolve) => exporter.export(batch, (r) => resolve(r.code)));
        if (code === ExportResultCode.SUCCESS) acked += batch.length;
        else failed++;
      }
      await exporter.shutdown();
    }),
  );
  const cpu = process.cpuUsage(cpuBefore);
  return { acked, failed, firstExportAtMs, cpuUs: cpu.user + cpu.system };
}
