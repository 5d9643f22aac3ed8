import type { Attributes, HrTime, Link, SpanContext, SpanStatus } from "@opentelemetry/api";
import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import { TraceState } from "@opentelemetry/core";
import { ProtobufTraceSerializer } from "@opentelemetry/otlp-transformer";
import { resourceFromAttributes } from "@opentelemetry/resources";
import type { Resource } from "@opentelemetry/resources";
import { AlwaysOnSampler, BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import type { ReadableSpan, TimedEvent } from "@opentelemetry/sdk-trace-base";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { OtlpProtobufTraceSerializer } from "./otlp-protobuf-serializer.js";

const official = (spans: ReadableSpan[]): Uint8Array => ProtobufTraceSerializer.serializeRequest(spans)!;
const hex = (bytes: number) => fc.uint8Array({ minLength: bytes, maxLength: bytes }).map((b) => Buffer.from(b).toString("hex"));
const hexId = (bytes: number) => fc.oneof({ weight: 4, arbitrary: hex(bytes) }, { weight: 1, arbitrary: hex(bytes).map((h) => h.toUpperCase()) });

// Strings of every kind: ASCII, any code point, lone surrogates (TextEncoder writes U+FFFD), long ones.
const anyString = fc.oneof(
  { weight: 4, arbitrary: fc.string({ maxLength: 20 }) },
  { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 20 }) },
  { weight: 1, arbitrary: fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), maxLength: 10 }) },
  { weight: 1, arbitrary: fc.string({ minLength: 120, maxLength: 400 }) },
);
// Repeated keys and values exercise the caches; the random ones the uncached paths.
const key = fc.oneof(fc.constantFrom("troupe.tenant.id", "troupe.agent.type", "gen_ai.operation.name", "k", "é.key", "x".repeat(200)), anyString);
const stringValue = fc.oneof(fc.constantFrom("acme", "globex", "echo", "invoke_agent", "ok", "", "naïve"), anyString);
const number = fc.oneof(
  fc.integer(),
  fc.integer({ min: 0, max: 127 }),
  fc.maxSafeInteger(),
  fc.double(),
  fc.constantFrom(2 ** 53, 2 ** 60, 2 ** 63, -(2 ** 63), -(2 ** 62), 2 ** 64, -0, NaN, Infinity, -Infinity, 0xffffffff, 0x100000000, -1),
);
const primitive = fc.oneof(stringValue, fc.boolean(), number);
const attributeValue = fc.oneof(
  { weight: 6, arbitrary: primitive },
  { weight: 1, arbitrary: fc.array(fc.oneof(primitive, fc.constant(null), fc.constant(undefined)), { maxLength: 5 }) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 40 }) },
  // Not an AttributeValue by type, but the official serializer encodes objects as kvlist and nested arrays; so must we.
  { weight: 1, arbitrary: fc.dictionary(anyString, primitive, { maxKeys: 3 }) },
  { weight: 1, arbitrary: fc.array(fc.array(primitive, { maxLength: 2 }), { maxLength: 2 }) },
  { weight: 1, arbitrary: fc.constantFrom(undefined, null) },
);
const attributes = fc.dictionary(key, attributeValue, { maxKeys: 12 }) as fc.Arbitrary<Attributes>;
const hrTime: fc.Arbitrary<HrTime> = fc.tuple(fc.oneof(fc.integer({ min: 0, max: 2 ** 31 }), fc.integer({ min: 0, max: 18_000_000_000 })), fc.integer({ min: 0, max: 999_999_999 }));
const traceState = fc.option(
  fc.constantFrom("", "vendor=a", "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE").map((s) => new TraceState(s)),
  { nil: undefined },
);
const spanContext: fc.Arbitrary<SpanContext> = fc.record(
  { traceId: hexId(16), spanId: hexId(8), traceFlags: fc.integer({ min: 0, max: 0x1ff }), isRemote: fc.boolean(), traceState },
  { requiredKeys: ["traceId", "spanId", "traceFlags"] },
);
const event: fc.Arbitrary<TimedEvent> = fc.record(
  { name: stringValue, time: hrTime, attributes, droppedAttributesCount: fc.nat(300) },
  { requiredKeys: ["name", "time"] },
);
const link: fc.Arbitrary<Link> = fc.record({ context: spanContext, attributes, droppedAttributesCount: fc.nat(300) }, { requiredKeys: ["context"] });
const status: fc.Arbitrary<SpanStatus> = fc.record(
  { code: fc.constantFrom(SpanStatusCode.UNSET, SpanStatusCode.OK, SpanStatusCode.ERROR), message: fc.oneof(fc.constant(""), anyString) },
  { requiredKeys: ["code"] },
);

// Spans share a few resources and scopes (grouping is by identity), some with schema URLs.
const resources: Resource[] = [
  resourceFromAttributes({ "service.name": "svc-a", "telemetry.sdk.language": "nodejs", "process.pid": 1234 }),
  resourceFromAttributes({ "service.name": "svc-b", "host.name": "hôte", weight: 1.5, on: true }, { schemaUrl: "https://opentelemetry.io/schemas/1.30.0" }),
  resourceFromAttributes({}),
];
const scopes = [{ name: "troupe" }, { name: "troupe", version: "1.0.0" }, { name: "other", version: "2", schemaUrl: "https://example.com/schema" }, { name: "" }];

const readableSpan: fc.Arbitrary<ReadableSpan> = fc
  .record({
    context: spanContext,
    parent: fc.option(spanContext, { nil: undefined }),
    emptyParentId: fc.boolean(),
    name: stringValue,
    kind: fc.option(fc.constantFrom(SpanKind.INTERNAL, SpanKind.SERVER, SpanKind.CLIENT, SpanKind.PRODUCER, SpanKind.CONSUMER), { nil: undefined }),
    startTime: hrTime,
    endTime: hrTime,
    status,
    attributes,
    events: fc.array(event, { maxLength: 3 }),
    links: fc.array(link, { maxLength: 3 }),
    resource: fc.constantFrom(...resources),
    scope: fc.constantFrom(...scopes),
    droppedAttributesCount: fc.oneof(fc.nat(200), fc.constant(70_000)),
    droppedEventsCount: fc.nat(200),
    droppedLinksCount: fc.nat(200),
  })
  .map(
    (r) =>
      ({
        name: r.name,
        kind: r.kind as SpanKind,
        spanContext: () => r.context,
        parentSpanContext: r.parent && r.emptyParentId ? { ...r.parent, spanId: "" } : r.parent,
        startTime: r.startTime,
        endTime: r.endTime,
        status: r.status,
        attributes: r.attributes,
        links: r.links,
        events: r.events,
        duration: [0, 0],
        ended: true,
        resource: r.resource,
        instrumentationScope: r.scope,
        droppedAttributesCount: r.droppedAttributesCount,
        droppedEventsCount: r.droppedEventsCount,
        droppedLinksCount: r.droppedLinksCount,
      }) satisfies ReadableSpan,
  );

describe("OtlpProtobufTraceSerializer", () => {
  it("writes the same bytes as ProtobufTraceSerializer for random spans", () => {
    // One long-lived instance (its caches fill and turn keys high-cardinality across runs) and one with tiny caches.
    const serializer = new OtlpProtobufTraceSerializer();
    const tiny = new OtlpProtobufTraceSerializer({ maxCachedKeys: 3, maxCachedValuesPerKey: 2, maxCachedNames: 2, maxCachedStringLength: 8 });
    fc.assert(
      fc.property(fc.array(readableSpan, { maxLength: 12 }), (spans) => {
        const expected = Buffer.from(official(spans));
        expect(Buffer.from(serializer.serializeRequest(spans)).equals(expected)).toBe(true);
        expect(Buffer.from(tiny.serializeRequest(spans)).equals(expected)).toBe(true);
      }),
      { numRuns: 400 },
    );
    const stats = tiny.stats();
    expect(stats.cachedKeys).toBeLessThanOrEqual(3);
    expect(stats.cachedNames).toBeLessThanOrEqual(2);
    expect(stats.cachedValues).toBeLessThanOrEqual(3 * 2);
    expect(stats.uncachedStrings).toBeGreaterThan(0);
  });

  it("writes the same bytes as ProtobufTraceSerializer for spans made by the SDK", () => {
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({
      sampler: new AlwaysOnSampler(),
      resource: resourceFromAttributes({ "service.name": "troupe-test", "service.version": "1.0.0" }),
      spanProcessors: [new SimpleSpanProcessor(exporter)],
    });
    const tracer = provider.getTracer("troupe", "0.1.0");
    const other = provider.getTracer("other");
    for (let i = 0; i < 300; i++) {
      const parent = tracer.startSpan(`send echo`, { kind: SpanKind.PRODUCER, attributes: { "troupe.tenant.id": i % 2 ? "acme" : "globex", "troupe.message.hop_count": i } });
      const child = (i % 3 ? tracer : other).startSpan("invoke_agent echo", {
        attributes: { "troupe.agent.key": `k${i}`, "troupe.handler.wall_ms": i / 7, "gen_ai.agent.id": `echo/k${i}`, flags: [true, false] },
        links: i % 5 ? [] : [{ context: parent.spanContext(), attributes: { why: "fan-in" } }],
      });
      if (i % 4 === 0) child.recordException(new Error(`boom ${i}`));
      child.setStatus(i % 4 === 0 ? { code: SpanStatusCode.ERROR, message: "HANDLER_ERROR" } : { code: SpanStatusCode.OK });
      child.end();
      parent.end();
    }
    const spans = exporter.getFinishedSpans();
    const serializer = new OtlpProtobufTraceSerializer();
    // Twice: the second pass runs on warm caches.
    for (let round = 0; round < 2; round++) expect(Buffer.from(serializer.serializeRequest(spans)).equals(Buffer.from(official(spans)))).toBe(true);
    expect(serializer.stats().highCardinalityKeys).toBeGreaterThanOrEqual(2); // troupe.agent.key, gen_ai.agent.id
  });

  it("grows past its initial buffer, shifts long length prefixes, and returns arrays the caller owns", () => {
    const serializer = new OtlpProtobufTraceSerializer({ maxRetainedBufferBytes: 128 * 1024 });
    const resource = resourceFromAttributes({ "service.name": "big" });
    const span = (name: string, value: string): ReadableSpan => ({
      name,
      kind: SpanKind.INTERNAL,
      spanContext: () => ({ traceId: "0af7651916cd43dd8448eb211c80319c", spanId: "b7ad6b7169203331", traceFlags: 1 }),
      startTime: [1_700_000_000, 5],
      endTime: [1_700_000_001, 6],
      status: { code: SpanStatusCode.UNSET },
      attributes: { big: value },
      links: [],
      events: [],
      duration: [1, 1],
      ended: true,
      resource,
      instrumentationScope: { name: "t" },
      droppedAttributesCount: 0,
      droppedEventsCount: 0,
      droppedLinksCount: 0,
    });
    const big = [span("a", "x".repeat(300_000)), span("b", "é".repeat(50_000))];
    const first = serializer.serializeRequest(big);
    expect(Buffer.from(first).equals(Buffer.from(official(big)))).toBe(true);
    const copy = Buffer.from(first);
    const small = [span("c", "y")];
    expect(Buffer.from(serializer.serializeRequest(small)).equals(Buffer.from(official(small)))).toBe(true);
    expect(Buffer.from(first).equals(copy)).toBe(true); // a later request did not overwrite an earlier one
    expect(serializer.serializeRequest([])).toHaveLength(0);
  });

  it("parses the collector's response as the official serializer does", () => {
    // ExportTraceServiceResponse { partial_success { rejected_spans: 3, error_message: "no" } }
    const response = Uint8Array.from([0x0a, 0x06, 0x08, 0x03, 0x12, 0x02, 0x6e, 0x6f]);
    const serializer = new OtlpProtobufTraceSerializer();
    expect(serializer.deserializeResponse(response)).toEqual(ProtobufTraceSerializer.deserializeResponse(response));
    expect(serializer.deserializeResponse(response).partialSuccess?.errorMessage).toBe("no");
  });
});
