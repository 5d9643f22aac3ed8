import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import { BasicTracerProvider, BatchSpanProcessor, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { OTLPTraceExporter as JsonExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { OTLPTraceExporter as ProtoExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import {
  CollectorMetrics,
  IngestPipeline,
  MemorySpanStore,
  StaticKeyAuthenticator,
  createCollectorApp,
  listen,
  type RunningServer,
} from "@troupe/collector";

const KEYS = {
  "ingest-acme": { kind: "tenant-ingest" as const, keyId: "k1", tenantId: "acme" },
  "service-key": { kind: "service-ingest" as const, keyId: "k2", allowedTenants: ["acme", "globex"] },
};

let dir: string;
let store: MemorySpanStore;
let pipeline: IngestPipeline;
let server: RunningServer;
let metrics: CollectorMetrics;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "troupe-ingest-"));
  store = new MemorySpanStore();
  metrics = new CollectorMetrics();
  pipeline = await IngestPipeline.start({ store, metrics, spool: { dir, maxBytes: 64 * 1024 * 1024 }, writer: { maxBatchDelayMs: 20 } });
  const app = createCollectorApp({ authenticator: new StaticKeyAuthenticator(KEYS), sink: pipeline, metrics, store, pipelineHealth: () => pipeline.health() });
  server = await listen(app, 0, "127.0.0.1");
});

afterAll(async () => {
  await server?.close();
  await pipeline?.close();
  await rm(dir, { recursive: true, force: true });
});

async function waitFor(predicate: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 10));
  }
}

function provider(exporter: JsonExporter | ProtoExporter, batch: boolean, resource: Record<string, string>): BasicTracerProvider {
  return new BasicTracerProvider({
    resource: resourceFromAttributes(resource),
    spanProcessors: [batch ? new BatchSpanProcessor(exporter, { maxExportBatchSize: 512, scheduledDelayMillis: 10 }) : new SimpleSpanProcessor(exporter)],
  });
}

describe.each([
  ["json", (headers: Record<string, string>) => new JsonExporter({ url: `${server.url}/v1/traces`, headers })],
  ["protobuf", (headers: Record<string, string>) => new ProtoExporter({ url: `${server.url}/v1/traces`, headers })],
  ["protobuf+gzip", (headers: Record<string, string>) => new ProtoExporter({ url: `${server.url}/v1/traces`, headers, compression: "gzip" as never })],
  ["json+gzip", (headers: Record<string, string>) => new JsonExporter({ url: `${server.url}/v1/traces`, headers, compression: "gzip" as never })],
])("real %s exporter → collector → store", (format, makeExporter) => {
  it("stores every span with ids, times, kind, status and only allow-listed attributes", async () => {
    const tp = provider(makeExporter({ Authorization: "Bearer ingest-acme" }), true, { "service.name": `svc-${format}`, "secret.resource": "x" });
    const tracer = tp.getTracer("t");
    const parent = tracer.startSpan("invoke_agent planner", { kind: SpanKind.SERVER, attributes: { "troupe.agent.type": "planner", "gen_ai.usage.input_tokens": 1234, "prompt.text": "never stored" } });
    const ids: string[] = [parent.spanContext().spanId];
    for (let i = 0; i < 50; i++) {
      const child = tracer.startSpan(`chat ${format} ${i}`, { kind: SpanKind.CLIENT, attributes: { "gen_ai.request.model": "gpt-x", "gen_ai.response.finish_reasons": ["stop"] } }, undefined);
      child.setStatus({ code: i % 10 === 0 ? SpanStatusCode.ERROR : SpanStatusCode.OK });
      child.recordException(new Error("boom with private details"));
      ids.push(child.spanContext().spanId);
      child.end();
    }
    parent.end();
    await tp.forceFlush();
    await tp.shutdown();

    await waitFor(() => ids.every((id) => store.rows.some((r) => r.spanId === id)));
    const rows = store.rows.filter((r) => ids.includes(r.spanId));
    expect(rows).toHaveLength(51);
    const root = rows.find((r) => r.spanId === parent.spanContext().spanId)!;
    expect(root).toMatchObject({
      tenantId: "acme",
      traceId: parent.spanContext().traceId,
      parentSpanId: "",
      name: "invoke_agent planner",
      kind: 2,
      serviceName: `svc-${format}`,
      attributes: { "troupe.agent.type": "planner", "gen_ai.usage.input_tokens": "1234" },
    });
    expect(root.attributes).not.toHaveProperty("prompt.text");
    expect(root.resourceAttributes).not.toHaveProperty("secret.resource");
    expect(root.resourceAttributes["service.name"]).toBe(`svc-${format}`);
    expect(BigInt(root.startTimeUnixNano)).toBeGreaterThan(1_600_000_000_000_000_000n);
    const child = rows.find((r) => r.name === `chat ${format} 0`)!;
    expect(child).toMatchObject({ kind: 3, statusCode: 2, attributes: { "gen_ai.request.model": "gpt-x", "gen_ai.response.finish_reasons": '["stop"]', "exception.type": "Error" } });
    expect(JSON.stringify(rows)).not.toContain("private details");
    expect(rows.find((r) => r.name === `chat ${format} 1`)!.statusCode).toBe(1);
  });
});

describe("tenancy at ingest, with real exporters", () => {
  it("binds a tenant key's spans to its tenant and rejects spans claiming another tenant", async () => {
    const before = metrics.spansRejected.value(["tenant_mismatch"]);
    const tp = provider(new ProtoExporter({ url: `${server.url}/v1/traces`, headers: { Authorization: "Bearer ingest-acme" } }), false, { "service.name": "mix" });
    const tracer = tp.getTracer("t");
    const own = tracer.startSpan("own");
    own.end();
    const foreign = tracer.startSpan("foreign", { attributes: { "troupe.tenant.id": "globex" } });
    foreign.end();
    await tp.forceFlush();
    await tp.shutdown();
    await waitFor(() => store.rows.some((r) => r.spanId === own.spanContext().spanId));
    expect(store.rows.find((r) => r.spanId === own.spanContext().spanId)!.tenantId).toBe("acme");
    expect(store.rows.some((r) => r.spanId === foreign.spanContext().spanId)).toBe(false);
    expect(metrics.spansRejected.value(["tenant_mismatch"])).toBe(before + 1);
  });

  it("lets a service key write its allowed tenants only, and rejects spans without a tenant", async () => {
    const tp = provider(new JsonExporter({ url: `${server.url}/v1/traces`, headers: { Authorization: "Bearer service-key" } }), false, { "service.name": "runtime" });
    const tracer = tp.getTracer("t");
    const spans = {
      globex: tracer.startSpan("g", { attributes: { "troupe.tenant.id": "globex" } }),
      initech: tracer.startSpan("i", { attributes: { "troupe.tenant.id": "initech" } }),
      none: tracer.startSpan("n"),
    };
    Object.values(spans).forEach((s) => s.end());
    await tp.forceFlush();
    await tp.shutdown();
    await waitFor(() => store.rows.some((r) => r.spanId === spans.globex.spanContext().spanId));
    expect(store.rows.find((r) => r.spanId === spans.globex.spanContext().spanId)!.tenantId).toBe("globex");
    expect(store.rows.some((r) => r.spanId === spans.initech.spanContext().spanId || r.spanId === spans.none.spanContext().spanId)).toBe(false);
    expect(metrics.spansRejected.value(["tenant_not_allowed"])).toBeGreaterThanOrEqual(1);
    expect(metrics.spansRejected.value(["missing_tenant"])).toBeGreaterThanOrEqual(1);
  });
});
