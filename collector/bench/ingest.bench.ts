// Ingest throughput: real OTLP exporters (JSON and protobuf) on loopback → collector → spool →
// chDB, sustained for a fixed window, then every acknowledged span is counted in the store. Also
// the raw store limit (the same rows inserted straight into the chDB span store) and the ratio,
// and the protobuf load again with the collector forwarding every span to a local OTLP receiver.
//
// Load runs in a child process (its own event loop and core), the forwarding receiver in another;
// the collector and chDB run here.
// Progress on stderr, one JSON object on the last stdout line.
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { ReadableSpan } from "@opentelemetry/sdk-trace-base";
import type { CollectorMetrics, RunningCollector, SpanRow } from "@troupe/collector";

const WINDOW_MS = Number(process.env["BENCH_WINDOW_MS"] ?? 10_000);
const RAW_WINDOW_MS = Number(process.env["BENCH_RAW_WINDOW_MS"] ?? 8_000);
const BATCH_SIZE = 4096;
const CONCURRENCY = Number(process.env["BENCH_CONCURRENCY"] ?? 8);
/** Rounds of plain, forwarding, forwarding, plain that the forwarding ratio sums. */
const FORWARDING_ROUNDS = Number(process.env["BENCH_FORWARDING_ROUNDS"] ?? 2);
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
  /** The collector forwards every accepted span to one local OTLP/HTTP receiver (protobuf). */
  forward?: boolean;
}

const LOADS: Load[] = [
  { format: "json", exporter: "stock", figure: "json" },
  { format: "protobuf", exporter: "runtime", figure: "protobuf" },
  { format: "protobuf", exporter: "runtime", figure: "protobuf_forwarding", forward: true },
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
if (process.env["TROUPE_BENCH_RECEIVER"] !== undefined) {
  await receive();
} else if (loadParams === undefined) {
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
    // Forwarding is judged against plain protobuf measured in the same run, in the order plain,
    // forwarding, forwarding, plain (FORWARDING_ROUNDS times): a load elsewhere on this shared
    // machine that rises or falls during the run then weighs on both alike, and single runs, which
    // move by ±10%, average out. Each figure sums its runs.
    const selected = LOADS.filter((l) => ONLY === undefined || ONLY.includes(l.figure));
    const paired = selected.some((l) => l.figure === "protobuf") && selected.some((l) => l.forward);
    const forwardingLoad = selected.find((l) => l.forward);
    const rounds = (plain: Load): Load[] => Array.from({ length: FORWARDING_ROUNDS }, () => [plain, forwardingLoad!, forwardingLoad!, plain]).flat();
    const schedule = paired ? selected.flatMap((l) => (l.forward ? [] : l.figure === "protobuf" ? rounds(l) : [l])) : selected;
    const totals = new Map<string, LoadTotals>();
    for (const [round, load] of schedule.entries()) {
      const run = await measureLoad(collector, dir, load, round);
      const t = totals.get(load.figure) ?? { acked: 0, failed: 0, ackMs: 0, e2eMs: 0, collectorCpuUs: 0, exporterCpuUs: 0, received: 0, receiverCpuUs: 0, dropped: 0, forwardedMs: 0 };
      for (const k of Object.keys(t) as (keyof LoadTotals)[]) t[k] += run[k];
      totals.set(load.figure, t);
    }
    for (const [figure, t] of totals) {
      figures[`ingest_spans_per_s_${figure}`] = Math.round(t.acked / (t.e2eMs / 1000));
      figures[`ingest_ack_spans_per_s_${figure}`] = Math.round(t.acked / (t.ackMs / 1000));
      figures[`ingest_failed_exports_${figure}`] = t.failed;
      // CPU per span (user + system): the collector process (HTTP, decode, spool, chDB threads, forwarding) and the exporters.
      figures[`ingest_collector_cpu_us_per_span_${figure}`] = round2(t.collectorCpuUs / Math.max(1, t.acked));
      figures[`ingest_exporter_cpu_us_per_span_${figure}`] = round2(t.exporterCpuUs / Math.max(1, t.acked));
      if (t.forwardedMs > 0) {
        figures[`forward_received_spans_${figure}`] = t.received;
        figures[`forward_dropped_spans_${figure}`] = t.dropped;
        figures[`forward_spans_per_s_${figure}`] = Math.round(t.received / (t.forwardedMs / 1000));
        figures[`forward_receiver_cpu_us_per_span_${figure}`] = round2(t.receiverCpuUs / Math.max(1, t.received));
      }
    }
    if (figures["ingest_spans_per_s_protobuf_forwarding"] !== undefined && figures["ingest_spans_per_s_protobuf"] !== undefined) {
      figures["ingest_forwarding_to_plain_ratio_protobuf"] = round2(figures["ingest_spans_per_s_protobuf_forwarding"] / figures["ingest_spans_per_s_protobuf"]);
      log(
        `forwarding ÷ plain (protobuf, this run): ${figures["ingest_forwarding_to_plain_ratio_protobuf"]} (${figures["ingest_spans_per_s_protobuf_forwarding"]} ÷ ${figures["ingest_spans_per_s_protobuf"]} spans/s; collector CPU per span ${figures["ingest_collector_cpu_us_per_span_protobuf_forwarding"]} vs ${figures["ingest_collector_cpu_us_per_span_protobuf"]} µs)`,
      );
      // The two cores' work per span, all processes: the exporters, the collector and (forwarding) the receiver.
      const cpuPerSpan = (figure: string): number =>
        (figures[`ingest_collector_cpu_us_per_span_${figure}`] ?? 0) + (figures[`ingest_exporter_cpu_us_per_span_${figure}`] ?? 0) + (figures[`forward_receiver_cpu_us_per_span_${figure}`] ?? 0);
      log(
        `CPU per span, all processes: plain ${cpuPerSpan("protobuf").toFixed(2)} µs, forwarding ${cpuPerSpan("protobuf_forwarding").toFixed(2)} µs (receiver ${figures["forward_receiver_cpu_us_per_span_protobuf_forwarding"]}): plain ÷ forwarding ${(cpuPerSpan("protobuf") / cpuPerSpan("protobuf_forwarding")).toFixed(2)}`,
      );
    }

    Object.assign(figures, await decoderFigures());
    Object.assign(figures, await jsonDecoderFigures());

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
  const { otlpTraceRequestFromRows } = await import("../src/forward/otlp-encode.js");
  const { SPAN_ATTRIBUTE_ALLOW_LIST, RESOURCE_ATTRIBUTE_ALLOW_LIST, EVENT_ATTRIBUTE_ALLOW_LIST } = await import("@troupe/runtime");
  const allow = { span: SPAN_ATTRIBUTE_ALLOW_LIST, resource: RESOURCE_ATTRIBUTE_ALLOW_LIST, event: EVENT_ATTRIBUTE_ALLOW_LIST };
  const body = Buffer.from(await otlpTraceRequestFromRows(spanRows("decode", 4096), "protobuf"));
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
  // The forwarder's encoder: the same spans' span block to an OTLP request, per format.
  const { otlpTraceBodyEncoder } = await import("../src/forward/otlp-encode.js");
  const block = encodeSpanBlock(spanRows("decode", 4096), () => 30);
  for (const format of ["protobuf", "json"] as const) {
    const encode = otlpTraceBodyEncoder(format);
    let bestMs = Infinity;
    for (let round = 0; round < 15; round++) {
      const t = performance.now();
      await encode([block]);
      bestMs = Math.min(bestMs, performance.now() - t);
    }
    figures[`forward_encode_spans_per_s_${format}`] = Math.round(4096 / (bestMs / 1000));
  }
  log(`forward encoder (spans/s): protobuf ${figures["forward_encode_spans_per_s_protobuf"]}, json ${figures["forward_encode_spans_per_s_json"]}`);
  return figures;
}

/**
 * The JSON decoding paths on one 4096-span request as the stock exporter-trace-otlp-http writes it
 * (JsonTraceSerializer over the SDK's spans, with the load's attributes), single thread, best of 15
 * alternating runs: JSON.parse of the body alone (the floor of any path built on it), the general
 * path (decodeJsonTraces, rows, block) and the direct path (the bytes straight into the block),
 * which ordinary requests take.
 */
async function jsonDecoderFigures(): Promise<Record<string, number>> {
  const { decodeJsonTraces } = await import("../src/ingest/decode-json.js");
  const { decodeJsonSpanBlock, releaseJsonSpanBlock } = await import("../src/ingest/json-span-block.js");
  const { buildSpanRows } = await import("../src/ingest/span-rows.js");
  const { encodeSpanBlock } = await import("../src/store/span-block.js");
  const { DEFAULT_INGEST_LIMITS } = await import("../src/ingest/ingest-limits.js");
  const { JsonTraceSerializer } = await import("@opentelemetry/otlp-transformer");
  const { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } = await import("@opentelemetry/sdk-trace-base");
  const { resourceFromAttributes } = await import("@opentelemetry/resources");
  const { context, trace } = await import("@opentelemetry/api");
  const tenant = "decode";
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ "service.name": "bench-runtime", "troupe.tenant.id": tenant, "host.name": "bench" }),
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  const tracer = provider.getTracer("@troupe/runtime", "0.1.0");
  // As in the load: three spans in four have a parent.
  const parent = trace.setSpan(context.active(), tracer.startSpan("parent"));
  for (let i = 0; i < 4096; i++) {
    const attributes = { ...spanAttributes(tenant, i % 64), "gen_ai.usage.input_tokens": 100 + (i % 900), "gen_ai.response.finish_reasons": ["stop"], "gen_ai.prompt": "dropped by the filter" };
    tracer.startSpan("chat gpt-4o-mini", { kind: 2, attributes }, i % 4 === 0 ? context.active() : parent).end();
  }
  const body = Buffer.from(JsonTraceSerializer.serializeRequest(exporter.getFinishedSpans())!);
  const principal = { kind: "tenant-ingest" as const, keyId: "bench", tenantId: tenant };
  const limits = DEFAULT_INGEST_LIMITS;
  const paths: Record<string, () => unknown> = {
    json_parse: () => JSON.parse(body.toString("utf8")),
    general_to_block: () => encodeSpanBlock(buildSpanRows(decodeJsonTraces(body, limits), principal, limits).rows, () => 30),
    direct_to_block: () => {
      const direct = decodeJsonSpanBlock(body, principal, limits);
      if (direct === undefined) throw new Error("the bench request did not take the direct path");
      const block = direct.builder.finish(() => 30);
      releaseJsonSpanBlock(direct);
      return block;
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
  const figures = Object.fromEntries(Object.entries(best).map(([name, ms]) => [`decode_json_spans_per_s_${name}`, Math.round(4096 / (ms / 1000))]));
  log(`JSON decoders (spans/s, ${Math.round(body.length / 4096)} bytes/span): ${Object.entries(figures).map(([k, v]) => `${k.replace("decode_json_spans_per_s_", "")} ${v}`).join(", ")}`);
  return figures;
}

/** A collector front end that forwards (see main), its receiver process, and how to stop both. */
interface ForwardingFront {
  url: string;
  queueDepthSpans(): number;
  /** Spans the receiver has counted so far, and the CPU (user + system, µs) its process has used. */
  received(): Promise<ReceiverCount>;
  metrics: CollectorMetrics;
  close(): Promise<void>;
}

async function forwardingFront(collector: RunningCollector, dir: string, round: number): Promise<ForwardingFront> {
  const { CollectorMetrics, IngestPipeline, OTLP_EXPORT_PATHS, createCollectorApp, listen } = await import("@troupe/collector");
  const receiver = fork(fileURLToPath(import.meta.url), [], {
    execArgv: process.execArgv.filter((flag) => !flag.startsWith("--initial-heap-size")),
    env: { ...process.env, TROUPE_BENCH_RECEIVER: "1" },
    stdio: ["ignore", "ignore", "inherit", "ipc"],
  });
  const ask = (): Promise<ReceiverCount> =>
    new Promise((resolve) => {
      receiver.once("message", (m) => resolve(m as ReceiverCount));
      receiver.send("count");
    });
  const { url: receiverUrl } = await new Promise<{ url: string }>((resolve) => receiver.once("message", (m) => resolve(m as { url: string })));
  const metrics = new CollectorMetrics();
  const pipeline = await IngestPipeline.start({
    store: collector.store,
    metrics,
    spool: { dir: join(dir, `forwarding-spool-${round}`), maxBytes: 1024 * 1024 * 1024 },
    forward: [{ name: "receiver", endpoint: receiverUrl }],
  });
  const server = await listen(createCollectorApp({ authenticator: collector.registry, sink: pipeline, metrics, store: collector.store, pipelineHealth: () => pipeline.health() }), 0, "127.0.0.1", {
    // As the collector serves them (startCollector): export bodies read straight from the socket.
    socketBodyPaths: OTLP_EXPORT_PATHS,
  });
  return {
    url: server.url,
    queueDepthSpans: () => pipeline.health().queueDepthSpans,
    received: ask,
    metrics,
    close: async () => {
      await server.close();
      await pipeline.close(1_000);
      receiver.kill();
    },
  };
}

/** What the receiver process reports: spans counted, and its CPU (user + system) so far. */
interface ReceiverCount {
  spans: number;
  cpuUs: number;
}

/** What one run of a load came to; runs of one figure are summed. */
interface LoadTotals {
  acked: number;
  failed: number;
  /** From the first export until the last was acknowledged, and until every acknowledged span was stored. */
  ackMs: number;
  e2eMs: number;
  collectorCpuUs: number;
  exporterCpuUs: number;
  /** Forwarding runs: spans the receiver got, spans the forwarder dropped, and from the first export until the receiver had them all. */
  received: number;
  /** Forwarding runs: the receiver process's CPU over the run (it shares the machine's cores with the collector and the exporters). */
  receiverCpuUs: number;
  dropped: number;
  forwardedMs: number;
}

/** One run of a load on a fresh spans table: acknowledged, all stored (and all forwarded, for a forwarding load), checked. */
async function measureLoad(collector: RunningCollector, dir: string, { format, exporter, figure, forward }: Load, round: number): Promise<LoadTotals> {
  await freshStore(collector.gateway);
  const tenant = `bench-${figure.replaceAll("_", "-")}-${round}`;
  await collector.registry.createTenant({ id: tenant });
  const { key } = await collector.registry.issueKey(tenant, "ingest");
  // Forwarding: a second front end (pipeline with a forwarder, HTTP app) on the same store, and
  // the receiver in its own process, as an APM would be.
  const forwarding = forward ? await forwardingFront(collector, dir, round) : undefined;
  const target = forwarding ?? { url: collector.url, queueDepthSpans: () => collector.pipeline.health().queueDepthSpans };
  log(`${figure}: ${CONCURRENCY} ${exporter} ${format} exporters x ${BATCH_SIZE}-span batches for ${WINDOW_MS} ms${forward ? ", forwarding to a local receiver" : ""}`);
  const cpuBefore = process.cpuUsage();
  const receiverBefore = forwarding ? await forwarding.received() : undefined;
  const result = await new Promise<LoadResult>((resolve, reject) => {
    const params: LoadParams = { url: target.url, secret: key.secret, tenant, format, exporter, windowMs: WINDOW_MS };
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
  while (target.queueDepthSpans() > 0) await sleep(20);
  const storedAt = performance.now();
  const cpu = process.cpuUsage(cpuBefore);
  const [row] = await collector.gateway.query<{ n: string }>("SELECT toString(count()) AS n FROM spans FINAL WHERE tenant_id = {t:String}", { t: tenant });
  const stored = Number(row?.n ?? 0);
  log(
    `${figure}: acked ${result.acked} (${result.failed} failed exports) at ${Math.round(result.acked / ((ackedAt - started) / 1000))}/s; all stored ${Math.round(storedAt - started)} ms after the first export → ${Math.round(result.acked / ((storedAt - started) / 1000))} spans/s end to end; stored ${stored}`,
  );
  if (stored !== result.acked) throw new Error(`${figure}: ${result.acked} spans acknowledged but ${stored} stored`);
  const collectorCpuUs = cpu.user + cpu.system;
  log(
    `${figure}: CPU per span: collector ${(collectorCpuUs / Math.max(1, result.acked)).toFixed(1)} µs (${(cpu.system / Math.max(1, result.acked)).toFixed(1)} of it system), exporters ${(result.cpuUs / Math.max(1, result.acked)).toFixed(1)} µs`,
  );
  const totals: LoadTotals = {
    acked: result.acked,
    failed: result.failed,
    ackMs: ackedAt - started,
    e2eMs: storedAt - started,
    collectorCpuUs,
    exporterCpuUs: result.cpuUs,
    received: 0,
    receiverCpuUs: 0,
    dropped: 0,
    forwardedMs: 0,
  };
  if (forwarding) {
    // Waits (up to 30 s) until the receiver has every acknowledged span.
    const deadline = Date.now() + 30_000;
    let count = await forwarding.received();
    while (count.spans + forwarding.metrics.forwardSpansDropped.total() < result.acked && Date.now() < deadline) {
      await sleep(20);
      count = await forwarding.received();
    }
    const forwardedAt = performance.now();
    const received = count.spans;
    totals.received = received;
    totals.receiverCpuUs = count.cpuUs - receiverBefore!.cpuUs;
    totals.dropped = forwarding.metrics.forwardSpansDropped.total();
    totals.forwardedMs = forwardedAt - started;
    await forwarding.close();
    const reasons = ["queue_full", "rejected", "failed_after_retries", "shutdown", "encode_failed"].map((r) => [r, forwarding.metrics.forwardSpansDropped.value([r])] as const).filter(([, n]) => n > 0);
    log(
      `${figure}: the receiver got ${received} of ${result.acked} spans (${totals.dropped} dropped${reasons.map(([r, n]) => `, ${n} ${r}`).join("")}), the last ${Math.round(Math.max(0, forwardedAt - storedAt))} ms after the last was stored; receiver CPU ${(totals.receiverCpuUs / Math.max(1, received)).toFixed(1)} µs per span`,
    );
  }
  return totals;
}

/**
 * Receiver process: an OTLP/HTTP server on loopback that reads each protobuf request, counts its
 * spans (walking the messages down to the spans, not decoding them), answers 200 and discards it.
 * Tells its URL, then answers each "count" message with the spans counted so far.
 */
async function receive(): Promise<void> {
  const { createServer } = await import("node:http");
  let spans = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      spans += countSpans(Buffer.concat(chunks));
      res.writeHead(200, { "content-type": "application/x-protobuf" }).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const cpuUs = (): number => {
    const { user, system } = process.cpuUsage();
    return user + system;
  };
  process.send!({ url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, spans, cpuUs: cpuUs() });
  process.on("message", () => process.send!({ spans, cpuUs: cpuUs() }));
}

/** Spans in an ExportTraceServiceRequest: resource_spans (1) → scope_spans (2) → spans (2), other fields skipped. */
function countSpans(body: Buffer): number {
  let count = 0;
  const walk = (start: number, end: number, depth: number): void => {
    let p = start;
    while (p < end) {
      let tag = 0;
      for (let shift = 0; ; shift += 7) {
        const b = body[p++]!;
        tag += (b & 0x7f) * 2 ** shift;
        if (b < 0x80) break;
      }
      const wire = tag & 7;
      if (wire === 0) while (body[p++]! >= 0x80);
      else if (wire === 1) p += 8;
      else if (wire === 5) p += 4;
      else if (wire === 2) {
        let length = 0;
        for (let shift = 0; ; shift += 7) {
          const b = body[p++]!;
          length += (b & 0x7f) * 2 ** shift;
          if (b < 0x80) break;
        }
        const field = Math.floor(tag / 8);
        if (depth === 0 && field === 1) walk(p, p + length, 1);
        else if (depth === 1 && field === 2) walk(p, p + length, 2);
        else if (depth === 2 && field === 2) count++;
        p += length;
      } else throw new Error(`wire type ${wire}`);
    }
  };
  walk(0, body.length, 0);
  return count;
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
    // As the load's spans are stored: token counts are ints.
    attributeTypes: { "gen_ai.usage.input_tokens": "int", "gen_ai.usage.output_tokens": "int" },
    resourceAttributeTypes: {},
    scopeName: "@troupe/runtime",
    scopeVersion: "0.1.0",
    traceState: "",
    flags: 0x101,
    events: [],
    links: [],
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
