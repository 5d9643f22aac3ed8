import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SpanKind, SpanStatusCode, context, trace } from "@opentelemetry/api";
import { BasicTracerProvider, BatchSpanProcessor, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { OTLPTraceExporter as JsonExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { OTLPTraceExporter as ProtoExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { loadCollectorConfig, startCollector, type RunningCollector, type SpanRow } from "@troupe/collector";

let dir: string;
let collector: RunningCollector;
const secrets = { acme: "", service: "", acmeConsole: "", globexConsole: "" };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "troupe-ingest-"));
  collector = await startCollector(
    { ...loadCollectorConfig({ TROUPE_DATA_DIR: dir }), port: 0, host: "127.0.0.1" },
    { writer: { maxBatchDelayMs: 20 } },
  );
  await collector.registry.createTenant({ id: "acme" });
  await collector.registry.createTenant({ id: "globex" });
  await collector.registry.createTenant({ id: "initech" });
  secrets.acme = (await collector.registry.issueKey("acme", "ingest")).key.secret;
  secrets.service = (await collector.registry.issueServiceKey(["acme", "globex"])).secret;
  secrets.acmeConsole = (await collector.registry.issueKey("acme", "console")).key.secret;
  secrets.globexConsole = (await collector.registry.issueKey("globex", "console")).key.secret;
});

afterAll(async () => {
  await collector?.close();
  await rm(dir, { recursive: true, force: true });
});

/** Rows of these spans as stored in chDB (FINAL: exactly one row per span). */
async function storedRows(spanIds: readonly string[]): Promise<SpanRow[]> {
  const rows = await collector.gateway.query<{
    tenant_id: string; trace_id: string; span_id: string; parent_span_id: string; name: string; kind: number; start_ns: string;
    duration_ns: string; status_code: number; service_name: string; attributes: Record<string, string>; resource_attributes: Record<string, string>;
  }>(
    `SELECT tenant_id, trace_id, span_id, parent_span_id, name, kind, toString(toUnixTimestamp64Nano(start_time)) AS start_ns, duration_ns,
            status_code, service_name, attributes, resource_attributes
       FROM spans FINAL WHERE span_id IN {ids:Array(String)}`,
    { ids: spanIds },
  );
  return rows.map((r) => ({
    tenantId: r.tenant_id, traceId: r.trace_id, spanId: r.span_id, parentSpanId: r.parent_span_id, name: r.name, kind: Number(r.kind),
    startTimeUnixNano: r.start_ns, durationNs: Number(r.duration_ns), statusCode: Number(r.status_code), serviceName: r.service_name,
    attributes: r.attributes, resourceAttributes: r.resource_attributes,
  }));
}

async function waitForRows(spanIds: readonly string[], count = spanIds.length, timeoutMs = 10_000): Promise<SpanRow[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const rows = await storedRows(spanIds);
    if (rows.length >= count) return rows;
    if (Date.now() > deadline) throw new Error(`timed out: ${rows.length} of ${count} spans stored`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function provider(exporter: JsonExporter | ProtoExporter, batch: boolean, resource: Record<string, string>): BasicTracerProvider {
  return new BasicTracerProvider({
    resource: resourceFromAttributes(resource),
    spanProcessors: [batch ? new BatchSpanProcessor(exporter, { maxExportBatchSize: 512, scheduledDelayMillis: 10 }) : new SimpleSpanProcessor(exporter)],
  });
}

describe.each([
  ["json", (headers: Record<string, string>) => new JsonExporter({ url: `${collector.url}/v1/traces`, headers })],
  ["protobuf", (headers: Record<string, string>) => new ProtoExporter({ url: `${collector.url}/v1/traces`, headers })],
  ["protobuf+gzip", (headers: Record<string, string>) => new ProtoExporter({ url: `${collector.url}/v1/traces`, headers, compression: "gzip" as never })],
  ["json+gzip", (headers: Record<string, string>) => new JsonExporter({ url: `${collector.url}/v1/traces`, headers, compression: "gzip" as never })],
])("real %s exporter → collector → store", (format, makeExporter) => {
  it("stores every span with ids, times, kind, status and only allow-listed attributes", async () => {
    // Protobuf exports take the direct path (wire straight into a span block), JSON the general one.
    const path = format.startsWith("protobuf") ? "direct" : "general";
    const decodedBefore = collector.metrics.spansDecoded.value([path]);
    const tp = provider(makeExporter({ Authorization: `Bearer ${secrets.acme}` }), true, { "service.name": `svc-${format}`, "secret.resource": "x" });
    const tracer = tp.getTracer("t");
    const parent = tracer.startSpan("invoke_agent planner", { kind: SpanKind.SERVER, attributes: { "troupe.agent.type": "planner", "gen_ai.usage.input_tokens": 1234, "prompt.text": "never stored" } });
    const ids: string[] = [parent.spanContext().spanId];
    for (let i = 0; i < 50; i++) {
      const child = tracer.startSpan(`chat ${format} ${i}`, { kind: SpanKind.CLIENT, attributes: { "gen_ai.request.model": "gpt-x", "gen_ai.response.finish_reasons": ["stop"] } }, trace.setSpan(context.active(), parent));
      child.setStatus({ code: i % 10 === 0 ? SpanStatusCode.ERROR : SpanStatusCode.OK });
      child.recordException(new Error("boom with private details"));
      ids.push(child.spanContext().spanId);
      child.end();
    }
    parent.end();
    await tp.forceFlush();
    await tp.shutdown();

    const rows = await waitForRows(ids);
    expect(rows).toHaveLength(51);
    expect(collector.metrics.spansDecoded.value([path]) - decodedBefore).toBe(51);
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
    expect(child).toMatchObject({ traceId: root.traceId, parentSpanId: root.spanId, kind: 3, statusCode: 2, attributes: { "gen_ai.request.model": "gpt-x", "gen_ai.response.finish_reasons": '["stop"]', "exception.type": "Error" } });
    expect(JSON.stringify(rows)).not.toContain("private details");
    expect(rows.find((r) => r.name === `chat ${format} 1`)!.statusCode).toBe(1);

    // Round trip through the query API: the tenant's console key sees the span tree, another tenant's does not.
    const traceUrl = `${collector.url}/api/v1/traces/${root.traceId}`;
    const own = await fetch(traceUrl, { headers: { Authorization: `Bearer ${secrets.acmeConsole}` } });
    expect(own.status).toBe(200);
    const tree = (await own.json()) as { tenantId: string; spanCount: number; spans: { spanId: string; depth: number }[] };
    expect(tree.tenantId).toBe("acme");
    expect(tree.spans.map((s) => s.spanId).sort()).toEqual([...ids].sort());
    const other = await fetch(traceUrl, { headers: { Authorization: `Bearer ${secrets.globexConsole}` } });
    if (other.status === 200) expect(((await other.json()) as { spans: unknown[] }).spans).toHaveLength(0);
    else expect(other.status).toBe(404);
  });
});

describe("tenancy at ingest, with real exporters", () => {
  it("binds a tenant key's spans to its tenant and rejects spans claiming another tenant", async () => {
    const before = collector.metrics.spansRejected.value(["tenant_mismatch"]);
    const tp = provider(new ProtoExporter({ url: `${collector.url}/v1/traces`, headers: { Authorization: `Bearer ${secrets.acme}` } }), false, { "service.name": "mix" });
    const tracer = tp.getTracer("t");
    const own = tracer.startSpan("own");
    own.end();
    const foreign = tracer.startSpan("foreign", { attributes: { "troupe.tenant.id": "globex" } });
    foreign.end();
    await tp.forceFlush();
    await tp.shutdown();
    const [stored] = await waitForRows([own.spanContext().spanId]);
    expect(stored!.tenantId).toBe("acme");
    expect(await storedRows([foreign.spanContext().spanId])).toHaveLength(0);
    expect(collector.metrics.spansRejected.value(["tenant_mismatch"])).toBe(before + 1);
  });

  it("lets a service key write its allowed tenants only, and rejects spans without a tenant", async () => {
    const tp = provider(new JsonExporter({ url: `${collector.url}/v1/traces`, headers: { Authorization: `Bearer ${secrets.service}` } }), false, { "service.name": "runtime" });
    const tracer = tp.getTracer("t");
    const spans = {
      globex: tracer.startSpan("g", { attributes: { "troupe.tenant.id": "globex" } }),
      initech: tracer.startSpan("i", { attributes: { "troupe.tenant.id": "initech" } }),
      none: tracer.startSpan("n"),
    };
    Object.values(spans).forEach((s) => s.end());
    await tp.forceFlush();
    await tp.shutdown();
    const [stored] = await waitForRows([spans.globex.spanContext().spanId]);
    expect(stored!.tenantId).toBe("globex");
    expect(await storedRows([spans.initech.spanContext().spanId, spans.none.spanContext().spanId])).toHaveLength(0);
    expect(collector.metrics.spansRejected.value(["tenant_not_allowed"])).toBe(1);
    expect(collector.metrics.spansRejected.value(["missing_tenant"])).toBe(1);
  });
});
