// Benchmark of trace sampling. Progress goes to stderr; the last stdout line is one flat JSON object.
// Run: npm run bench -- --only sampling   (or: node --conditions=source --import tsx --expose-gc runtime/bench/sampling.bench.ts [--parts=sampled])
//
// The workload of runtime.bench's send figures: `send` to an echo agent over 1,000 keys, 10,000 sends
// in flight at a time, best of several rounds, each part in a fresh process. Traced parts register the
// AsyncLocalStorage context manager and export through AllowListSpanProcessor -> BatchSpanProcessor ->
// an exporter that serializes every batch to OTLP protobuf (OtlpProtobufTraceSerializer) and discards it.
//
// Figures:
// - sampling_untraced_send_msgs_per_s: no tracer provider (the API's no-op), the floor.
// - sampling_traced_send_msgs_per_s: every span recorded and exported (an SDK provider, AlwaysOn).
//   (Named apart from runtime.bench's untraced and traced send, which run the runtime's own setup.)
// - sampled_1pct_send_msgs_per_s: a SamplingTracerProvider at ratio 0.01 with the keep rules on: 1% of
//   traces recorded as SDK spans, the rest held as deferred spans until each trace ends, then dropped.
// - sampled_1pct_no_keep_rules_send_msgs_per_s: the same ratio with the keep rules off (unsampled traces
//   get non-recording spans whose ids are drawn only when asked for).
// - keep_rules_cost_us_per_msg: CPU per message with the keep rules on minus with them off (3 spans a message).
// - sdk_ratio_1pct_send_msgs_per_s: the SDK's own ParentBased(TraceIdRatioBased(0.01)) sampler, what
//   startTelemetry's `samplerRatio` builds (one ratio for all tenants, no keep rules).
// - sampled_1pct_errors_1pct_send_msgs_per_s: ratio 0.01, keep rules on, and 1% of turns failing (every
//   failing trace kept whole): the cost of materializing kept traces.
// - *_cpu_us_per_msg: CPU time (all threads, GC included) per message in the best round; steadier than
//   msgs/s on a shared machine. *_to_untraced_ratio compare figures of the same run.
// - *_spans_exported: spans the exporter received in the timed rounds (a check that sampling sampled).
import { context } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { ExportResultCode, type ExportResult } from "@opentelemetry/core";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { AlwaysOnSampler, BasicTracerProvider, BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler, type ReadableSpan, type Sampler, type SpanExporter } from "@opentelemetry/sdk-trace-base";
import { AgentId, AllowListSpanProcessor, Runtime, type RuntimeOptions } from "@troupe/runtime";
import { OtlpProtobufTraceSerializer, SamplingSettings, SamplingTracerProvider, type SamplingOptions } from "@troupe/runtime/otel";

const log = (msg: string): void => {
  process.stderr.write(`[sampling.bench] ${msg}\n`);
};
const BATCH = 10_000;
const KEYS = 1000;

/** Serializes every batch to OTLP protobuf and discards it, counting spans. */
class SerializingExporter implements SpanExporter {
  spans = 0;
  readonly #serializer = new OtlpProtobufTraceSerializer();
  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    this.#serializer.serializeRequest(spans);
    this.spans += spans.length;
    done({ code: ExportResultCode.SUCCESS });
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

interface Figures {
  rate: number;
  cpuUsPerMsg: number;
}

/** Best of `rounds` timed rounds of `total` sends, `BATCH` in flight at a time; 1 in `failEvery` handlers throws (0: none). */
async function sendRate(label: string, options: RuntimeOptions, total: number, rounds: number, failEvery = 0): Promise<Figures> {
  const rt = new Runtime({ ...options, quotas: { defaults: { maxQueuedMessages: 1_000_000, maxInFlightTurns: 100_000 } } });
  rt.register("echo", () => ({
    onMessage: (m) => {
      if (failEvery > 0 && (m as number) % failEvery === 0) throw new Error("failing turn");
      return m;
    },
  }));
  await rt.start();
  const acme = rt.tenant("acme");
  const ids = Array.from({ length: KEYS }, (_, i) => new AgentId("echo", `k${i}`));
  const swallow = (): undefined => undefined;
  let best = 0;
  let bestCpu = Infinity;
  for (let r = 0; r < rounds; r++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    for (let sent = 0; sent < total; sent += BATCH) {
      const ps = new Array<Promise<unknown>>(BATCH);
      for (let i = 0; i < BATCH; i++) ps[i] = acme.send(ids[(sent + i) % KEYS]!, sent + i).catch(swallow);
      await Promise.all(ps);
    }
    const rate = total / ((performance.now() - t0) / 1000);
    const cpu = process.cpuUsage(c0);
    best = Math.max(best, rate);
    bestCpu = Math.min(bestCpu, (cpu.user + cpu.system) / total);
  }
  await rt.stop();
  const figures = { rate: Math.round(best), cpuUsPerMsg: Math.round(bestCpu * 100) / 100 };
  log(`${label}: ${figures.rate} msgs/s (${figures.cpuUsPerMsg} us CPU per message)`);
  return figures;
}

/** The export pipeline startTelemetry builds, in front of an exporter that serializes and discards. */
function pipeline(sampler: Sampler = new AlwaysOnSampler()): { exporter: SerializingExporter; delegate: BasicTracerProvider; processor: AllowListSpanProcessor; resource: ReturnType<typeof resourceFromAttributes> } {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  const exporter = new SerializingExporter();
  const processor = new AllowListSpanProcessor(new BatchSpanProcessor(exporter, { maxQueueSize: 65_536, maxExportBatchSize: 2048, scheduledDelayMillis: 50 }));
  const resource = resourceFromAttributes({ "service.name": "sampling-bench" });
  const delegate = new BasicTracerProvider({ resource, sampler, spanProcessors: [processor] });
  return { exporter, delegate, processor, resource };
}

async function traced(label: string, sampler: Sampler, total: number, rounds: number): Promise<Figures & { spans: number }> {
  const { exporter, delegate } = pipeline(sampler);
  const figures = await sendRate(label, { tracerProvider: delegate }, total, rounds);
  await delegate.forceFlush();
  await delegate.shutdown();
  return { ...figures, spans: exporter.spans };
}

async function sampled(label: string, options: SamplingOptions, total: number, rounds: number, failEvery = 0): Promise<Figures & { spans: number }> {
  const { exporter, delegate, processor, resource } = pipeline();
  const provider = new SamplingTracerProvider({ delegate, spanProcessors: [processor], resource, sampling: new SamplingSettings(options) });
  const figures = await sendRate(label, { tracerProvider: provider }, total, rounds, failEvery);
  await delegate.forceFlush();
  await delegate.shutdown();
  const s = provider.stats();
  log(`${label}: ${exporter.spans} spans exported; kept by ratio ${s.keptByRatio}, by rule ${JSON.stringify(s.keptByRule)}, dropped ${s.dropped}`);
  return { ...figures, spans: exporter.spans };
}

const partsArg = process.argv.find((a) => a.startsWith("--parts="));
const PARTS = ["untraced", "traced", "sampled", "sampled_no_rules", "sdk_ratio", "sampled_errors"];
const result: Record<string, number> = {};
if (partsArg === undefined) {
  // Each part in a fresh process: once the context manager is registered it stays for the process.
  const { spawnSync } = await import("node:child_process");
  for (const part of PARTS) {
    const child = spawnSync(process.execPath, [...process.execArgv, process.argv[1]!, `--parts=${part}`], { stdio: ["ignore", "pipe", "inherit"], encoding: "utf8" });
    if (child.status !== 0) throw new Error(`sampling bench part ${part} failed (exit ${child.status})`);
    Object.assign(result, JSON.parse(child.stdout.trim().split("\n").pop() ?? "{}") as Record<string, number>);
  }
} else {
  const parts = new Set(partsArg.slice("--parts=".length).split(","));
  if (parts.has("untraced")) {
    const f = await sendRate("untraced send", {}, 200_000, 5);
    result.sampling_untraced_send_msgs_per_s = f.rate;
    result.sampling_untraced_send_cpu_us_per_msg = f.cpuUsPerMsg;
  }
  if (parts.has("traced")) {
    const f = await traced("fully traced send", new AlwaysOnSampler(), 50_000, 3);
    result.sampling_traced_send_msgs_per_s = f.rate;
    result.sampling_traced_send_cpu_us_per_msg = f.cpuUsPerMsg;
  }
  if (parts.has("sampled")) {
    const f = await sampled("sampled 1% send, keep rules on", { defaultRatio: 0.01 }, 200_000, 5);
    result.sampled_1pct_send_msgs_per_s = f.rate;
    result.sampled_1pct_send_cpu_us_per_msg = f.cpuUsPerMsg;
    result.sampled_1pct_spans_exported = f.spans;
  }
  if (parts.has("sampled_no_rules")) {
    const f = await sampled("sampled 1% send, keep rules off", { defaultRatio: 0.01, keepRules: false }, 200_000, 5);
    result.sampled_1pct_no_keep_rules_send_msgs_per_s = f.rate;
    result.sampled_1pct_no_keep_rules_send_cpu_us_per_msg = f.cpuUsPerMsg;
  }
  if (parts.has("sdk_ratio")) {
    const f = await traced("SDK ratio sampler 1% send", new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(0.01) }), 200_000, 5);
    result.sdk_ratio_1pct_send_msgs_per_s = f.rate;
    result.sdk_ratio_1pct_send_cpu_us_per_msg = f.cpuUsPerMsg;
  }
  if (parts.has("sampled_errors")) {
    const f = await sampled("sampled 1% send, keep rules on, 1% of turns failing", { defaultRatio: 0.01 }, 200_000, 5, 100);
    result.sampled_1pct_errors_1pct_send_msgs_per_s = f.rate;
    result.sampled_1pct_errors_1pct_send_cpu_us_per_msg = f.cpuUsPerMsg;
    result.sampled_1pct_errors_1pct_spans_exported = f.spans;
  }
}
const ratio = (a: number | undefined, b: number | undefined): number | undefined => (a === undefined || b === undefined ? undefined : Math.round((a / b) * 1000) / 1000);
if (partsArg === undefined) {
  result.sampled_1pct_to_untraced_ratio = ratio(result.sampled_1pct_send_msgs_per_s, result.sampling_untraced_send_msgs_per_s)!;
  result.traced_to_untraced_ratio = ratio(result.sampling_traced_send_msgs_per_s, result.sampling_untraced_send_msgs_per_s)!;
  result.sampled_1pct_to_traced_ratio = ratio(result.sampled_1pct_send_msgs_per_s, result.sampling_traced_send_msgs_per_s)!;
  result.keep_rules_cost_us_per_msg = Math.round((result.sampled_1pct_send_cpu_us_per_msg! - result.sampled_1pct_no_keep_rules_send_cpu_us_per_msg!) * 100) / 100;
}
console.log(JSON.stringify(result));
