// Export requests for the differential tests of the protobuf decoders: as ordinary exporters send
// them (with acme's key) and anything at all (any key), with every kind of value, event and link.
import { EVENT_ATTRIBUTE_ALLOW_LIST, RESOURCE_ATTRIBUTE_ALLOW_LIST, SPAN_ATTRIBUTE_ALLOW_LIST } from "@troupe/contract";
import fc from "fast-check";
import { DEFAULT_INGEST_LIMITS } from "./ingest-limits.js";
import { otlpProtoTypes } from "./otlp-proto-root.js";
import type { Principal } from "../tenants/principal.js";

export const limits = { ...DEFAULT_INGEST_LIMITS, maxAttributesPerSpan: 6, maxEventsPerSpan: 2, maxLinksPerSpan: 2 };
export const ALLOW = { span: SPAN_ATTRIBUTE_ALLOW_LIST, resource: RESOURCE_ATTRIBUTE_ALLOW_LIST, event: EVENT_ATTRIBUTE_ALLOW_LIST };
export const retention = (t: string): number => (t === "acme" ? 7 : 30);

const text = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.string({ unit: "binary", maxLength: 12 }),
  fc.string({ minLength: 250, maxLength: 300 }),
  fc.string({ unit: "grapheme", minLength: 90, maxLength: 140 }),
);
// Ints: token counts, negative, and past 2^53 either way; doubles: non-finite ones and -0 too.
const int64 = fc.oneof(fc.integer({ min: -1000, max: 100_000 }), fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), fc.constantFrom(2n ** 53n + 1n, -(2n ** 63n), 2n ** 63n - 1n)).map(String);
const double = fc.oneof(fc.double(), fc.constantFrom(Number.NaN, Infinity, -Infinity, -0, 0.1, 1e21, 5e-324));
const scalar = fc.oneof(
  { weight: 6, arbitrary: fc.record({ stringValue: text }) },
  { weight: 1, arbitrary: fc.record({ boolValue: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ intValue: int64 }) },
  { weight: 1, arbitrary: fc.record({ doubleValue: double }) },
  { weight: 1, arbitrary: fc.record({ bytesValue: fc.uint8Array({ maxLength: 8 }).map((b) => Buffer.from(b)) }) },
  { weight: 1, arbitrary: fc.constant({}) },
);
// Arrays of one type (some long enough to pass the cap), mixed, empty, nested, holding empty values or maps.
const arrayOf = (element: fc.Arbitrary<unknown>, maxLength = 4) => fc.array(element, { minLength: 1, maxLength }).map((values) => ({ arrayValue: { values } }));
const array = fc.oneof(
  fc.constantFrom({ arrayValue: { values: [] } }, { arrayValue: {} }),
  arrayOf(fc.record({ stringValue: fc.string({ maxLength: 4 }) })),
  arrayOf(fc.record({ intValue: int64 })),
  arrayOf(fc.record({ intValue: int64 }), 30),
  arrayOf(fc.record({ doubleValue: double })),
  arrayOf(fc.record({ boolValue: fc.boolean() })),
  arrayOf(fc.record({ bytesValue: fc.uint8Array({ maxLength: 4 }).map((b) => Buffer.from(b)) })),
  arrayOf(scalar),
  arrayOf(arrayOf(fc.record({ intValue: int64 }), 2), 2),
  arrayOf(fc.record({ kvlistValue: fc.record({ values: fc.array(fc.record({ key: fc.string({ maxLength: 3 }), value: scalar }), { maxLength: 2 }) }) }), 2),
);
const leaf = fc.oneof({ weight: 10, arbitrary: scalar }, { weight: 2, arbitrary: array });
// Lists of strings (finish reasons): mostly plain, sometimes with what JSON escapes, sometimes long.
const reasons = fc
  .array(fc.oneof(fc.stringMatching(/^[a-z_]{0,10}$/), fc.constantFrom('a"b', "c\\d", "é", "\n"), fc.string({ minLength: 60, maxLength: 90 })), { maxLength: 4 })
  .map((values) => ({ arrayValue: { values: values.map((stringValue) => ({ stringValue })) } }));
const tenantValue = fc.constantFrom("acme", "globex", "initech", "not a tenant!", "").map((stringValue) => ({ stringValue }));
const acmeValue = fc.constant({ stringValue: "acme" });
const attribute = (keys: readonly string[], tenant = tenantValue) =>
  fc.oneof(
    { weight: 8, arbitrary: fc.record({ key: fc.constantFrom(...keys), value: leaf }) },
    { weight: 1, arbitrary: fc.record({ key: fc.constant("troupe.tenant.id"), value: tenant }) },
    { weight: 1, arbitrary: fc.record({ key: fc.constant("troupe.agent.type") }) }, // no value at all
    { weight: 2, arbitrary: fc.record({ key: fc.constant("gen_ai.response.finish_reasons"), value: reasons }) },
  );
/** Attribute lists: any (keys given twice, any tenant claimed), or as an ordinary exporter sends them (each key once, the key's own tenant or none). */
const attributes = (keys: readonly string[], ordinary: boolean, maxLength: number) =>
  ordinary ? fc.uniqueArray(attribute(keys, acmeValue), { maxLength, selector: (kv) => kv.key }) : fc.array(attribute(keys), { maxLength });
// Near misses of allow-listed keys (same length, first, middle and last byte) must not be taken for them.
const spanKeys = ["gen_ai.request.model", "gen_ai.usage.input_tokens", "troupe.agent.type", "gen_ai.prompt", "http.request.header.authorization", "exception.type", "gen_ai.reqXest.model", "gen_ai.usage.inpXt_tokens", "troupX.agent.type"];
const resourceKeys = ["service.name", "host.name", "telemetry.sdk.name", "process.command_line"];
const eventKeys = ["exception.type", "exception.message", "exception.stacktrace", "gen_ai.usage.input_tokens", "gen_ai.response.finish_reasons", "gen_ai.prompt"];
const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n }).map((b) => Buffer.from(b));
// Mostly ids and start times that are stored; sometimes what both paths must refuse (all-zero ids,
// no start, a start far ahead of the clock or older than any retention), and any time at all.
export const NOW_MS = Date.now();
export const NOW_NS = BigInt(NOW_MS) * 1_000_000n;
export const DAY_NS = 86_400_000_000_000n;
const idBytes = (n: number) => fc.oneof({ weight: 15, arbitrary: bytes(n) }, { weight: 1, arbitrary: fc.constant(Buffer.alloc(n)) });
const startTime = fc.oneof(
  { weight: 15, arbitrary: fc.bigInt({ min: NOW_NS - 3000n * DAY_NS, max: NOW_NS + 60_000_000_000n }) },
  { weight: 1, arbitrary: fc.constantFrom(0n, NOW_NS + 11n * 60_000_000_000n, NOW_NS - 3651n * DAY_NS, 2n ** 63n, 2n ** 64n - 1n) },
  { weight: 1, arbitrary: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }) },
);
// Mostly well-formed link ids; sometimes a length both paths must refuse.
const linkId = (n: number) => fc.oneof({ weight: 20, arbitrary: bytes(n) }, { weight: 1, arbitrary: fc.uint8Array({ maxLength: 20 }).map((b) => Buffer.from(b)) });
const flags = fc.oneof(fc.constantFrom(0, 1, 0x100, 0x101, 0x301), fc.integer({ min: 0, max: 0xffffffff }));
const traceState = fc.oneof(fc.constant("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"), text);
const event = fc.record({
  timeUnixNano: fc.oneof(startTime, fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })).map(String),
  name: fc.oneof(fc.constant("exception"), text),
  attributes: fc.array(fc.record({ key: fc.constantFrom(...eventKeys), value: leaf }), { maxLength: 3 }),
});
const linkOf = (ordinary: boolean) =>
  fc.record({ traceId: ordinary ? bytes(16) : linkId(16), spanId: ordinary ? bytes(8) : linkId(8), traceState, flags, attributes: fc.array(attribute(spanKeys), { maxLength: 3 }) }, { requiredKeys: ["traceId", "spanId"] });
const inWindow = fc.bigInt({ min: NOW_NS - 3000n * DAY_NS, max: NOW_NS + 60_000_000_000n });
/** A span: any, or as an ordinary exporter sends it (ids, start time, attributes and links both paths store). */
const spanOf = (ordinary: boolean) =>
  fc.record(
    {
      traceId: ordinary ? bytes(16) : idBytes(16),
      spanId: ordinary ? bytes(8) : idBytes(8),
      parentSpanId: fc.oneof(fc.constant(Buffer.alloc(0)), bytes(8)),
      name: text,
      kind: fc.integer({ min: 0, max: 5 }),
      startTimeUnixNano: (ordinary ? inWindow : startTime).map(String),
      endTimeUnixNano: fc.oneof(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.bigInt({ min: 1_700_000_000_000_000_000n, max: 1_800_000_000_000_000_000n })).map(String),
      attributes: attributes(spanKeys, ordinary, 5),
      events: fc.array(event, { maxLength: 2 }),
      links: ordinary ? fc.array(linkOf(true), { maxLength: 2 }) : fc.array(linkOf(false), { maxLength: 3 }),
      status: fc.record({ code: fc.integer({ min: 0, max: 2 }), message: text }),
      traceState,
      flags,
    },
    { requiredKeys: ["traceId", "spanId", "name", "kind", "startTimeUnixNano", "endTimeUnixNano", "attributes", "events", "links", "status"] },
  );
export const span = spanOf(false);
const requestOf = (ordinary: boolean) =>
  fc.record({
    resourceSpans: fc.array(
      fc.record({
        resource: fc.record({ attributes: attributes(resourceKeys, ordinary, 4) }),
        scopeSpans: fc.array(fc.record({ scope: fc.record({ name: text, version: text }, { requiredKeys: [] }), spans: fc.array(spanOf(ordinary), { maxLength: 4 }) }, { requiredKeys: ["spans"] }), {
          maxLength: 2,
        }),
      }),
      { maxLength: 3 },
    ),
  });
export const acmeKey: Principal = { kind: "tenant-ingest", keyId: "k1", tenantId: "acme" };
const principal = fc.constantFrom<Principal>(acmeKey, { kind: "service-ingest", keyId: "k2", allowedTenants: ["acme", "globex"] });
/** A request and the key sending it: half as ordinary exporters send them (with acme's key), half anything. */
export const request = fc.oneof(fc.tuple(requestOf(true), fc.constant(acmeKey)), fc.tuple(requestOf(false), principal));

export function encode(obj: unknown): Buffer {
  const type = otlpProtoTypes().ExportTraceServiceRequest;
  return Buffer.from(type.encode(type.fromObject(obj as Record<string, unknown>)).finish());
}

