// The store goes away for a while under sustained ingest: the spool absorbs what arrives (200s, the
// spans durable on disk), past its bound ingest answers 503 with Retry-After, the real OTel exporter
// retries, and once the store returns every acknowledged span is stored exactly once.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
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
  type RunningServer,
  type SpanRow,
  type SpanStore,
} from "@troupe/collector";
import { otlpJson } from "../isolation/otlp-json.js";

/** The real ClickHouse store behind a switch: while `down`, inserts and pings fail. */
class SwitchableStore implements SpanStore {
  down = false;
  failedInserts = 0;
  readonly #inner: SpanStore;

  constructor(inner: SpanStore) {
    this.#inner = inner;
  }
  async insertSpans(rows: readonly SpanRow[], batchId: string): Promise<void> {
    if (this.down) {
      this.failedInserts++;
      throw new Error("store unavailable (injected)");
    }
    return this.#inner.insertSpans(rows, batchId);
  }
  async ping(): Promise<void> {
    if (this.down) throw new Error("store unavailable (injected)");
    return this.#inner.ping();
  }
  close(): Promise<void> {
    return this.#inner.close();
  }
}

let dir: string;
let gateway: ClickHouseGateway;
let store: SwitchableStore;
let pipeline: IngestPipeline;
let server: RunningServer;
const metrics = new CollectorMetrics();
let ingestKey = "";
const SPOOL_MAX_BYTES = 600 * 1024;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "troupe-fault-store-"));
  gateway = await openClickHouse({ kind: "chdb", dataDir: join(dir, "chdb") });
  const registry = createTenantRegistry(gateway);
  await registry.createTenant({ id: "acme" });
  ingestKey = (await registry.issueKey("acme", "ingest")).key.secret;
  store = new SwitchableStore(createClickHouseSpanStore(gateway));
  pipeline = await IngestPipeline.start({
    store,
    metrics,
    spool: { dir: join(dir, "spool"), maxBytes: SPOOL_MAX_BYTES, retryAfterS: 1 },
    writer: { maxBatchDelayMs: 20, initialRetryDelayMs: 50, maxRetryDelayMs: 200 },
  });
  server = await listen(createCollectorApp({ authenticator: registry, sink: pipeline, metrics, store, pipelineHealth: () => pipeline.health() }), 0, "127.0.0.1");
}, 60_000);

afterAll(async () => {
  await server?.close();
  await pipeline?.close(5_000);
  await gateway?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function makeSpans(count: number): ReadableSpan[] {
  const ended: ReadableSpan[] = [];
  const collect: SpanProcessor = { onStart: () => undefined, onEnd: (s) => void ended.push(s), forceFlush: async () => undefined, shutdown: async () => undefined };
  const tracer = new BasicTracerProvider({ resource: resourceFromAttributes({ "service.name": "store-outage" }), spanProcessors: [collect] }).getTracer("t");
  for (let i = 0; i < count; i++) tracer.startSpan("chat m", { attributes: { "gen_ai.operation.name": "chat", "gen_ai.request.model": "m", "gen_ai.usage.input_tokens": 3 } }).end();
  return ended;
}

function exportWith(exporter: OTLPTraceExporter, spans: ReadableSpan[]): Promise<number> {
  return new Promise((resolve) => exporter.export(spans, (r) => resolve(r.code)));
}

async function storedCount(ids: readonly string[]): Promise<{ present: number; rows: number }> {
  const [r] = await gateway.query<{ present: string; rows: string }>(
    "SELECT toString(uniqExact(span_id)) AS present, toString(count()) AS rows FROM spans FINAL WHERE tenant_id = 'acme' AND span_id IN {ids:Array(String)}",
    { ids },
  );
  return { present: Number(r!.present), rows: Number(r!.rows) };
}

describe("fault: store unavailable", () => {
  it("spool absorbs, 503 + Retry-After past its bound, the OTel exporter retries, nothing lost once the store returns", async () => {
    const exporter = new OTLPTraceExporter({ url: `${server.url}/v1/traces`, headers: { Authorization: `Bearer ${ingestKey}` }, timeoutMillis: 30_000 });
    const acked = new Set<string>();

    // Store down: exports are still acknowledged (the spool holds them durably) ...
    store.down = true;
    let batches = 0;
    while (pipeline.health().spoolBytes < SPOOL_MAX_BYTES * 0.8) {
      const batch = makeSpans(100);
      expect(await exportWith(exporter, batch)).toBe(ExportResultCode.SUCCESS);
      for (const s of batch) acked.add(s.spanContext().spanId);
      batches++;
      if (batches > 500) throw new Error("the spool never filled");
    }
    // ... then raw requests until the spool is at its bound (the exporter would hide the 503 by retrying).
    let overloaded: Response | undefined;
    for (let i = 0; i < 200 && overloaded === undefined; i++) {
      const { body, spanIds } = otlpJson(Array.from({ length: 50 }, (_, j) => ({ name: `raw ${i}/${j}` })));
      const res = await fetch(`${server.url}/v1/traces`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${ingestKey}` }, body });
      if (res.status === 503) overloaded = res;
      else {
        expect(res.status).toBe(200);
        await res.arrayBuffer();
        for (const id of spanIds) acked.add(id);
      }
    }
    expect(batches).toBeGreaterThan(3);
    expect((await storedCount([...acked])).present).toBe(0); // nothing reached the store yet
    expect(store.failedInserts).toBeGreaterThan(0); // the writer kept retrying
    // ... until the spool is at its bound: 503 with Retry-After and a JSON error.
    expect(overloaded?.status).toBe(503);
    expect(overloaded!.headers.get("retry-after")).toBe("1");
    expect(((await overloaded!.json()) as { error: { code: string } }).error.code).toBe("overloaded");
    const readyz = await fetch(`${server.url}/readyz`);
    expect(readyz.status).toBe(503);

    // The real exporter, refused with 503, retries on its own; the store comes back meanwhile.
    const refusedBefore = metrics.requests.value(["overloaded"]);
    const late = makeSpans(100);
    const pending = exportWith(exporter, late);
    await new Promise((r) => setTimeout(r, 1_500));
    expect(metrics.requests.value(["overloaded"])).toBeGreaterThan(refusedBefore);
    store.down = false;
    expect(await pending).toBe(ExportResultCode.SUCCESS);
    for (const s of late) acked.add(s.spanContext().spanId);

    // Everything acknowledged is stored, once.
    const deadline = Date.now() + 20_000;
    let stored = await storedCount([...acked]);
    while (stored.present < acked.size && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      stored = await storedCount([...acked]);
    }
    console.log(`store outage: ${acked.size} spans acknowledged (${batches} batches spooled while down, ${store.failedInserts} failed inserts), ${stored.present} stored`);
    expect(stored.present).toBe(acked.size);
    expect(stored.rows).toBe(acked.size);
    expect(metrics.spansDropped.value(["spool_corrupt_record"])).toBe(0);
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
  }, 60_000);
});
