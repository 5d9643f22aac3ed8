import { EVENT_ATTRIBUTE_ALLOW_LIST, RESOURCE_ATTRIBUTE_ALLOW_LIST, SPAN_ATTRIBUTE_ALLOW_LIST } from "@troupe/contract";
import fc from "fast-check";
import protobuf from "protobufjs";
import { describe, expect, it } from "vitest";
import { decodeSpanBlocks, encodeSpanBlock } from "../store/span-block.js";
import type { Principal } from "../tenants/principal.js";
import { decodeProtobufTracesWire } from "./decode-protobuf-wire.js";
import { DEFAULT_INGEST_LIMITS } from "./ingest-limits.js";
import { otlpProtoTypes } from "./otlp-proto-root.js";
import { decodeProtobufSpanBlock } from "./protobuf-span-block.js";
import { buildSpanRows } from "./span-rows.js";

const limits = { ...DEFAULT_INGEST_LIMITS, maxAttributesPerSpan: 6, maxEventsPerSpan: 2, maxLinksPerSpan: 2 };
const ALLOW = { span: SPAN_ATTRIBUTE_ALLOW_LIST, resource: RESOURCE_ATTRIBUTE_ALLOW_LIST, event: EVENT_ATTRIBUTE_ALLOW_LIST };
const retention = (t: string): number => (t === "acme" ? 7 : 30);

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
const NOW_MS = Date.now();
const NOW_NS = BigInt(NOW_MS) * 1_000_000n;
const DAY_NS = 86_400_000_000_000n;
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
const span = spanOf(false);
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
const acmeKey: Principal = { kind: "tenant-ingest", keyId: "k1", tenantId: "acme" };
const principal = fc.constantFrom<Principal>(acmeKey, { kind: "service-ingest", keyId: "k2", allowedTenants: ["acme", "globex"] });
/** A request and the key sending it: half as ordinary exporters send them (with acme's key), half anything. */
const request = fc.oneof(fc.tuple(requestOf(true), fc.constant(acmeKey)), fc.tuple(requestOf(false), principal));

function encode(obj: unknown): Buffer {
  const type = otlpProtoTypes().ExportTraceServiceRequest;
  return Buffer.from(type.encode(type.fromObject(obj as Record<string, unknown>)).finish());
}

/** What the general path stores for a request, or why it refuses (thrown error code). */
function general(body: Buffer, p: Principal) {
  try {
    const result = buildSpanRows(decodeProtobufTracesWire(body, limits, ALLOW), p, limits, NOW_MS);
    return { ...result, error: undefined };
  } catch (err) {
    return { error: (err as { code?: string }).code ?? String(err), rows: undefined, rejected: undefined };
  }
}

describe("protobuf straight into a span block", () => {
  it("writes the very block the general path writes, whenever it takes a request (and takes most ordinary ones)", () => {
    let direct = 0;
    let generalOnly = 0;
    const seen = new Set<string>();
    let directRows = 0;
    fc.assert(
      fc.property(request, ([req, p]) => {
        const body = encode(req);
        const fast = decodeProtobufSpanBlock(body, p, limits, NOW_MS);
        const slow = general(body, p);
        if (fast === undefined) {
          generalOnly++;
          return;
        }
        direct++;
        directRows += fast.spanCount;
        expect(slow.error).toBeUndefined();
        if (slow.error !== undefined) return;
        expect(slow.rejected.size).toBe(0);
        const fastBlock = fast.builder.finish(retention).payload as Buffer;
        const slowBlock = encodeSpanBlock(slow.rows, retention);
        // The rows first, for a readable difference; then every byte (dictionaries, maps, events and links text).
        expect(decodeSpanBlocks(fastBlock)).toEqual(decodeSpanBlocks(slowBlock));
        expect(fastBlock.equals(slowBlock)).toBe(true);
        for (const row of slow.rows) {
          for (const type of [...Object.values(row.attributeTypes), ...Object.values(row.resourceAttributeTypes)]) seen.add(type);
          if (row.events.length > 0) seen.add("event");
          if (row.links.length > 0) seen.add("link");
          if (row.scopeName !== "") seen.add("scope");
          if (row.traceState !== "") seen.add("traceState");
          if (row.flags !== 0) seen.add("flags");
        }
        expect(fast.spanCount).toBe(slow.rows.length);
        expect(fast.droppedAttributes).toEqual(slow.droppedAttributes);
        expect(fast.truncatedAttributes).toBe(slow.truncatedAttributes);
      }),
      { numRuns: 600 },
    );
    // Not vacuous: most generated requests (duplicate keys, rejected tenants and limits aside) go direct,
    // with every kind of typed value, events, links, scopes, tracestates and flags among them.
    expect(direct).toBeGreaterThan(150);
    expect(directRows).toBeGreaterThan(400);
    expect(seen).toEqual(new Set(["bool", "int", "double", "bytes", "string[]", "bool[]", "int[]", "double[]", "truncated", "event", "link", "scope", "traceState", "flags"]));
    expect(generalOnly).toBeGreaterThan(0);
  });

  it("never takes a span the general path refuses as unreadable, and the general path stores the rest", () => {
    const acme: Principal = { kind: "tenant-ingest", keyId: "k", tenantId: "acme" };
    const unreadable = new Set(["invalid_trace_id", "invalid_span_id", "missing_start_time", "time_in_future", "time_expired"]);
    fc.assert(
      fc.property(fc.array(span, { minLength: 1, maxLength: 6 }), (spans) => {
        // Plain spans (no attributes) so nothing but ids and times can send them to the general path.
        const plain = spans.map((x) => ({ ...x, attributes: [], events: [], links: [] }));
        const body = encode({ resourceSpans: [{ scopeSpans: [{ spans: plain }] }] });
        const fast = decodeProtobufSpanBlock(body, acme, limits, NOW_MS);
        const slow = general(body, acme);
        if (slow.error !== undefined) throw new Error(slow.error);
        const refused = [...slow.rejected.keys()];
        expect(refused.every((reason) => unreadable.has(reason))).toBe(true);
        expect(slow.rows.length + [...slow.rejected.values()].reduce((a, b) => a + b, 0)).toBe(plain.length);
        // The direct path takes the request exactly when the general path refuses none of it.
        expect(fast === undefined).toBe(refused.length > 0);
        if (fast) expect(decodeSpanBlocks(fast.builder.finish(retention).payload)).toEqual(decodeSpanBlocks(encodeSpanBlock(slow.rows, retention)));
      }),
      { numRuns: 300 },
    );
  });

  it("refuses each kind of unreadable span by its reason, on the edges of the window too", () => {
    const acme: Principal = { kind: "tenant-ingest", keyId: "k", tenantId: "acme" };
    const ok = { traceId: Buffer.alloc(16, 1), spanId: Buffer.alloc(8, 2), name: "ok", startTimeUnixNano: String(NOW_NS) };
    const minute = 60_000_000_000n;
    const cases: [string, Record<string, unknown>][] = [
      ["invalid_trace_id", { traceId: Buffer.alloc(16) }],
      ["invalid_span_id", { spanId: Buffer.alloc(8) }],
      ["missing_start_time", { startTimeUnixNano: "0" }],
      // One nanosecond past either edge of the window.
      ["time_in_future", { startTimeUnixNano: String(NOW_NS + 10n * minute + 1n) }],
      ["time_expired", { startTimeUnixNano: String(NOW_NS - 3650n * DAY_NS - 1n) }],
    ];
    for (const [reason, change] of cases) {
      const body = encode({ resourceSpans: [{ scopeSpans: [{ spans: [ok, { ...ok, spanId: Buffer.alloc(8, 3), ...change }] }] }] });
      expect(decodeProtobufSpanBlock(body, acme, limits, NOW_MS), reason).toBeUndefined();
      const slow = general(body, acme);
      if (slow.error !== undefined) throw new Error(slow.error);
      expect([...slow.rejected]).toEqual([[reason, 1]]);
      expect(slow.rows.map((r) => r.name)).toEqual(["ok"]);
    }
    // On the edges of the window: taken by both.
    for (const start of [NOW_NS + 10n * minute, NOW_NS - 3650n * DAY_NS]) {
      const body = encode({ resourceSpans: [{ scopeSpans: [{ spans: [{ ...ok, startTimeUnixNano: String(start) }] }] }] });
      expect(decodeProtobufSpanBlock(body, acme, limits, NOW_MS)?.builder.rowCount).toBe(1);
      expect(general(body, acme)).toMatchObject({ rejected: new Map(), rows: [{ startTimeUnixNano: String(start) }] });
    }
  });

  it("writes lists of strings as the general path's JSON text, capped where it caps them", () => {
    const acme: Principal = { kind: "tenant-ingest", keyId: "k", tenantId: "acme" };
    for (const list of [[], ["stop"], ["stop", "length", ""], ["x".repeat(120), "y".repeat(120)], ["x".repeat(125), "y".repeat(126)], ['q"uote', "ok"]]) {
      const body = encode({
        resourceSpans: [{ scopeSpans: [{ spans: [{ traceId: Buffer.alloc(16, 1), spanId: Buffer.alloc(8, 2), startTimeUnixNano: String(NOW_NS), attributes: [{ key: "gen_ai.response.finish_reasons", value: { arrayValue: { values: list.map((stringValue) => ({ stringValue })) } } }] }] }] }],
      });
      const fast = decodeProtobufSpanBlock(body, acme, limits, NOW_MS)!;
      const slow = general(body, acme);
      if (slow.error !== undefined) throw new Error(slow.error);
      expect(decodeSpanBlocks(fast.builder.finish(retention).payload)).toEqual(slow.rows);
      expect(fast.truncatedAttributes).toBe(slow.truncatedAttributes);
    }
  });

  it("keeps an error span's exception event on the direct path, as an event with its allow-listed type only", () => {
    const acme: Principal = { kind: "tenant-ingest", keyId: "k", tenantId: "acme" };
    const eventTime = NOW_NS + 1_234_567n;
    const body = encode({
      resourceSpans: [
        {
          scopeSpans: [
            {
              scope: { name: "@troupe/runtime", version: "0.1.0" },
              spans: [
                {
                  traceId: Buffer.alloc(16, 1),
                  spanId: Buffer.alloc(8, 2),
                  name: "turn",
                  startTimeUnixNano: String(NOW_NS),
                  attributes: [{ key: "troupe.turn.outcome", value: { stringValue: "error" } }],
                  events: [
                    {
                      timeUnixNano: String(eventTime),
                      name: "exception",
                      attributes: [
                        { key: "exception.type", value: { stringValue: "TypeError" } },
                        { key: "exception.message", value: { stringValue: "secret user content" } },
                        { key: "exception.stacktrace", value: { stringValue: "TypeError: secret user content\n    at handler (agent.js:1:1)" } },
                      ],
                    },
                  ],
                  status: { code: 2, message: "secret user content" },
                },
              ],
            },
          ],
        },
      ],
    });
    const fast = decodeProtobufSpanBlock(body, acme, limits, NOW_MS);
    expect(fast).toBeDefined();
    const [row] = decodeSpanBlocks(fast!.builder.finish(retention).payload);
    expect(row!.attributes).toEqual({ "troupe.turn.outcome": "error" });
    expect(row!.events).toEqual([{ timeUnixNano: String(eventTime), name: "exception", attributes: { "exception.type": "TypeError" }, attributeTypes: {} }]);
    expect(fast!.droppedAttributes).toEqual({ span: 0, resource: 0, event: 2, link: 0 });
    expect(JSON.stringify(row)).not.toContain("secret");
  });

  it("leaves to the general path what it would refuse or answer with a partial success", () => {
    const id = (n: number, b: number) => Buffer.alloc(n, b);
    const base = (attributes: unknown[], resource: unknown[] = []) =>
      encode({ resourceSpans: [{ resource: { attributes: resource }, scopeSpans: [{ spans: [{ traceId: id(16, 1), spanId: id(8, 2), name: "s", startTimeUnixNano: String(NOW_NS), attributes }] }] }] });
    const acme: Principal = { kind: "tenant-ingest", keyId: "k", tenantId: "acme" };
    const model = { key: "gen_ai.request.model", value: { stringValue: "m" } };
    expect(decodeProtobufSpanBlock(base([model]), acme, limits)?.builder.rowCount).toBe(1);
    // A key twice in one list, another tenant, a conflict between span and resource, too many attributes.
    expect(decodeProtobufSpanBlock(base([model, model]), acme, limits)).toBeUndefined();
    expect(decodeProtobufSpanBlock(base([{ key: "troupe.tenant.id", value: { stringValue: "globex" } }]), acme, limits)).toBeUndefined();
    const claim = (t: string) => ({ key: "troupe.tenant.id", value: { stringValue: t } });
    expect(decodeProtobufSpanBlock(base([claim("acme")], [claim("globex")]), { kind: "service-ingest", keyId: "s", allowedTenants: ["acme", "globex"] }, limits)).toBeUndefined();
    expect(decodeProtobufSpanBlock(base(Array.from({ length: 7 }, (_, i) => ({ key: `x${i}`, value: {} }))), acme, limits)).toBeUndefined();
    // Malformed: truncated, a wrong id length.
    const body = base([model]);
    expect(decodeProtobufSpanBlock(body.subarray(0, body.length - 3), acme, limits)).toBeUndefined();
    expect(decodeProtobufSpanBlock(encode({ resourceSpans: [{ scopeSpans: [{ spans: [{ traceId: id(15, 1), spanId: id(8, 2) }] }] }] }), acme, limits)).toBeUndefined();
    // A link with a wrong id length (the general path answers 400), more links than the limit (a partial success).
    const linked = (links: unknown[]) => encode({ resourceSpans: [{ scopeSpans: [{ spans: [{ traceId: id(16, 1), spanId: id(8, 2), startTimeUnixNano: String(NOW_NS), links }] }] }] });
    const link = { traceId: id(16, 3), spanId: id(8, 4) };
    expect(decodeProtobufSpanBlock(linked([link, link]), acme, limits)?.builder.rowCount).toBe(1);
    expect(decodeProtobufSpanBlock(linked([{ ...link, spanId: id(7, 4) }]), acme, limits)).toBeUndefined();
    expect(() => decodeProtobufTracesWire(linked([{ ...link, spanId: id(7, 4) }]), limits, ALLOW)).toThrow(/spans\[0\]\.links\[0\]\.spanId: must be 8 bytes; got 7/);
    expect(decodeProtobufSpanBlock(linked([link, link, link]), acme, limits)).toBeUndefined();
    expect([...general(linked([link, link, link]), acme).rejected!]).toEqual([["too_many_links", 1]]);
    // A scope after the spans it names (ScopeSpans{spans} and ScopeSpans{scope} concatenated are one ScopeSpans).
    const scopeSpans = (o: unknown) => encode({ resourceSpans: [{ scopeSpans: [o] }] }).subarray(4);
    const inner = Buffer.concat([scopeSpans({ spans: [{ traceId: id(16, 1), spanId: id(8, 2), startTimeUnixNano: String(NOW_NS) }] }), scopeSpans({ scope: { name: "late" } })]);
    const late = Buffer.from(protobuf.Writer.create().uint32(0x0a).fork().uint32(0x12).bytes(inner).ldelim().finish());
    expect(decodeProtobufSpanBlock(late, acme, limits, NOW_MS)).toBeUndefined();
    expect(general(late, acme).rows!.map((r) => r.scopeName)).toEqual(["late"]);
  });
});
