import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SpanKind, SpanStatusCode, context, createTraceState, trace } from "@opentelemetry/api";
import { BasicTracerProvider, BatchSpanProcessor, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { OTLPTraceExporter as JsonExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { OTLPTraceExporter as ProtoExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { loadCollectorConfig, startCollector, type RunningCollector, type SpanRow } from "@troupe/collector";
import { toJson, toProtobuf, type GenSpan } from "./fuzz/otlp-arbitraries.js";

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

/** Rows of these spans as stored in chDB (FINAL: exactly one row per span), every column the collector writes. */
async function storedRows(spanIds: readonly string[]): Promise<SpanRow[]> {
  const rows = await collector.gateway.query<{
    tenant_id: string; trace_id: string; span_id: string; parent_span_id: string; name: string; kind: number; start_ns: string;
    duration_ns: string; status_code: number; service_name: string; attributes: Record<string, string>; resource_attributes: Record<string, string>;
    attribute_types: Record<string, string>; resource_attribute_types: Record<string, string>; scope_name: string; scope_version: string;
    trace_state: string; flags: number; events: string; links: string;
  }>(
    `SELECT tenant_id, trace_id, span_id, parent_span_id, name, kind, toString(toUnixTimestamp64Nano(start_time)) AS start_ns, duration_ns,
            status_code, service_name, attributes, resource_attributes, attribute_types, resource_attribute_types, scope_name, scope_version,
            trace_state, flags, events, links
       FROM spans FINAL WHERE span_id IN {ids:Array(String)}`,
    { ids: spanIds },
  );
  return rows.map((r) => ({
    tenantId: r.tenant_id, traceId: r.trace_id, spanId: r.span_id, parentSpanId: r.parent_span_id, name: r.name, kind: Number(r.kind),
    startTimeUnixNano: r.start_ns, durationNs: Number(r.duration_ns), statusCode: Number(r.status_code), serviceName: r.service_name,
    attributes: r.attributes, resourceAttributes: r.resource_attributes,
    attributeTypes: r.attribute_types as SpanRow["attributeTypes"], resourceAttributeTypes: r.resource_attribute_types as SpanRow["attributeTypes"],
    scopeName: r.scope_name, scopeVersion: r.scope_version, traceState: r.trace_state, flags: Number(r.flags),
    events: r.events === "" ? [] : (JSON.parse(r.events) as Partial<SpanRow["events"][number]>[]).map((e) => ({ timeUnixNano: "0", name: "", attributes: {}, attributeTypes: {}, ...e })),
    links: r.links === "" ? [] : (JSON.parse(r.links) as Partial<SpanRow["links"][number]>[]).map((l) => ({ traceId: "", spanId: "", traceState: "", flags: 0, attributes: {}, attributeTypes: {}, ...l })),
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
    // Exports of either format take the direct path (the body straight into a span block).
    const path = "direct";
    const decodedBefore = collector.metrics.spansDecoded.value([path]);
    const tp = provider(makeExporter({ Authorization: `Bearer ${secrets.acme}` }), true, { "service.name": `svc-${format}`, "secret.resource": "x" });
    const tracer = tp.getTracer("troupe-test", "3.1.4");
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
      attributeTypes: { "gen_ai.usage.input_tokens": "int" },
      scopeName: "troupe-test",
      scopeVersion: "3.1.4",
      flags: 0x101,
    });
    expect(root.attributes).not.toHaveProperty("prompt.text");
    expect(root.resourceAttributes).not.toHaveProperty("secret.resource");
    expect(root.resourceAttributes["service.name"]).toBe(`svc-${format}`);
    expect(BigInt(root.startTimeUnixNano)).toBeGreaterThan(1_600_000_000_000_000_000n);
    const child = rows.find((r) => r.name === `chat ${format} 0`)!;
    expect(child).toMatchObject({
      traceId: root.traceId,
      parentSpanId: root.spanId,
      kind: 3,
      statusCode: 2,
      attributes: { "gen_ai.request.model": "gpt-x", "gen_ai.response.finish_reasons": '["stop"]' },
      attributeTypes: { "gen_ai.response.finish_reasons": "string[]" },
    });
    // The exception is an event, as it was sent: its type kept, its message and stack not.
    expect(child.attributes).not.toHaveProperty("exception.type");
    expect(child.events).toHaveLength(1);
    expect(child.events[0]).toMatchObject({ name: "exception", attributes: { "exception.type": "Error" }, attributeTypes: {} });
    expect(BigInt(child.events[0]!.timeUnixNano)).toBeGreaterThanOrEqual(BigInt(child.startTimeUnixNano));
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

  it("keeps each attribute's type, the scope, tracestate, flags, events and links as the exporter sent them", async () => {
    const tp = provider(makeExporter({ Authorization: `Bearer ${secrets.acme}` }), false, { "service.name": `typed-${format}`, "process.pid": 4242 } as never);
    const tracer = tp.getTracer("typed-lib", "0.9.0");
    const target = tracer.startSpan("linked target");
    target.end();
    const remoteParent = trace.setSpanContext(context.active(), {
      traceId: randomBytes(16).toString("hex"), spanId: randomBytes(8).toString("hex"), traceFlags: 1, isRemote: true, traceState: createTraceState("vendor=a,other=b"),
    });
    const span = tracer.startSpan(
      "typed",
      {
        attributes: {
          "gen_ai.usage.input_tokens": 45, "troupe.llm.cost_usd": 0.125, "gen_ai.request.stream": false, "gen_ai.response.finish_reasons": ["stop", "length"],
          "gen_ai.request.max_tokens": [1, 2, 3], "troupe.queue.wait_ms": [1.5, 2.25], "troupe.sampling.ratio": 1, "gen_ai.response.id": "x".repeat(300),
        },
        links: [{ context: target.spanContext(), attributes: { "troupe.agent.type": "linker", "app.secret": "dropped" } }],
      },
      remoteParent,
    );
    span.addEvent("gen_ai.client.inference.operation.details", { "gen_ai.response.model": "m-1", "gen_ai.usage.output_tokens": 7, "gen_ai.output.messages": "never stored" });
    span.end();
    await tp.forceFlush();
    await tp.shutdown();

    const [row] = await waitForRows([span.spanContext().spanId]);
    expect(row).toMatchObject({
      scopeName: "typed-lib",
      scopeVersion: "0.9.0",
      traceState: "vendor=a,other=b",
      flags: 0x301, // sampled, and a remote parent (has-is-remote and is-remote)
      attributes: {
        "gen_ai.usage.input_tokens": "45", "troupe.llm.cost_usd": "0.125", "gen_ai.request.stream": "false", "gen_ai.response.finish_reasons": '["stop","length"]',
        "gen_ai.request.max_tokens": "[1,2,3]", "troupe.queue.wait_ms": "[1.5,2.25]", "troupe.sampling.ratio": "1", "gen_ai.response.id": "x".repeat(256),
      },
      attributeTypes: {
        "gen_ai.usage.input_tokens": "int", "troupe.llm.cost_usd": "double", "gen_ai.request.stream": "bool", "gen_ai.response.finish_reasons": "string[]",
        "gen_ai.request.max_tokens": "int[]", "troupe.queue.wait_ms": "double[]", "troupe.sampling.ratio": "int", "gen_ai.response.id": "truncated",
      },
      resourceAttributes: { "service.name": `typed-${format}`, "process.pid": "4242" },
      resourceAttributeTypes: { "process.pid": "int" },
      links: [{ traceId: target.spanContext().traceId, spanId: target.spanContext().spanId, traceState: "", flags: 0x101, attributes: { "troupe.agent.type": "linker" }, attributeTypes: {} }],
    });
    expect(row!.events).toEqual([
      {
        timeUnixNano: expect.stringMatching(/^\d{19}$/) as unknown as string,
        name: "gen_ai.client.inference.operation.details",
        attributes: { "gen_ai.response.model": "m-1", "gen_ai.usage.output_tokens": "7" },
        attributeTypes: { "gen_ai.usage.output_tokens": "int" },
      },
    ]);
  });
});


describe("tenancy at ingest, with real exporters", () => {
  it("binds a tenant key's spans to its tenant and rejects spans claiming another tenant", async () => {
    const before = collector.metrics.spansRejected.value(["tenant_mismatch"]);
    const tp = provider(new ProtoExporter({ url: `${collector.url}/v1/traces`, headers: { Authorization: `Bearer ${secrets.acme}` } }), false, { "service.name": "mix" });
    const tracer = tp.getTracer("troupe-test", "3.1.4");
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
    const tracer = tp.getTracer("troupe-test", "3.1.4");
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

/** POSTs an OTLP body with the acme ingest key; the answer's status and partial success (either encoding). */
async function postTraces(body: string | Uint8Array, format: "json" | "protobuf"): Promise<{ status: number; rejectedSpans: number; errorMessage: string }> {
  const res = await fetch(`${collector.url}/v1/traces`, {
    method: "POST",
    headers: { Authorization: `Bearer ${secrets.acme}`, "content-type": format === "json" ? "application/json" : "application/x-protobuf" },
    body: body as BodyInit,
  });
  if (format === "json") {
    const answer = (await res.json()) as { partialSuccess?: { rejectedSpans: string; errorMessage: string } };
    return { status: res.status, rejectedSpans: Number(answer.partialSuccess?.rejectedSpans ?? 0), errorMessage: answer.partialSuccess?.errorMessage ?? "" };
  }
  return { status: res.status, ...readPartialSuccess(new Uint8Array(await res.arrayBuffer())) };
}

/** ExportTraceServiceResponse.partial_success (field 1): rejected_spans (1, varint), error_message (2, string). */
function readPartialSuccess(bytes: Uint8Array): { rejectedSpans: number; errorMessage: string } {
  const out = { rejectedSpans: 0, errorMessage: "" };
  let pos = 0;
  const varint = (): number => {
    let n = 0;
    for (let shift = 0; ; shift += 7) {
      const b = bytes[pos++]!;
      n += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return n;
    }
  };
  while (pos < bytes.length) {
    const tag = varint();
    if (tag !== 0x0a) throw new Error(`unexpected field ${tag >> 3} in the response`);
    const end = varint() + pos;
    while (pos < end) {
      const inner = varint();
      if (inner === 0x08) out.rejectedSpans = varint();
      else if (inner === 0x12) {
        const length = varint();
        out.errorMessage = Buffer.from(bytes.subarray(pos, pos + length)).toString("utf8");
        pos += length;
      } else throw new Error(`unexpected field ${inner >> 3} in partial_success`);
    }
  }
  return out;
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

describe("spans that could never be read back", () => {
  it("stores JSON times exactly to the nanosecond, sent as numbers or as strings, in the specification's example shape", async () => {
    // Past 2^53 and odd: JSON.parse alone would round it to a multiple of 256.
    const start = (BigInt(Date.now()) - 60_000n) * 1_000_000n + 123_457n;
    const traceId = randomBytes(16).toString("hex").toUpperCase();
    const [a, b] = [randomBytes(8).toString("hex").toUpperCase(), randomBytes(8).toString("hex").toUpperCase()];
    const body = `{
      "resourceSpans": [{
        "resource": { "attributes": [{ "key": "service.name", "value": { "stringValue": "my.service" } }], "droppedAttributesCount": 0 },
        "scopeSpans": [{
          "scope": { "name": "my.library", "version": "1.0.0", "attributes": [{ "key": "my.scope.attribute", "value": { "stringValue": "x" } }] },
          "spans": [
            { "traceId": "${traceId}", "spanId": "${a}", "parentSpanId": "", "traceState": "", "flags": 257, "name": "as numbers",
              "startTimeUnixNano": ${start}, "endTimeUnixNano": ${start + 1_000_001n}, "kind": 2,
              "attributes": [{ "key": "gen_ai.usage.input_tokens", "value": { "intValue": 9007199254740993 } }],
              "links": [], "status": { "code": 1, "message": "" }, "fieldFromANewerSpec": { "x": [1] } },
            { "traceId": "${traceId}", "spanId": "${b}", "parentSpanId": "${a}", "name": "as strings",
              "startTimeUnixNano": "${start + 7n}", "endTimeUnixNano": "${start + 9n}", "kind": 3 }
          ],
          "schemaUrl": "https://opentelemetry.io/schemas/1.24.0"
        }]
      }]
    }`;
    expect(await postTraces(body, "json")).toEqual({ status: 200, rejectedSpans: 0, errorMessage: "" });
    const rows = await waitForRows([a.toLowerCase(), b.toLowerCase()]);
    const byName = new Map(rows.map((r) => [r.name, r]));
    expect(byName.get("as numbers")).toMatchObject({
      traceId: traceId.toLowerCase(),
      startTimeUnixNano: String(start),
      durationNs: 1_000_001,
      attributes: { "gen_ai.usage.input_tokens": "9007199254740993" },
      attributeTypes: { "gen_ai.usage.input_tokens": "int" },
      scopeName: "my.library",
      scopeVersion: "1.0.0",
      flags: 257,
      links: [],
    });
    expect(byName.get("as strings")).toMatchObject({ parentSpanId: a.toLowerCase(), startTimeUnixNano: String(start + 7n), durationNs: 2 });
    // And through the query API.
    const res = await fetch(`${collector.url}/api/v1/traces/${traceId.toLowerCase()}`, { headers: { Authorization: `Bearer ${secrets.acmeConsole}` } });
    const tree = (await res.json()) as { spans: { name: string; startTimeUnixNano: string }[] };
    expect(Object.fromEntries(tree.spans.map((s) => [s.name, s.startTimeUnixNano]))).toEqual({ "as numbers": String(start), "as strings": String(start + 7n) });
  });

  it.each(["json", "protobuf"] as const)("answers %s requests with a partial success naming each refused span, counts them, and stores the rest", async (format) => {
    const now = BigInt(Date.now()) * 1_000_000n;
    const span = (name: string, change: Partial<GenSpan> = {}): GenSpan => ({
      traceId: randomBytes(16), spanId: randomBytes(8), parentSpanId: new Uint8Array(), name, kind: 1, start: now, end: now + 1000n, attributes: [], events: [], status: 0, ...change,
    });
    const refused: [string, GenSpan][] = [
      ["invalid_trace_id", span("zero trace", { traceId: new Uint8Array(16) })],
      ["invalid_span_id", span("zero span", { spanId: new Uint8Array(8) })],
      ["missing_start_time", span("no start", { start: 0n })],
      ["time_in_future", span("future", { start: now + 11n * 60_000_000_000n })],
      ["time_expired", span("ancient", { start: now - 3651n * 86_400_000_000_000n })],
    ];
    const kept = span(`kept ${format}`);
    const request = { resources: [{ attributes: [["service.name", { s: "refusals" }]] as GenSpan["attributes"], spans: [kept, ...refused.map(([, s]) => s)] }] };
    const before = new Map(refused.map(([reason]) => [reason, collector.metrics.spansRejected.value([reason])]));

    const answer = await postTraces(format === "json" ? toJson(request) : toProtobuf(request), format);
    expect(answer.status).toBe(200);
    expect(answer.rejectedSpans).toBe(5);
    for (const [reason] of refused) expect(answer.errorMessage).toContain(`1 ${reason} (`);
    expect(answer.errorMessage).toMatch(/more than 10 minutes ahead/);
    expect(answer.errorMessage).toMatch(/older than the longest retention \(3650 days\)/);

    const [stored] = await waitForRows([hex(kept.spanId)]);
    expect(stored).toMatchObject({ name: `kept ${format}`, startTimeUnixNano: String(now) });
    expect(await storedRows(refused.map(([, s]) => hex(s.spanId)).filter((id) => id !== "0".repeat(16)))).toHaveLength(0);
    for (const [reason] of refused) expect(collector.metrics.spansRejected.value([reason])).toBe(before.get(reason)! + 1);
    const metricsText = await (await fetch(`${collector.url}/metrics`)).text();
    expect(metricsText).toMatch(/troupe_collector_spans_rejected_total\{reason="time_in_future"\} [1-9]/);
  });
});
