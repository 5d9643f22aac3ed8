import { createServer } from "node:http";
import type { IncomingHttpHeaders, Server } from "node:http";
import type { AddressInfo } from "node:net";
import { gunzipSync } from "node:zlib";
import { context, propagation, trace } from "@opentelemetry/api";
import { ExportResultCode, type ExportResult } from "@opentelemetry/core";
import { ProtobufTraceSerializer } from "@opentelemetry/otlp-transformer";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { afterEach, describe, expect, it } from "vitest";
import { InvalidArgumentError } from "./errors.js";
import { OtlpProtobufTraceExporter, startTelemetry, telemetryOptionsFromEnv } from "./otel.js";
import type { Telemetry } from "./otel.js";
import { ATTR, RESOURCE_ATTRIBUTE_ALLOW_LIST, SPAN_ATTRIBUTE_ALLOW_LIST } from "@troupe/contract";

interface OtlpKeyValue {
  key: string;
  value: Record<string, unknown>;
}
interface OtlpSpan {
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  attributes?: OtlpKeyValue[];
  events?: { name: string; attributes?: OtlpKeyValue[] }[];
}
interface Received {
  headers: IncomingHttpHeaders;
  resourceAttributes: OtlpKeyValue[];
  spans: OtlpSpan[];
}

/** A minimal OTLP/HTTP JSON receiver on 127.0.0.1, recording what it was sent. */
async function startReceiver(): Promise<{ url: string; received: Received[]; close(): Promise<void> }> {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      let body = Buffer.concat(chunks);
      if (req.headers["content-encoding"] === "gzip") body = gunzipSync(body);
      const json = JSON.parse(body.toString("utf8")) as {
        resourceSpans: { resource: { attributes: OtlpKeyValue[] }; scopeSpans: { spans: OtlpSpan[] }[] }[];
      };
      for (const rs of json.resourceSpans) {
        received.push({ headers: req.headers, resourceAttributes: rs.resource.attributes, spans: rs.scopeSpans.flatMap((s) => s.spans) });
      }
      res.writeHead(200, { "content-type": "application/json" });
      res.end("{}");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1/traces`,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const keys = (kvs: OtlpKeyValue[] | undefined) => (kvs ?? []).map((kv) => kv.key);
const attr = (span: OtlpSpan, key: string) => span.attributes?.find((kv) => kv.key === key)?.value;

describe("startTelemetry", () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    while (cleanups.length > 0) await cleanups.pop()!();
  });

  it("exports filtered spans to the collector (with its key) and to an extra OTLP endpoint at once", async () => {
    const collector = await startReceiver();
    const apm = await startReceiver();
    cleanups.push(collector.close, apm.close);
    const telemetry: Telemetry = startTelemetry({
      serviceName: "troupe-test",
      serviceVersion: "1.2.3",
      resourceAttributes: { "cloud.account.id": "12345" },
      collector: { url: collector.url, apiKey: "ingest-key-1" },
      extraEndpoints: [{ url: apm.url, headers: { "x-apm-team": "t1" } }],
      batch: { scheduledDelayMs: 50, maxQueueSize: 100, maxExportBatchSize: 50 },
      protocol: "http/json",
    });
    cleanups.push(() => telemetry.shutdown());

    // Registered globally: the API's tracer, context manager and propagator are the SDK's.
    const tracer = trace.getTracer("troupe");
    const parent = tracer.startSpan("send worker", { attributes: { [ATTR.tenantId]: "acme", "gen_ai.input.messages": "hunter2" } });
    await context.with(trace.setSpan(context.active(), parent), async () => {
      await new Promise((r) => setTimeout(r, 1));
      const child = tracer.startSpan("process worker", { attributes: { [ATTR.tenantId]: "acme", [ATTR.agentKey]: "k".repeat(5000) } });
      child.recordException(new Error("contains hunter2"));
      child.end();
      const carrier: Record<string, string> = {};
      propagation.inject(context.active(), carrier);
      expect(carrier.traceparent).toContain(parent.spanContext().traceId);
    });
    parent.end();
    await telemetry.forceFlush();

    for (const receiver of [collector, apm]) {
      const spans = receiver.received.flatMap((r) => r.spans);
      expect(spans.map((s) => s.name).sort()).toEqual(["process worker", "send worker"]);
      const send = spans.find((s) => s.name === "send worker")!;
      const process = spans.find((s) => s.name === "process worker")!;
      expect(process.traceId).toBe(send.traceId);
      expect(process.parentSpanId).toBe(send.spanId);
      expect(attr(send, ATTR.tenantId)).toEqual({ stringValue: "acme" });
      expect((attr(process, ATTR.agentKey) as { stringValue: string }).stringValue).toHaveLength(256);
      for (const span of spans) for (const key of keys(span.attributes)) expect(SPAN_ATTRIBUTE_ALLOW_LIST.has(key)).toBe(true);
      expect(keys(process.events?.[0]?.attributes)).toEqual(["exception.type"]);
      const resourceKeys = keys(receiver.received[0]!.resourceAttributes);
      expect(resourceKeys).toContain("service.name");
      expect(resourceKeys).toContain("service.version");
      expect(resourceKeys).not.toContain("cloud.account.id");
      for (const key of resourceKeys) expect(RESOURCE_ATTRIBUTE_ALLOW_LIST.has(key)).toBe(true);
      expect(JSON.stringify(receiver.received)).not.toContain("hunter2");
    }
    expect(collector.received[0]!.headers.authorization).toBe("Bearer ingest-key-1");
    expect(apm.received[0]!.headers.authorization).toBeUndefined();
    expect(apm.received[0]!.headers["x-apm-team"]).toBe("t1");
    // Per exporter: gen_ai.input.messages, exception.message, exception.stacktrace, cloud.account.id.
    expect(telemetry.droppedAttributes()).toBe(2 * 4);

    await telemetry.shutdown();
    // The globals are back to no-op after shutdown, so a later start can register again.
    expect(trace.getTracer("x").startSpan("after").isRecording()).toBe(false);
  });

  it("samples by ratio, and can stay out of the globals", async () => {
    const receiver = await startReceiver();
    cleanups.push(receiver.close);
    const telemetry = startTelemetry({ serviceName: "s", collector: { url: receiver.url }, samplerRatio: 0, registerGlobal: false, protocol: "http/json" });
    cleanups.push(() => telemetry.shutdown());
    const tracer = telemetry.tracerProvider.getTracer("t");
    for (let i = 0; i < 20; i++) tracer.startSpan("never").end();
    expect(trace.getTracer("global").startSpan("noop").isRecording()).toBe(false);
    await telemetry.forceFlush();
    expect(receiver.received).toHaveLength(0);
  });

  it("refuses bad options with an error naming the option", () => {
    expect(() => startTelemetry({ serviceName: "" })).toThrow(/serviceName/);
    expect(() => startTelemetry({ serviceName: "s", samplerRatio: 2, collector: false })).toThrow(InvalidArgumentError);
    expect(() => startTelemetry({ serviceName: "s", collector: { url: "ftp://x" } })).toThrow(/collector\.url/);
    expect(() => startTelemetry({ serviceName: "s", collector: false, batch: { maxQueueSize: 10, maxExportBatchSize: 20 } })).toThrow(/maxExportBatchSize/);
  });
});

describe("telemetryOptionsFromEnv", () => {
  it("is off when the SDK is disabled or the exporter is none", () => {
    expect(telemetryOptionsFromEnv({ OTEL_SDK_DISABLED: "true" })).toBeUndefined();
    expect(telemetryOptionsFromEnv({ OTEL_TRACES_EXPORTER: "none" })).toBeUndefined();
  });

  it("reads service name, Troupe collector URL and ingest key; standard OTLP endpoints win", () => {
    expect(telemetryOptionsFromEnv({ OTEL_SERVICE_NAME: "svc", TROUPE_COLLECTOR_URL: "http://c:4318/", TROUPE_INGEST_KEY: "k" })).toEqual({
      serviceName: "svc",
      collector: { url: "http://c:4318/v1/traces", apiKey: "k" },
      // Never to the Troupe collector: it has no /v1/metrics.
      metrics: false,
    });
    expect(telemetryOptionsFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://o:4318", TROUPE_COLLECTOR_URL: "http://c:4318" }, { serviceName: "d" })).toEqual({
      serviceName: "d",
      collector: {},
      metrics: { exporters: ["otlp"] },
    });
    expect(telemetryOptionsFromEnv({})!.serviceName).toBe("troupe-runtime");
  });

  it("reads the OTLP protocol, and refuses one it cannot speak", () => {
    expect(telemetryOptionsFromEnv({ OTEL_EXPORTER_OTLP_PROTOCOL: "http/json" })!.protocol).toBe("http/json");
    expect(telemetryOptionsFromEnv({ OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: "http/protobuf", OTEL_EXPORTER_OTLP_PROTOCOL: "http/json" })!.protocol).toBe("http/protobuf");
    expect(telemetryOptionsFromEnv({})!.protocol).toBeUndefined();
    expect(() => telemetryOptionsFromEnv({ OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" })).toThrow(/http\/protobuf or http\/json/);
  });

  it("exports OTLP protobuf by default", async () => {
    const contentTypes: string[] = [];
    const server = createServer((req, res) => {
      contentTypes.push(String(req.headers["content-type"]));
      req.resume().on("end", () => res.writeHead(200).end());
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    const telemetry = startTelemetry({ serviceName: "s", collector: { url: `http://127.0.0.1:${port}/v1/traces` }, registerGlobal: false });
    try {
      telemetry.tracerProvider.getTracer("t").startSpan("one").end();
      await telemetry.forceFlush();
      expect(contentTypes).toEqual(["application/x-protobuf"]);
    } finally {
      await telemetry.shutdown();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

describe("OtlpProtobufTraceExporter", () => {
  it("sends what the official serializer would, honouring OTEL_EXPORTER_OTLP_TRACES_HEADERS and _COMPRESSION", async () => {
    const requests: { headers: IncomingHttpHeaders; body: Buffer }[] = [];
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        requests.push({ headers: req.headers, body: Buffer.concat(chunks) });
        res.writeHead(200, { "content-type": "application/x-protobuf" }).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    const saved = { headers: process.env.OTEL_EXPORTER_OTLP_TRACES_HEADERS, compression: process.env.OTEL_EXPORTER_OTLP_TRACES_COMPRESSION };
    process.env.OTEL_EXPORTER_OTLP_TRACES_HEADERS = "x-team=t1";
    process.env.OTEL_EXPORTER_OTLP_TRACES_COMPRESSION = "gzip";
    const memory = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(memory)] });
    try {
      const exporter = new OtlpProtobufTraceExporter({ url: `http://127.0.0.1:${port}/v1/traces`, headers: { authorization: "Bearer k" } });
      const tracer = provider.getTracer("t", "1.0.0");
      for (let i = 0; i < 5; i++) tracer.startSpan(`span ${i}`, { attributes: { [ATTR.tenantId]: "acme", [ATTR.hopCount]: i } }).end();
      const spans = memory.getFinishedSpans();
      const result = await new Promise<ExportResult>((resolve) => exporter.export(spans, resolve));
      expect(result.code).toBe(ExportResultCode.SUCCESS);
      expect(requests).toHaveLength(1);
      const [request] = requests;
      expect(request!.headers["content-type"]).toBe("application/x-protobuf");
      expect(request!.headers["content-encoding"]).toBe("gzip");
      expect(request!.headers["x-team"]).toBe("t1");
      expect(request!.headers.authorization).toBe("Bearer k");
      expect(gunzipSync(request!.body).equals(Buffer.from(ProtobufTraceSerializer.serializeRequest(spans)!))).toBe(true);
      await exporter.shutdown();
    } finally {
      for (const [name, value] of [
        ["OTEL_EXPORTER_OTLP_TRACES_HEADERS", saved.headers],
        ["OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", saved.compression],
      ] as const) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
      await provider.shutdown();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
