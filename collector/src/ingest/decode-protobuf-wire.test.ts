import fc from "fast-check";
import protobuf from "protobufjs";
import { describe, expect, it } from "vitest";
import { CollectorError } from "../errors.js";
import { decodeProtobufTraces } from "./decode-protobuf.js";
import { decodeProtobufTracesWire } from "./decode-protobuf-wire.js";
import { DEFAULT_INGEST_LIMITS } from "./ingest-limits.js";
import { otlpProtoTypes } from "./otlp-proto-root.js";

const limits = DEFAULT_INGEST_LIMITS;

const int64 = fc.oneof(fc.integer({ min: -1000, max: 1000 }).map(BigInt), fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n })).map(String);
const leaf = fc.oneof(
  fc.record({ stringValue: fc.string({ maxLength: 20 }) }),
  fc.record({ boolValue: fc.boolean() }),
  fc.record({ intValue: int64 }),
  fc.record({ doubleValue: fc.oneof(fc.double(), fc.constantFrom(Number.NaN, Infinity, -Infinity)) }),
  fc.record({ bytesValue: fc.uint8Array({ maxLength: 8 }).map((b) => Buffer.from(b)) }),
  fc.constant({}),
);
// Arrays whose elements share a type (each kind), besides the mixed and nested ones anyValue makes.
const typedArray = fc
  .oneof(
    fc.array(fc.record({ stringValue: fc.string({ maxLength: 3 }) }), { maxLength: 3 }),
    fc.array(fc.record({ intValue: int64 }), { minLength: 1, maxLength: 3 }),
    fc.array(fc.record({ doubleValue: fc.double() }), { minLength: 1, maxLength: 3 }),
    fc.array(fc.record({ boolValue: fc.boolean() }), { minLength: 1, maxLength: 3 }),
  )
  .map((values) => ({ arrayValue: { values } }));
const { anyValue } = fc.letrec<{ anyValue: unknown }>((tie) => ({
  anyValue: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    leaf,
    typedArray,
    fc.record({ arrayValue: fc.record({ values: fc.array(tie("anyValue"), { maxLength: 3 }) }) }),
    fc.record({ kvlistValue: fc.record({ values: fc.uniqueArray(fc.record({ key: fc.string({ maxLength: 5 }), value: tie("anyValue") }), { maxLength: 3, selector: (kv) => kv.key }) }) }),
  ),
}));
const keyValues = fc.array(fc.record({ key: fc.constantFrom("gen_ai.request.model", "troupe.tenant.id", "service.name", "exception.type", "other", "prompt"), value: anyValue }, { requiredKeys: ["key"] }), { maxLength: 5 });
const uint64 = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map(String);
const flags = fc.integer({ min: 0, max: 0xffffffff });
const link = fc.record(
  {
    traceId: fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => Buffer.from(b)),
    spanId: fc.uint8Array({ minLength: 8, maxLength: 8 }).map((b) => Buffer.from(b)),
    traceState: fc.string({ maxLength: 10 }),
    attributes: keyValues,
    droppedAttributesCount: fc.nat(3),
    flags,
  },
  { requiredKeys: ["traceId", "spanId"] },
);
const span = fc.record({
  traceId: fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => Buffer.from(b)),
  spanId: fc.uint8Array({ minLength: 8, maxLength: 8 }).map((b) => Buffer.from(b)),
  parentSpanId: fc.oneof(fc.constant(Buffer.alloc(0)), fc.uint8Array({ minLength: 8, maxLength: 8 }).map((b) => Buffer.from(b))),
  name: fc.string({ maxLength: 30 }),
  kind: fc.integer({ min: 0, max: 5 }),
  startTimeUnixNano: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map(String),
  endTimeUnixNano: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map(String),
  attributes: keyValues,
  events: fc.array(fc.record({ name: fc.string({ maxLength: 5 }), timeUnixNano: uint64, attributes: keyValues }, { requiredKeys: ["name"] }), { maxLength: 2 }),
  links: fc.array(link, { maxLength: 2 }),
  status: fc.record({ code: fc.integer({ min: 0, max: 2 }), message: fc.string({ maxLength: 5 }) }),
  traceState: fc.string({ maxLength: 5 }),
  flags,
});
const request = fc.record({
  resourceSpans: fc.array(
    fc.record({
      resource: fc.record({ attributes: keyValues, droppedAttributesCount: fc.nat(3) }),
      scopeSpans: fc.array(
        fc.record({ scope: fc.record({ name: fc.string({ maxLength: 5 }), version: fc.string({ maxLength: 5 }), attributes: keyValues }, { requiredKeys: [] }), spans: fc.array(span, { maxLength: 3 }), schemaUrl: fc.string({ maxLength: 5 }) }),
        { maxLength: 2 },
      ),
    }),
    { maxLength: 2 },
  ),
});

function encode(obj: unknown): Buffer {
  const type = otlpProtoTypes().ExportTraceServiceRequest;
  return Buffer.from(type.encode(type.fromObject(obj as Record<string, unknown>)).finish());
}

/** Plain-JSON form, so null-prototype maps and ordinary objects compare equal; zero skip counts omitted. */
function plain(value: unknown): unknown {
  return JSON.parse(
    JSON.stringify(value, (k, v: unknown) => (k.startsWith("skipped") && v === 0 ? undefined : typeof v === "number" && !Number.isFinite(v) ? String(v) : v)),
  );
}

describe("decodeProtobufTracesWire", () => {
  it("decodes every valid request exactly as the protobufjs decoder does (types, events, links, scopes, tracestate and flags included)", () => {
    fc.assert(
      fc.property(request, (req) => {
        const body = encode(req);
        // Both decode it the same way, or both refuse it with the same error (e.g. nesting past the limit).
        const outcome = (decode: () => unknown) => {
          try {
            return { decoded: plain(decode()) };
          } catch (err) {
            return { refused: err instanceof CollectorError ? err.code : String(err) };
          }
        };
        expect(outcome(() => decodeProtobufTracesWire(body, limits))).toEqual(outcome(() => decodeProtobufTraces(body, limits)));
      }),
      { numRuns: 300 },
    );
  });

  it("with allow-lists, keeps only allowed attributes and counts the rest", () => {
    const allow = { span: new Set(["gen_ai.request.model"]), resource: new Set(["service.name"]), event: new Set(["exception.type"]) };
    fc.assert(
      fc.property(request, (req) => {
        const body = encode(req);
        let full: ReturnType<typeof decodeProtobufTracesWire>;
        try {
          full = decodeProtobufTracesWire(body, limits);
        } catch (err) {
          // A request refused whole (e.g. an attribute nested past the limit) is refused with the same error
          // when the offending attribute would be dropped: the allow-list never lets a bad request through.
          expect(err).toBeInstanceOf(CollectorError);
          expect(() => decodeProtobufTracesWire(body, limits, allow)).toThrow(expect.objectContaining({ code: (err as CollectorError).code }));
          return;
        }
        const filtered = decodeProtobufTracesWire(body, limits, allow);
        full.resourceSpans.forEach((rs, i) => {
          const f = filtered.resourceSpans[i]!;
          expect(f.resourceAttributes).toEqual(rs.resourceAttributes.filter((kv) => allow.resource.has(kv.key)));
          expect(f.skippedResourceAttributes).toBe(rs.resourceAttributes.length - f.resourceAttributes.length);
          rs.spans.forEach((s, j) => {
            const fs = f.spans[j]!;
            expect(plain(fs.attributes)).toEqual(plain(s.attributes.filter((kv) => allow.span.has(kv.key))));
            expect(fs.skippedAttributes).toBe(s.attributes.length - fs.attributes.length);
            expect(fs.events.map((e) => e.skippedAttributes)).toEqual(s.events.map((e) => e.attributes.filter((kv) => !allow.event.has(kv.key)).length));
            // Links keep the span's allow-list.
            expect(plain(fs.links.map((l) => l.attributes))).toEqual(plain(s.links.map((l) => l.attributes.filter((kv) => allow.span.has(kv.key)))));
            expect(fs.links.map((l) => l.skippedAttributes)).toEqual(s.links.map((l) => l.attributes.filter((kv) => !allow.span.has(kv.key)).length));
          });
        });
      }),
      { numRuns: 200 },
    );
  });

  it("answers arbitrary and truncated bytes with a CollectorError, never anything else", () => {
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)), request.chain((r) => {
        const body = encode(r);
        return fc.nat(Math.max(0, body.length - 1)).map((cut) => body.subarray(0, cut));
      })), (body) => {
        try {
          decodeProtobufTracesWire(body, limits);
        } catch (err) {
          expect(err).toBeInstanceOf(CollectorError);
        }
      }),
      { numRuns: 500 },
    );
  });

  it("types each kind of value as OTLP does, the same as the protobufjs decoder", () => {
    const s = (stringValue: string) => ({ stringValue });
    const i = (intValue: string) => ({ intValue });
    const d = (doubleValue: number) => ({ doubleValue });
    const array = (...values: unknown[]) => ({ arrayValue: { values } });
    const cases: [value: unknown, decoded: unknown, type: string | undefined][] = [
      [s("x"), "x", undefined],
      [{ boolValue: false }, false, "bool"],
      [i("-5"), -5, "int"],
      [i("9223372036854775807"), "9223372036854775807", "int"],
      [i("-9007199254740993"), "-9007199254740993", "int"],
      [d(0.25), 0.25, "double"],
      [d(Number.NaN), "NaN", "double"],
      [d(-Infinity), "-Infinity", "double"],
      [{ bytesValue: Buffer.from([1, 2, 255]) }, "AQL/", "bytes"],
      [array(), [], "string[]"],
      [array(s("a"), s("b")), ["a", "b"], "string[]"],
      [array(i("1"), i("-1")), [1, -1], "int[]"],
      [array(d(1.5), d(Infinity)), [1.5, "Infinity"], "double[]"],
      [array({ boolValue: true }), [true], "bool[]"],
      // Mixed, nested, holding bytes, empty values or maps: no type (stored as JSON text).
      [array(i("1"), d(1)), [1, 1], undefined],
      [array(array(i("1"))), [[1]], undefined],
      [array({ bytesValue: Buffer.from([1]) }), ["AQ=="], undefined],
      [array({}), [null], undefined],
      [array({ kvlistValue: { values: [] } }), [{}], undefined],
      [{ kvlistValue: { values: [{ key: "k", value: i("2") }] } }, { k: 2 }, undefined],
      [{}, null, undefined],
    ];
    const body = encode({
      resourceSpans: [{ scopeSpans: [{ spans: [{ traceId: Buffer.alloc(16, 1), spanId: Buffer.alloc(8, 1), attributes: cases.map(([value], k) => ({ key: `k${k}`, value })) }] }] }],
    });
    const expected = cases.map(([, decoded, type], k) => (type === undefined ? { key: `k${k}`, value: decoded } : { key: `k${k}`, value: decoded, type }));
    for (const decoded of [decodeProtobufTracesWire(body, limits), decodeProtobufTraces(body, limits)]) {
      expect(plain(decoded.resourceSpans[0]!.spans[0]!.attributes)).toEqual(expected);
    }
  });

  it("decodes event times to the nanosecond, links, the scope, tracestate and flags", () => {
    const body = encode({
      resourceSpans: [
        {
          scopeSpans: [
            {
              scope: { name: "@troupe/runtime", version: "0.1.0" },
              spans: [
                {
                  traceId: Buffer.alloc(16, 0xab),
                  spanId: Buffer.alloc(8, 0xcd),
                  traceState: "rojo=00f067aa0ba902b7",
                  flags: 0x301,
                  events: [{ timeUnixNano: "1796570141123456789", name: "exception", attributes: [{ key: "exception.type", value: { stringValue: "E" } }] }],
                  links: [{ traceId: Buffer.alloc(16, 0xef), spanId: Buffer.alloc(8, 0x01), traceState: "congo=t61", flags: 0x101, attributes: [{ key: "troupe.agent.type", value: { stringValue: "a" } }] }],
                },
              ],
            },
            { spans: [{ traceId: Buffer.alloc(16, 1), spanId: Buffer.alloc(8, 1) }] },
          ],
        },
      ],
    });
    const expected = {
      scopeName: "@troupe/runtime",
      scopeVersion: "0.1.0",
      traceState: "rojo=00f067aa0ba902b7",
      flags: 0x301,
      events: [{ timeUnixNano: "1796570141123456789", name: "exception", attributes: [{ key: "exception.type", value: "E" }] }],
      links: [{ traceId: "ef".repeat(16), spanId: "01".repeat(8), traceState: "congo=t61", flags: 0x101, attributes: [{ key: "troupe.agent.type", value: "a" }] }],
    };
    for (const decoded of [decodeProtobufTracesWire(body, limits), decodeProtobufTraces(body, limits)]) {
      const [first, second] = decoded.resourceSpans[0]!.spans;
      expect(plain(first)).toMatchObject(expected);
      // The second ScopeSpans has no scope: its spans name none.
      expect(second).toMatchObject({ scopeName: "", scopeVersion: "", traceState: "", flags: 0, events: [], links: [] });
    }
  });

  it("gives a scope sent after its spans to those spans", () => {
    const type = otlpProtoTypes().ExportTraceServiceRequest;
    // ScopeSpans{spans} followed by ScopeSpans{scope} in one message: the scope field comes last on the wire.
    const scopeSpans = (o: unknown) => type.encode(type.fromObject({ resourceSpans: [{ scopeSpans: [o] }] })).finish().subarray(4);
    const spansPart = scopeSpans({ spans: [{ traceId: Buffer.alloc(16, 1), spanId: Buffer.alloc(8, 1) }] });
    const scopePart = scopeSpans({ scope: { name: "late", version: "2" } });
    const inner = Buffer.concat([spansPart, scopePart]);
    const body = Buffer.from(protobuf.Writer.create().uint32(0x0a).fork().uint32(0x12).bytes(inner).ldelim().finish());
    for (const decoded of [decodeProtobufTracesWire(body, limits), decodeProtobufTraces(body, limits)]) {
      expect(decoded.resourceSpans[0]!.spans.map((x) => [x.scopeName, x.scopeVersion])).toEqual([["late", "2"]]);
    }
  });

  it("names a wrong link id length with its path", () => {
    const span = { traceId: Buffer.alloc(16, 1), spanId: Buffer.alloc(8, 1) };
    const linked = (link: unknown) => encode({ resourceSpans: [{ scopeSpans: [{ spans: [span, { ...span, links: [{ traceId: Buffer.alloc(16, 2), spanId: Buffer.alloc(8, 2) }, link] }] }] }] });
    expect(() => decodeProtobufTracesWire(linked({ traceId: Buffer.alloc(15, 2), spanId: Buffer.alloc(8, 2) }), limits)).toThrow(
      /resourceSpans\[0\]\.scopeSpans\[0\]\.spans\[1\]\.links\[1\]\.traceId: must be 16 bytes; got 15/,
    );
    expect(() => decodeProtobufTracesWire(linked({ traceId: Buffer.alloc(16, 2) }), limits)).toThrow(/spans\[1\]\.links\[1\]\.spanId: must be 8 bytes; got 0/);
    expect(() => decodeProtobufTraces(linked({ traceId: Buffer.alloc(16, 2) }), limits)).toThrow(/spans\[1\]\.links\[1\]\.spanId: must be 8 bytes; got 0/);
  });

  it("names a wrong id length with its path", () => {
    const body = encode({ resourceSpans: [{ scopeSpans: [{ spans: [{ traceId: Buffer.alloc(16, 1), spanId: Buffer.alloc(3) }] }] }] });
    expect(() => decodeProtobufTracesWire(body, limits)).toThrow(/resourceSpans\[0\]\.scopeSpans\[0\]\.spans\[0\]\.spanId: must be 8 bytes; got 3/);
  });

  it("rejects deep nesting even inside an attribute it would drop", () => {
    let value: Record<string, unknown> = { stringValue: "x" };
    for (let i = 0; i < 20; i++) value = { kvlistValue: { values: [{ key: "k", value }] } };
    const body = encode({ resourceSpans: [{ scopeSpans: [{ spans: [{ traceId: Buffer.alloc(16, 1), spanId: Buffer.alloc(8, 1), attributes: [{ key: "dropped", value }] }] }] }] });
    const allow = { span: new Set<string>(), resource: new Set<string>(), event: new Set<string>() };
    expect(() => decodeProtobufTracesWire(body, limits, allow)).toThrow(/nested deeper than 8/);
  });

  it("stops at the span bound with payload_too_large", () => {
    const spans = Array.from({ length: 5 }, () => ({ traceId: Buffer.alloc(16, 1), spanId: Buffer.alloc(8, 1) }));
    const body = encode({ resourceSpans: [{ scopeSpans: [{ spans }] }] });
    expect(() => decodeProtobufTracesWire(body, { ...limits, maxSpansPerRequest: 4 })).toThrow(expect.objectContaining({ code: "payload_too_large" }));
  });
});
