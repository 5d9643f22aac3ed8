import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CollectorError } from "../errors.js";
import { decodeProtobufTraces } from "./decode-protobuf.js";
import { decodeProtobufTracesWire, uint64Decimal } from "./decode-protobuf-wire.js";
import { DEFAULT_INGEST_LIMITS } from "./ingest-limits.js";
import { otlpProtoTypes } from "./otlp-proto-root.js";

const limits = DEFAULT_INGEST_LIMITS;

const leaf = fc.oneof(
  fc.record({ stringValue: fc.string({ maxLength: 20 }) }),
  fc.record({ boolValue: fc.boolean() }),
  fc.record({ intValue: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map(String) }),
  fc.record({ doubleValue: fc.double({ noNaN: true }) }),
  fc.record({ bytesValue: fc.uint8Array({ maxLength: 8 }).map((b) => Buffer.from(b)) }),
);
const { anyValue } = fc.letrec<{ anyValue: unknown }>((tie) => ({
  anyValue: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    leaf,
    fc.record({ arrayValue: fc.record({ values: fc.array(tie("anyValue"), { maxLength: 3 }) }) }),
    fc.record({ kvlistValue: fc.record({ values: fc.uniqueArray(fc.record({ key: fc.string({ maxLength: 5 }), value: tie("anyValue") }), { maxLength: 3, selector: (kv) => kv.key }) }) }),
  ),
}));
const keyValues = fc.array(fc.record({ key: fc.constantFrom("gen_ai.request.model", "troupe.tenant.id", "service.name", "exception.type", "other", "prompt"), value: anyValue }), { maxLength: 5 });
const span = fc.record({
  traceId: fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => Buffer.from(b)),
  spanId: fc.uint8Array({ minLength: 8, maxLength: 8 }).map((b) => Buffer.from(b)),
  parentSpanId: fc.oneof(fc.constant(Buffer.alloc(0)), fc.uint8Array({ minLength: 8, maxLength: 8 }).map((b) => Buffer.from(b))),
  name: fc.string({ maxLength: 30 }),
  kind: fc.integer({ min: 0, max: 5 }),
  startTimeUnixNano: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map(String),
  endTimeUnixNano: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map(String),
  attributes: keyValues,
  events: fc.array(fc.record({ name: fc.string({ maxLength: 5 }), timeUnixNano: fc.constant("5"), attributes: keyValues }), { maxLength: 2 }),
  status: fc.record({ code: fc.integer({ min: 0, max: 2 }), message: fc.string({ maxLength: 5 }) }),
  traceState: fc.string({ maxLength: 5 }),
  flags: fc.nat(),
});
const request = fc.record({
  resourceSpans: fc.array(
    fc.record({
      resource: fc.record({ attributes: keyValues, droppedAttributesCount: fc.nat(3) }),
      scopeSpans: fc.array(fc.record({ scope: fc.record({ name: fc.string({ maxLength: 5 }) }), spans: fc.array(span, { maxLength: 3 }), schemaUrl: fc.string({ maxLength: 5 }) }), { maxLength: 2 }),
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
  it("decodes every valid request exactly as the protobufjs decoder does", () => {
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

describe("uint64Decimal", () => {
  it("prints every unsigned 64-bit value exactly", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), (v) => {
        expect(uint64Decimal(Number(v & 0xffffffffn), Number(v >> 32n))).toBe(v.toString());
      }),
      { numRuns: 2000 },
    );
    expect(uint64Decimal(0xffffffff, 0xffffffff)).toBe("18446744073709551615");
    expect(uint64Decimal(0, 0x200000)).toBe((2n ** 53n).toString());
  });
});
