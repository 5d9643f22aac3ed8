// The soak: mixed load at a fixed rate through the runtime → the real OTLP exporter → the collector →
// chDB, with the heap sampled as it runs. Used by `npm run soak` (soak.ts) and, shortened, by CI
// (soak-short.test.ts).
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { ExportResultCode, type ExportResult } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import type { ReadableSpan, SpanExporter } from "@opentelemetry/sdk-trace-base";
import { AgentId, LlmClients, Runtime, TopicId, typeSubscription } from "@troupe/runtime";
import { startMockOpenAiServer } from "@troupe/runtime/testing";
import { startTelemetry } from "@troupe/runtime/otel";
import { loadCollectorConfig, startCollector } from "@troupe/collector";

/** How long and how hard to soak. */
export interface SoakOptions {
  durationMs: number;
  /** Operations started per second (each makes 3-7 spans). */
  operationsPerSecond: number;
  /** Heap sample interval. */
  sampleEveryMs: number;
  /** Progress lines (stderr in the CLI). */
  log: (line: string) => void;
}

/** One heap sample. */
export interface HeapSample {
  atS: number;
  heapUsedMb: number;
  rssMb: number;
}

/** What a soak run measured. */
export interface SoakSummary {
  duration_s: number;
  operations_started: number;
  operations_ok: number;
  operations_failed: number;
  spans_exported: number;
  spans_export_failed: number;
  spans_stored: number;
  spans_lost: number;
  heap_start_mb: number;
  heap_end_mb: number;
  heap_max_mb: number;
  rss_end_mb: number;
  /** Least-squares slope of the heap (after GC) over the second half of the run, MB per minute. */
  heap_slope_second_half_mb_per_min: number;
  samples: number;
}

const TENANTS = ["soak-a", "soak-b", "soak-c"] as const;
const KEYS_PER_TYPE = 100;

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

/** Least-squares slope of y over x. */
export function slope(points: ReadonlyArray<[number, number]>): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

/** Counts spans handed to the real exporter and the ones it delivered (export answered SUCCESS). */
class CountingExporter implements SpanExporter {
  exported = 0;
  failed = 0;
  readonly #inner: SpanExporter;

  constructor(inner: SpanExporter) {
    this.#inner = inner;
  }
  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    this.#inner.export(spans, (result) => {
      if (result.code === ExportResultCode.SUCCESS) this.exported += spans.length;
      else this.failed += spans.length;
      done(result);
    });
  }
  shutdown(): Promise<void> {
    return this.#inner.shutdown();
  }
  forceFlush(): Promise<void> {
    return this.#inner.forceFlush?.() ?? Promise.resolve();
  }
}

/** Runs the soak and returns its summary; everything it started is stopped again. */
export async function runSoak(options: SoakOptions): Promise<SoakSummary> {
  const { log } = options;
  const dir = await mkdtemp(join(tmpdir(), "troupe-soak-"));
  const collector = await startCollector({ ...loadCollectorConfig({ TROUPE_DATA_DIR: dir }), port: 0, host: "127.0.0.1" }, { writer: { maxBatchDelayMs: 200 } });
  const llmServer = await startMockOpenAiServer({ behaviour: () => ({ type: "completion", content: "ok", usage: { promptTokens: 12, completionTokens: 4 } }) });
  let telemetry: ReturnType<typeof startTelemetry> | undefined;
  let runtime: Runtime | undefined;
  try {
    for (const t of TENANTS) await collector.registry.createTenant({ id: t });
    const serviceKey = (await collector.registry.issueServiceKey([...TENANTS])).secret;
    const exporter = new CountingExporter(new OTLPTraceExporter({ url: `${collector.url}/v1/traces`, headers: { Authorization: `Bearer ${serviceKey}` }, timeoutMillis: 10_000 }));
    telemetry = startTelemetry({
      serviceName: "soak",
      collector: false,
      exporters: [exporter],
      registerGlobal: false,
      batch: { maxQueueSize: 200_000, maxExportBatchSize: 2048, scheduledDelayMs: 200 },
    });
    const llm = new LlmClients({
      config: Object.fromEntries(TENANTS.map((t) => [t, { apiKey: `sk-${t}`, baseURL: llmServer.baseURL, defaultModel: "gpt-4o-mini", simulated: true }])),
      tracerProvider: telemetry.tracerProvider,
    });
    const rt = new Runtime({ tracerProvider: telemetry.tracerProvider, passivation: { idleMs: 2_000, maxActiveAgents: 2_000 } });
    runtime = rt;
    rt.register("echo", () => ({ onMessage: (m: unknown) => m }));
    rt.register("chain", () => ({ onMessage: (m: unknown, ctx) => ctx.send(new AgentId("echo", ctx.agentId.key), m) }));
    rt.register("listener", () => {
      let seen = 0;
      return { onMessage: () => ++seen };
    });
    rt.register("writer", () => ({
      async onMessage(m: unknown, ctx) {
        const r = await llm.forTenant(ctx.tenant).chat({ messages: [{ role: "user", content: String(m) }], max_tokens: 16 }, { agent: ctx.agentId });
        return r.choices[0]?.message.content;
      },
    }));
    rt.subscribe(typeSubscription("news", "listener"));
    await rt.start();

    // Fixed-rate load: every tick starts its share of operations, round-robin over kinds and tenants.
    const started = Date.now();
    const samples: HeapSample[] = [];
    const sample = () => {
      gc();
      const m = process.memoryUsage();
      samples.push({ atS: (Date.now() - started) / 1000, heapUsedMb: m.heapUsed / 1048576, rssMb: m.rss / 1048576 });
    };
    sample();
    let startedOps = 0;
    let ok = 0;
    let failed = 0;
    const inFlight = new Set<Promise<unknown>>();
    const tickMs = 20;
    const op = (i: number): Promise<unknown> => {
      const tenant = rt.tenant(TENANTS[i % TENANTS.length]!);
      const key = `k${(i >>> 2) % KEYS_PER_TYPE}`;
      switch (i % 4) {
        case 0:
          return tenant.send(new AgentId("echo", key), i);
        case 1:
          return tenant.send(new AgentId("chain", key), i);
        case 2:
          return tenant.publish(new TopicId("news", key), i);
        default:
          return i % 8 === 3 ? tenant.send(new AgentId("writer", key), `q${i}`) : tenant.send(new AgentId("echo", key), i);
      }
    };
    const ticker = setInterval(() => {
      // Operations due by now at the fixed rate (late ticks catch up, so the rate holds on a busy machine).
      const due = Math.floor((options.operationsPerSecond * (Date.now() - started)) / 1000);
      while (startedOps < due) {
        const p = op(startedOps++).then(
          () => void ok++,
          () => void failed++,
        );
        inFlight.add(p);
        void p.finally(() => inFlight.delete(p));
      }
    }, tickMs);
    const sampler = setInterval(() => {
      sample();
      const last = samples[samples.length - 1]!;
      log(`soak ${last.atS.toFixed(0)}s: ops ${startedOps} (${failed} failed), spans exported ${exporter.exported}, heap ${last.heapUsedMb.toFixed(1)} MB, rss ${last.rssMb.toFixed(0)} MB`);
    }, options.sampleEveryMs);
    await new Promise((r) => setTimeout(r, options.durationMs));
    clearInterval(ticker);
    clearInterval(sampler);
    sample();
    const durationS = (Date.now() - started) / 1000;

    // Drain: every operation settles, every span is exported, then count what the store holds.
    await Promise.allSettled([...inFlight]);
    await rt.whenIdle();
    await rt.stop();
    await telemetry.forceFlush();
    const countStored = async (): Promise<number> => {
      const [row] = await collector.gateway.query<{ n: string }>("SELECT toString(count()) AS n FROM spans FINAL WHERE tenant_id IN {t:Array(String)}", { t: [...TENANTS] });
      return Number(row!.n);
    };
    let stored = await countStored();
    const deadline = Date.now() + 60_000;
    while (stored < exporter.exported && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
      stored = await countStored();
    }

    const half = samples.filter((s) => s.atS >= durationS / 2);
    const heapSlope = slope(half.map((s) => [s.atS / 60, s.heapUsedMb]));
    const round = (v: number) => Math.round(v * 100) / 100;
    return {
      duration_s: round(durationS),
      operations_started: startedOps,
      operations_ok: ok,
      operations_failed: failed,
      spans_exported: exporter.exported,
      spans_export_failed: exporter.failed,
      spans_stored: stored,
      spans_lost: exporter.exported + exporter.failed - stored,
      heap_start_mb: round(samples[0]!.heapUsedMb),
      heap_end_mb: round(samples[samples.length - 1]!.heapUsedMb),
      heap_max_mb: round(Math.max(...samples.map((s) => s.heapUsedMb))),
      rss_end_mb: round(samples[samples.length - 1]!.rssMb),
      heap_slope_second_half_mb_per_min: round(heapSlope),
      samples: samples.length,
    };
  } finally {
    await runtime?.stop();
    await telemetry?.shutdown();
    await llmServer.close();
    await collector.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/** Parses "10m", "45s", "1h", "90000ms" or a number of seconds. */
export function parseDuration(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(text);
  if (!m) throw new Error(`invalid duration ${JSON.stringify(text)}: use e.g. 10m, 45s, 1h`);
  const n = Number(m[1]);
  const unit = m[2] ?? "s";
  return Math.round(n * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[unit]!);
}
