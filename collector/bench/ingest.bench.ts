// Ingest throughput: real OTLP exporters (JSON and protobuf) on loopback → collector → spool →
// chDB, sustained for a fixed window, then every acknowledged span is counted in the store. Also
// the raw store limit (the same rows inserted straight into the chDB span store) and the ratio.
//
// Load runs in a child process (its own event loop and core); the collector and chDB run here.
// Progress on stderr, one JSON object on the last stdout line.
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { ReadableSpan } from "@opentelemetry/sdk-trace-base";
import type { SpanRow } from "@troupe/collector";

const WINDOW_MS = Number(process.env["BENCH_WINDOW_MS"] ?? 10_000);
const RAW_WINDOW_MS = Number(process.env["BENCH_RAW_WINDOW_MS"] ?? 8_000);
const BATCH_SIZE = 4096;
const CONCURRENCY = Number(process.env["BENCH_CONCURRENCY"] ?? 8);
/** Which loads to measure (figure suffixes, comma-separated), e.g. BENCH_INGEST_LOADS=protobuf while profiling one. */
const ONLY = process.env["BENCH_INGEST_LOADS"]?.split(",");

/**
 * A load: the wire format and the exporter sending it. `runtime` is the exporter Troupe's runtime
 * ships (OTel's OTLPExporterBase and HTTP transport with a serializer proven byte-identical to the
 * stock one, at a third of its CPU); `stock` is @opentelemetry/exporter-trace-otlp-{http,proto}.
 */
interface Load {
  format: "json" | "protobuf";
  exporter: "stock" | "runtime";
  /** Suffix of the figures' names. */
  figure: string;
}

const LOADS: Load[] = [
  { format: "json", exporter: "stock", figure: "json" },
  { format: "protobuf", exporter: "runtime", figure: "protobuf" },
  { format: "protobuf", exporter: "stock", figure: "protobuf_stock_exporter" },
];

interface LoadParams {
  url: string;
  secret: string;
  tenant: string;
  format: "json" | "protobuf";
  exporter: "stock" | "runtime";
  windowMs: number;
}
interface LoadResult {
  acked: number;
  failed: number;
  elapsedMs: number;
  /** Wall-clock time (Date.now()) when the first export started: the window starts there, not at the load process's start. */
  firstExportAtMs: number;
  /** CPU time (user + system) the load process spent, exporters included. */
  cpuUs: number;
}

const log = (msg: string): void => void process.stderr.write(`ingest.bench: ${msg}\n`);

const loadParams = process.env["TROUPE_BENCH_LOAD"];
if (loadParams === undefined) {
  await main();
} else {
  process.send!(await load(JSON.parse(loadParams) as LoadParams));
  process.disconnect();
}

async function main(): Promise<void> {
  const { startCollector, loadCollectorConfig } = await import("@troupe/collector");
  const dir = await mkdtemp(join(tmpdir(), "troupe-ingest-bench-"));
  const collector = await startCollector({ ...loadCollectorConfig({ TROUPE_DATA_DIR: dir }), port: 0, host: "127.0.0.1" });
  const figures: Record<string, number> = {};
  try {
    for (const { format, exporter, figure } of LOADS.filter((l) => ONLY === undefined || ONLY.includes(l.figure))) {
      await freshStore(collector.gateway);
      const tenant = `bench-${figure.replaceAll("_", "-")}`;
      await collector.registry.createTenant({ id: tenant });
      const { key } = await collector.registry.issueKey(tenant, "ingest");
      log(`${figure}: ${CONCURRENCY} ${exporter} ${format} exporters x ${BATCH_SIZE}-span batches for ${WINDOW_MS} ms`);
      const cpuBefore = process.cpuUsage();
      const result = await new Promise<LoadResult>((resolve, reject) => {
        const params: LoadParams = { url: collector.url, secret: key.secret, tenant, format, exporter, windowMs: WINDOW_MS };
        // The load is an application's exporters: Node's default heap, not the collector's flags.
        const execArgv = process.execArgv.filter((flag) => !flag.startsWith("--initial-heap-size"));
        const child = fork(fileURLToPath(import.meta.url), [], { execArgv, env: { ...process.env, TROUPE_BENCH_LOAD: JSON.stringify(params) }, stdio: ["ignore", "ignore", "inherit", "ipc"] });
        child.once("message", (m) => resolve(m as LoadResult));
        child.once("error", reject);
        child.once("exit", (code) => code !== 0 && reject(new Error(`load process exited with ${code}`)));
      });
      // From the first export (the load process takes about a second to start, which is not ingest time).
      const started = performance.now() - (Date.now() - result.firstExportAtMs);
      const ackedAt = performance.now();
      while (collector.pipeline.health().queueDepthSpans > 0) await sleep(20);
      const storedAt = performance.now();
      const cpu = process.cpuUsage(cpuBefore);
      const [row] = await collector.gateway.query<{ n: string }>("SELECT toString(count()) AS n FROM spans FINAL WHERE tenant_id = {t:String}", { t: tenant });
      const stored = Number(row?.n ?? 0);
      const ackRate = result.acked / ((ackedAt - started) / 1000);
      const e2eRate = result.acked / ((storedAt - started) / 1000);
      log(`${figure}: acked ${result.acked} (${result.failed} failed exports) at ${Math.round(ackRate)}/s; all stored ${Math.round(storedAt - started)} ms after the first export → ${Math.round(e2eRate)} spans/s end to end; stored ${stored}`);
      if (stored !== result.acked) throw new Error(`${figure}: ${result.acked} spans acknowledged but ${stored} stored`);
      figures[`ingest_spans_per_s_${figure}`] = Math.round(e2eRate);
      figures[`ingest_ack_spans_per_s_${figure}`] = Math.round(ackRate);
      figures[`ingest_failed_exports_${figure}`] = result.failed;
      // CPU per span (user + system): the collector process (HTTP, decode, spool, chDB threads) and the exporters.
      const collectorUs = (cpu.user + cpu.system) / Math.max(1, result.acked);
      const exporterUs = result.cpuUs / Math.max(1, result.acked);
      log(`${figure}: CPU per span: collector ${collectorUs.toFixed(1)} µs, exporters ${exporterUs.toFixed(1)} µs`);
      figures[`ingest_collector_cpu_us_per_span_${figure}`] = round2(collectorUs);
      figures[`ingest_exporter_cpu_us_per_span_${figure}`] = round2(exporterUs);
    }

    Object.assign(figures, await decoderFigures());

    await freshStore(collector.gateway);
    const RAW_BATCH = Number(process.env["BENCH_RAW_BATCH_ROWS"] ?? 50_000);
    log(`raw store: ${RAW_BATCH}-row inserts for ${RAW_WINDOW_MS} ms`);
    const rows = spanRows("bench-raw", RAW_BATCH);
    let inserted = 0;
    let rawIds = 1;
    const rawCpuBefore = process.cpuUsage();
    const rawStart = performance.now();
    while (performance.now() - rawStart < RAW_WINDOW_MS) {
      // Fresh span ids per insert (so nothing collapses), cheap enough not to be measured in place of the store.
      for (const r of rows) r.spanId = (rawIds++).toString(16).padStart(16, "0");
      await collector.store.insertSpans(rows, randomUUID());
      inserted += rows.length;
    }
    const raw = inserted / ((performance.now() - rawStart) / 1000);
    const rawCpu = process.cpuUsage(rawCpuBefore);
    const rawUs = (rawCpu.user + rawCpu.system) / Math.max(1, inserted);
    log(`raw store: ${inserted} rows at ${Math.round(raw)} rows/s, ${rawUs.toFixed(1)} µs CPU per row`);
    figures["raw_store_cpu_us_per_row"] = round2(rawUs);
    figures["raw_store_insert_rows_per_s"] = Math.round(raw);
    figures["ingest_to_raw_ratio_json"] = round2((figures["ingest_spans_per_s_json"] ?? 0) / raw);
    figures["ingest_to_raw_ratio_protobuf"] = round2((figures["ingest_spans_per_s_protobuf"] ?? 0) / raw);
    figures["ingest_to_raw_ratio_protobuf_stock_exporter"] = round2((figures["ingest_spans_per_s_protobuf_stock_exporter"] ?? 0) / raw);
  } finally {
    await collector.close();
    await rm(dir, { recursive: true, force: true });
  }
  process.stdout.write(`${JSON.stringify(figures)}\n`);
}

/**
 * The protobuf decoding paths on one 4096-span export request, single thread, best of 15
 * alternating runs: protobufjs (why the collector has its own wire decoder), the wire decoder
 * (validation and attribute filtering included), and the whole of ingest's CPU work from body to
 * span block by the general path (wire decoder, rows, block) and by the direct path (wire straight
 * into the block), which ordinary requests take.
 */
async function decoderFigures(): Promise<Record<string, number>> {
  const { decodeProtobufTraces } = await import("../src/ingest/decode-protobuf.js");
  const { decodeProtobufTracesWire } = await import("../src/ingest/decode-protobuf-wire.js");
  const { decodeProtobufSpanBlock } = await import("../src/ingest/protobuf-span-block.js");
  const { buildSpanRows } = await import("../src/ingest/span-rows.js");
  const { encodeSpanBlock } = await import("../src/store/span-block.js");
  const { DEFAULT_INGEST_LIMITS } = await import("../src/ingest/ingest-limits.js");
  const { otlpTraceRequestFromRows } = await import("../src/pipeline/otlp-encode.js");
  const { SPAN_ATTRIBUTE_ALLOW_LIST, RESOURCE_ATTRIBUTE_ALLOW_LIST, EVENT_ATTRIBUTE_ALLOW_LIST } = await import("@troupe/runtime");
  const allow = { span: SPAN_ATTRIBUTE_ALLOW_LIST, resource: RESOURCE_ATTRIBUTE_ALLOW_LIST, event: EVENT_ATTRIBUTE_ALLOW_LIST };
  const body = Buffer.from(otlpTraceRequestFromRows(spanRows("decode", 4096), "protobuf") as Uint8Array);
  const principal = { kind: "tenant-ingest" as const, keyId: "bench", tenantId: "decode" };
  const limits = DEFAULT_INGEST_LIMITS;
  const paths: Record<string, () => unknown> = {
    protobufjs: () => decodeProtobufTraces(body, limits),
    wire: () => decodeProtobufTracesWire(body, limits, allow),
    general_to_block: () => encodeSpanBlock(buildSpanRows(decodeProtobufTracesWire(body, limits, allow), principal, limits).rows, () => 30),
    direct_to_block: () => {
      const direct = decodeProtobufSpanBlock(body, principal, limits);
      if (direct === undefined) throw new Error("the bench request did not take the direct path");
      return direct.builder.finish(() => 30);
    },
  };
  const best = Object.fromEntries(Object.keys(paths).map((k) => [k, Infinity]));
  for (let round = 0; round < 15; round++) {
    for (const [name, run] of Object.entries(paths)) {
      const t = performance.now();
      run();
      best[name] = Math.min(best[name]!, performance.now() - t);
    }
  }
  const figures = Object.fromEntries(Object.entries(best).map(([name, ms]) => [`decode_protobuf_spans_per_s_${name}`, Math.round(4096 / (ms / 1000))]));
  log(`decoders (spans/s): ${Object.entries(figures).map(([k, v]) => `${k.replace("decode_protobuf_spans_per_s_", "")} ${v}`).join(", ")}`);
  return figures;
}

/**
 * Each figure is taken on an empty spans table with no merges running: the previous load's parts
 * (and their merges) would otherwise run in its window, so figures would depend on their order.
 * How a growing table holds up is what BENCH_WINDOW_MS=30000 shows (see the README).
 */
async function freshStore(gateway: { query<T>(sql: string): Promise<T[]>; command(sql: string): Promise<void> }): Promise<void> {
  await gateway.command("TRUNCATE TABLE spans");
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const [row] = await gateway.query<{ n: string }>("SELECT toString(count()) AS n FROM system.merges");
    if (Number(row?.n ?? 0) === 0) return;
    await sleep(250);
  }
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Rows as the filter produces them from the load's spans (for the raw store figure). */
function spanRows(tenant: string, n: number): SpanRow[] {
  const start = BigInt(Date.now()) * 1_000_000n;
  return Array.from({ length: n }, (_, i) => ({
    tenantId: tenant,
    traceId: randomBytes(16).toString("hex"),
    spanId: randomBytes(8).toString("hex"),
    parentSpanId: i % 4 === 0 ? "" : randomBytes(8).toString("hex"),
    name: "chat gpt-4o-mini",
    kind: 3,
    startTimeUnixNano: (start + BigInt(i)).toString(),
    durationNs: 250_000_000,
    statusCode: i % 50 === 0 ? 2 : 1,
    serviceName: "bench-runtime",
    attributes: spanAttributes(tenant, i),
    resourceAttributes: { "service.name": "bench-runtime", "telemetry.sdk.language": "nodejs", "telemetry.sdk.name": "opentelemetry", "telemetry.sdk.version": "2.0.0", "troupe.tenant.id": tenant },
  }));
}

function spanAttributes(tenant: string, i: number): Record<string, string> {
  return {
    "troupe.tenant.id": tenant,
    "troupe.agent.type": `agent-${i % 7}`,
    "troupe.agent.key": `k-${i % 100}`,
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "openai",
    "gen_ai.request.model": "gpt-4o-mini",
    "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
    "gen_ai.usage.input_tokens": String(100 + (i % 900)),
    "gen_ai.usage.output_tokens": String(20 + (i % 300)),
    "troupe.llm.cost_usd": "0.00042",
    "troupe.turn.outcome": "ok",
  };
}

/** Load process: CONCURRENCY real exporters sending BATCH_SIZE-span batches back to back for the window. */
async function load(params: LoadParams): Promise<LoadResult> {
  const { ExportResultCode } = await import("@opentelemetry/core");
  const { resourceFromAttributes } = await import("@opentelemetry/resources");
  const Exporter =
    params.format === "json"
      ? (await import("@opentelemetry/exporter-trace-otlp-http")).OTLPTraceExporter
      : params.exporter === "runtime"
        ? (await import("@troupe/runtime/otel")).OtlpProtobufTraceExporter
        : (await import("@opentelemetry/exporter-trace-otlp-proto")).OTLPTraceExporter;

  const resource = resourceFromAttributes({ "service.name": "bench-runtime", "troupe.tenant.id": params.tenant, "host.name": "bench" });
  const scope = { name: "@troupe/runtime", version: "0.1.0" };
  const tracePrefix = randomBytes(8).toString("hex");
  let counter = 1; // from 1: an all-zero span id is refused
  const startMs = Date.now();
  // 64 attribute sets shared by the spans (the exporter serializes each span's set in full anyway).
  const attributeVariants = Array.from({ length: 64 }, (_, i): Record<string, string | number | string[]> => ({
    ...spanAttributes(params.tenant, i),
    "gen_ai.usage.input_tokens": 100 + ((i * 37) % 900),
    "gen_ai.usage.output_tokens": 20 + ((i * 11) % 300),
    "gen_ai.response.finish_reasons": ["stop"],
    "http.request.header.authorization": "dropped by the filter",
    "gen_ai.prompt": "dropped by the filter",
  }));

  // ReadableSpans as the SDK hands them to exporters, with unique ids so the store counts each
  // once. Each exporter reuses one batch of span objects and renumbers them before each export
  // (the export is settled by then): creating them anew cost the load process a third of its CPU,
  // which on this 2-core machine came out of the collector's share.
  type MutableSpan = { ctx: { traceId: string; spanId: string; traceFlags: number }; parent: { traceId: string; spanId: string; traceFlags: number }; span: Record<string, unknown> };
  const makeBatch = (): MutableSpan[] =>
    Array.from({ length: BATCH_SIZE }, (_, k) => {
      const ctx = { traceId: "", spanId: "", traceFlags: 1 };
      const parent = { traceId: "", spanId: "", traceFlags: 1 };
      const span: Record<string, unknown> = {
        name: "chat gpt-4o-mini",
        kind: 2,
        spanContext: () => ctx,
        parentSpanContext: k % 4 === 0 ? undefined : parent,
        startTime: [0, 0],
        endTime: [0, 0],
        duration: [0, 250_000],
        status: { code: 1 },
        attributes: attributeVariants[k % attributeVariants.length],
        links: [],
        events: [],
        ended: true,
        resource,
        instrumentationScope: scope,
        droppedAttributesCount: 0,
        droppedEventsCount: 0,
        droppedLinksCount: 0,
      };
      return { ctx, parent, span };
    });
  const renumber = (batch: MutableSpan[]): ReadableSpan[] =>
    batch.map(({ ctx, parent, span }) => {
      const i = counter++;
      ctx.traceId = tracePrefix + (i >> 2).toString(16).padStart(16, "0");
      ctx.spanId = i.toString(16).padStart(16, "0");
      parent.traceId = ctx.traceId;
      parent.spanId = (i - 1).toString(16).padStart(16, "0");
      const startNs = startMs * 1e6 + i;
      const start = span["startTime"] as number[];
      const end = span["endTime"] as number[];
      start[0] = end[0] = Math.floor(startNs / 1e9);
      start[1] = startNs % 1e9;
      end[1] = (startNs % 1e9) + 250_000;
      (span["status"] as { code: number }).code = i % 50 === 0 ? 2 : 1;
      return span as unknown as ReadableSpan;
    });

  let acked = 0;
  let failed = 0;
  const deadline = Date.now() + params.windowMs;
  const started = performance.now();
  const firstExportAtMs = Date.now();
  const cpuBefore = process.cpuUsage();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      const exporter = new Exporter({ url: `${params.url}/v1/traces`, headers: { Authorization: `Bearer ${params.secret}` }, timeoutMillis: 60_000 });
      const spans = makeBatch();
      while (Date.now() < deadline) {
        const batch = renumber(spans);
        const code = await new Promise<number>((resolve) => exporter.export(batch, (r) => resolve(r.code)));
        if (code === ExportResultCode.SUCCESS) acked += batch.length;
        else failed++;
      }
      await exporter.shutdown();
    }),
  );
  const cpu = process.cpuUsage(cpuBefore);
  return { acked, failed, elapsedMs: performance.now() - started, firstExportAtMs, cpuUs: cpu.user + cpu.system };
}
