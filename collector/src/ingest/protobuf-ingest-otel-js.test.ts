import { SpanKind, SpanStatusCode, context, trace } from "@opentelemetry/api";
import { TraceState } from "@opentelemetry/core";
import { ProtobufTraceSerializer } from "@opentelemetry/otlp-transformer";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { AlwaysOnSampler, BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { EVENT_ATTRIBUTE_ALLOW_LIST, RESOURCE_ATTRIBUTE_ALLOW_LIST, SPAN_ATTRIBUTE_ALLOW_LIST } from "@troupe/contract";
import { describe, expect, it } from "vitest";
import { decodeSpanBlocks } from "../store/span-block.js";
import type { Principal } from "../tenants/principal.js";
import { decodeProtobufTracesWire } from "./decode-protobuf-wire.js";
import { DEFAULT_INGEST_LIMITS } from "./ingest-limits.js";
import { decodeProtobufSpanBlock } from "./protobuf-span-block.js";
import { buildSpanRows } from "./span-rows.js";

const ALLOW = { span: SPAN_ATTRIBUTE_ALLOW_LIST, resource: RESOURCE_ATTRIBUTE_ALLOW_LIST, event: EVENT_ATTRIBUTE_ALLOW_LIST };
const acme: Principal = { kind: "tenant-ingest", keyId: "k", tenantId: "acme" };

describe("a body from OpenTelemetry JS's protobuf serializer", () => {
  it("is stored as the SDK recorded it: typed attributes, the exception event, the link, scope, tracestate and flags", () => {
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({
      sampler: new AlwaysOnSampler(),
      resource: resourceFromAttributes({ "service.name": "checkout", "process.pid": 4242, "host.name": "web-1", "process.command_line": "node secret.js" }),
      spanProcessors: [new SimpleSpanProcessor(exporter)],
    });
    const tracer = provider.getTracer("@troupe/runtime", "0.1.0");
    // A remote caller's context with a tracestate: the span continues its trace.
    const parent = { traceId: "4bf92f3577b34da6a3ce929d0e0e4736", spanId: "00f067aa0ba902b7", traceFlags: 1, isRemote: true, traceState: new TraceState("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE") };
    const linked = { traceId: "5b8efff798038103d269b633813fc60c", spanId: "eee19b7ec3c1b174", traceFlags: 1, isRemote: true, traceState: new TraceState("vendor=x") };
    const sec = Math.floor(Date.now() / 1000) - 60;
    const span = tracer.startSpan(
      "chat gpt-4o-mini",
      {
        kind: SpanKind.CLIENT,
        startTime: [sec, 123_456_789],
        attributes: {
          "troupe.tenant.id": "acme",
          "gen_ai.usage.input_tokens": 1234,
          "troupe.llm.cost_usd": 0.00042,
          "gen_ai.request.stream": false,
          "gen_ai.response.finish_reasons": ["stop", "length"],
          "http.response.status_code": [200, 503],
          "troupe.handler.wall_ms": [1.5, 2.25],
          "troupe.queue.wait_ms": [1.5, 2], // the SDK sends 2 as an int: a mixed array
          "troupe.llm.simulated": [true, false],
          "gen_ai.prompt": "secret prompt",
        },
        links: [{ context: linked, attributes: { "troupe.agent.type": "planner", "gen_ai.usage.input_tokens": 7, "gen_ai.prompt": "secret" } }],
      },
      trace.setSpanContext(context.active(), parent),
    );
    span.recordException(new TypeError("secret message"), [sec, 987_654_321]);
    span.setStatus({ code: SpanStatusCode.ERROR, message: "secret status" });
    span.end([sec + 1, 5]);
    const body = Buffer.from(ProtobufTraceSerializer.serializeRequest(exporter.getFinishedSpans())!);

    const general = buildSpanRows(decodeProtobufTracesWire(body, DEFAULT_INGEST_LIMITS, ALLOW), acme, DEFAULT_INGEST_LIMITS);
    expect(general.rejected.size).toBe(0);
    const direct = decodeProtobufSpanBlock(body, acme, DEFAULT_INGEST_LIMITS);
    expect(direct).toBeDefined();
    const rows = decodeSpanBlocks(direct!.builder.finish(() => 30).payload);
    expect(rows).toEqual(general.rows);
    expect(direct!.droppedAttributes).toEqual(general.droppedAttributes);

    const [row] = rows;
    expect(row!.tenantId).toBe("acme");
    expect(row!.traceId).toBe(parent.traceId);
    expect(row!.spanId).toBe(span.spanContext().spanId);
    expect(row!.parentSpanId).toBe(parent.spanId);
    expect(row!.name).toBe("chat gpt-4o-mini");
    expect(row!.kind).toBe(3); // OTLP SPAN_KIND_CLIENT
    expect(row!.startTimeUnixNano).toBe(`${sec}123456789`);
    expect(row!.durationNs).toBe(1_000_000_005 - 123_456_789);
    expect(row!.statusCode).toBe(2);
    expect(row!.serviceName).toBe("checkout");
    expect(row!.attributes).toEqual({
      "troupe.tenant.id": "acme",
      "gen_ai.usage.input_tokens": "1234",
      "troupe.llm.cost_usd": "0.00042",
      "gen_ai.request.stream": "false",
      "gen_ai.response.finish_reasons": '["stop","length"]',
      "http.response.status_code": "[200,503]",
      "troupe.handler.wall_ms": "[1.5,2.25]",
      "troupe.queue.wait_ms": "[1.5,2]",
      "troupe.llm.simulated": "[true,false]",
    });
    expect(row!.attributeTypes).toEqual({
      "gen_ai.usage.input_tokens": "int",
      "troupe.llm.cost_usd": "double",
      "gen_ai.request.stream": "bool",
      "gen_ai.response.finish_reasons": "string[]",
      "http.response.status_code": "int[]",
      "troupe.handler.wall_ms": "double[]",
      "troupe.llm.simulated": "bool[]",
    });
    expect(row!.resourceAttributes).toEqual({ "service.name": "checkout", "process.pid": "4242", "host.name": "web-1" });
    expect(row!.resourceAttributeTypes).toEqual({ "process.pid": "int" });
    expect(row!.scopeName).toBe("@troupe/runtime");
    expect(row!.scopeVersion).toBe("0.1.0");
    expect(row!.traceState).toBe("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
    // Sampled (bit 0), with has-is-remote and is-remote (bits 8 and 9): the parent was remote.
    expect(row!.flags).toBe(0x301);
    expect(row!.events).toEqual([{ timeUnixNano: `${sec}987654321`, name: "exception", attributes: { "exception.type": "TypeError" }, attributeTypes: {} }]);
    expect(row!.links).toEqual([
      {
        traceId: linked.traceId,
        spanId: linked.spanId,
        traceState: "vendor=x",
        flags: 0x301,
        attributes: { "troupe.agent.type": "planner", "gen_ai.usage.input_tokens": "7" },
        attributeTypes: { "gen_ai.usage.input_tokens": "int" },
      },
    ]);
    // Content never stored: the prompt, the exception's message and stack, the status message, the command line.
    expect(JSON.stringify(rows)).not.toMatch(/secret/);
    expect(direct!.droppedAttributes).toEqual({ span: 1, resource: 1, event: 2, link: 1 });
  });
});
