// The APM the collector forwards to is down — refusing connections, or accepting them and never
// answering. Ingest must not notice: every export acknowledged and stored, latency near a collector
// that does not forward, and the forward queue bounded with what it gives up counted.
import { createServer, type Server, type Socket } from "node:net";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ExportResultCode } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { BasicTracerProvider, type ReadableSpan, type SpanProcessor } from "@opentelemetry/sdk-trace-base";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  CollectorMetrics,
  IngestPipeline,
  createClickHouseSpanStore,
  createCollectorApp,
  createTenantRegistry,
  listen,
  openClickHouse,
  type ClickHouseGateway,
  type TenantRegistry,
} from "@troupe/collector";

/** One collector front end (pipeline + HTTP app) over the shared store; chDB allows one data directory per process. */
interface Front {
  url: string;
  metrics: CollectorMetrics;
}

const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

/** A TCP server that accepts connections and never answers (a hung APM). */
async function blackHole(): Promise<{ url: string; connections: () => number }> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server: Server = createServer((s) => {
    accepted++;
    sockets.add(s);
    s.on("error", () => undefined);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  cleanups.push(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((r) => server.close(r));
  });
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}/v1/traces`, connections: () => accepted };
}

/** A port nothing listens on (connection refused). */
async function closedPort(): Promise<string> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  await new Promise((r) => server.close(r));
  return `http://127.0.0.1:${port}/v1/traces`;
}

let shared: { dir: string; gateway: ClickHouseGateway; registry: TenantRegistry; key: string } | undefined;

async function collectorForwardingTo(endpoint: string | undefined): Promise<{ collector: Front; key: string }> {
  if (!shared) {
    const dir = await mkdtemp(join(tmpdir(), "troupe-fault-fwd-"));
    const gateway = await openClickHouse({ kind: "chdb", dataDir: join(dir, "chdb") });
    const registry = createTenantRegistry(gateway);
    await registry.createTenant({ id: "acme" });
    shared = { dir, gateway, registry, key: (await registry.issueKey("acme", "ingest")).key.secret };
    const s = shared;
    cleanups.unshift(async () => {
      await s.gateway.close();
      await rm(s.dir, { recursive: true, force: true });
    });
  }
  const { dir, gateway, registry, key } = shared;
  const metrics = new CollectorMetrics();
  const store = createClickHouseSpanStore(gateway);
  const pipeline = await IngestPipeline.start({
    store,
    metrics,
    spool: { dir: join(dir, `spool-${Math.random().toString(36).slice(2)}`), maxBytes: 64 * 1024 * 1024 },
    writer: { maxBatchDelayMs: 20 },
    ...(endpoint ? { forward: [{ name: "apm", endpoint, format: "protobuf" as const, timeoutMs: 2_000 }] } : {}),
  });
  const server = await listen(createCollectorApp({ authenticator: registry, sink: pipeline, metrics, store, pipelineHealth: () => pipeline.health() }), 0, "127.0.0.1");
  cleanups.push(async () => {
    await server.close();
    await pipeline.close(1_000);
  });
  return { collector: { url: server.url, metrics }, key };
}

function makeSpans(count: number): ReadableSpan[] {
  const ended: ReadableSpan[] = [];
  const collect: SpanProcessor = { onStart: () => undefined, onEnd: (s) => void ended.push(s), forceFlush: async () => undefined, shutdown: async () => undefined };
  const tracer = new BasicTracerProvider({ resource: resourceFromAttributes({ "service.name": "fwd" }), spanProcessors: [collect] }).getTracer("t");
  for (let i = 0; i < count; i++) tracer.startSpan("op", { attributes: { "troupe.agent.type": "a" } }).end();
  return ended;
}

/** Exports `batches` batches of 200 spans; returns per-export latency and the acknowledged span ids. */
async function ingest(collector: Front, key: string, batches: number): Promise<{ latencies: number[]; acked: string[] }> {
  const exporter = new OTLPTraceExporter({ url: `${collector.url}/v1/traces`, headers: { Authorization: `Bearer ${key}` }, timeoutMillis: 10_000 });
  const latencies: number[] = [];
  const acked: string[] = [];
  for (let i = 0; i < batches; i++) {
    const spans = makeSpans(200);
    const t0 = performance.now();
    const code = await new Promise<number>((resolve) => exporter.export(spans, (r) => resolve(r.code)));
    latencies.push(performance.now() - t0);
    expect(code).toBe(ExportResultCode.SUCCESS);
    acked.push(...spans.map((s) => s.spanContext().spanId));
  }
  await exporter.shutdown();
  return { latencies, acked };
}

async function waitStored(ids: string[]): Promise<number> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const [r] = await shared!.gateway.query<{ n: string }>("SELECT toString(count()) AS n FROM spans FINAL WHERE span_id IN {ids:Array(String)}", { ids });
    const n = Number(r!.n);
    if (n >= ids.length || Date.now() > deadline) return n;
    await new Promise((res) => setTimeout(res, 100));
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

describe("fault: forwarding APM down", () => {
  it("ingest is unaffected whether the APM refuses connections or hangs; the forward queue stays bounded", async () => {
    const baseline = await collectorForwardingTo(undefined);
    const hole = await blackHole();
    const hung = await collectorForwardingTo(hole.url);
    const refused = await collectorForwardingTo(await closedPort());

    const base = await ingest(baseline.collector, baseline.key, 20);
    const viaHung = await ingest(hung.collector, hung.key, 20);
    const viaRefused = await ingest(refused.collector, refused.key, 20);

    expect(await waitStored(viaHung.acked)).toBe(viaHung.acked.length);
    expect(await waitStored(viaRefused.acked)).toBe(viaRefused.acked.length);
    const [b, h, r] = [median(base.latencies), median(viaHung.latencies), median(viaRefused.latencies)];
    console.log(`forward down: median export latency ${b.toFixed(1)} ms without forwarding, ${h.toFixed(1)} ms to a hung APM, ${r.toFixed(1)} ms to a refusing APM; hung APM saw ${hole.connections()} connections`);
    expect(h).toBeLessThan(b * 3 + 50);
    expect(r).toBeLessThan(b * 3 + 50);
    // The forwarder did try (so the test is real), and whatever it holds is bounded.
    expect(hole.connections()).toBeGreaterThan(0);
    for (const c of [hung.collector, refused.collector]) {
      const metrics = c.metrics.render();
      const depth = Number(/troupe_collector_forward_queue_depth_spans (\d+)/.exec(metrics)?.[1] ?? NaN);
      expect(depth).toBeLessThanOrEqual(4_000);
      expect(c.metrics.forwardSpansSent.value([])).toBe(0);
    }
    expect((await fetch(`${hung.collector.url}/readyz`)).status).toBe(200);
  }, 60_000);
});
