import { EVENT_ATTRIBUTE_ALLOW_LIST, RESOURCE_ATTRIBUTE_ALLOW_LIST, SPAN_ATTRIBUTE_ALLOW_LIST } from "@troupe/runtime";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeSpanBlocks, encodeSpanBlock } from "../store/span-block.js";
import type { Principal } from "../tenants/principal.js";
import { decodeProtobufTracesWire } from "./decode-protobuf-wire.js";
import { DEFAULT_INGEST_LIMITS } from "./ingest-limits.js";
import { otlpProtoTypes } from "./otlp-proto-root.js";
import { decodeProtobufSpanBlock } from "./protobuf-span-block.js";
import { buildSpanRows } from "./span-rows.js";

const limits = { ...DEFAULT_INGEST_LIMITS, maxAttributesPerSpan: 6, maxEventsPerSpan: 2 };
const ALLOW = { span: SPAN_ATTRIBUTE_ALLOW_LIST, resource: RESOURCE_ATTRIBUTE_ALLOW_LIST, event: EVENT_ATTRIBUTE_ALLOW_LIST };
const retention = (t: string): number => (t === "acme" ? 7 : 30);

const text = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.string({ unit: "binary", maxLength: 12 }),
  fc.string({ minLength: 250, maxLength: 300 }),
  fc.string({ unit: "grapheme", minLength: 90, maxLength: 140 }),
);
const leaf = fc.oneof(
  { weight: 6, arbitrary: fc.record({ stringValue: text }) },
  { weight: 1, arbitrary: fc.record({ boolValue: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ intValue: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map(String) }) },
  { weight: 1, arbitrary: fc.record({ doubleValue: fc.double({ noNaN: true }) }) },
  { weight: 1, arbitrary: fc.record({ bytesValue: fc.uint8Array({ maxLength: 8 }).map((b) => Buffer.from(b)) }) },
  { weight: 1, arbitrary: fc.record({ arrayValue: fc.record({ values: fc.array(fc.record({ stringValue: fc.string({ maxLength: 4 }) }), { maxLength: 3 }) }) }) },
  { weight: 1, arbitrary: fc.constant({}) },
);
// Lists of strings (finish reasons): mostly plain, sometimes with what JSON escapes, sometimes long.
const reasons = fc
  .array(fc.oneof(fc.stringMatching(/^[a-z_]{0,10}$/), fc.constantFrom('a"b', "c\\d", "é", "\n"), fc.string({ minLength: 60, maxLength: 90 })), { maxLength: 4 })
  .map((values) => ({ arrayValue: { values: values.map((stringValue) => ({ stringValue })) } }));
const tenantValue = fc.constantFrom("acme", "globex", "initech", "not a tenant!", "").map((stringValue) => ({ stringValue }));
const attribute = (keys: readonly string[]) =>
  fc.oneof(
    { weight: 8, arbitrary: fc.record({ key: fc.constantFrom(...keys), value: leaf }) },
    { weight: 1, arbitrary: fc.record({ key: fc.constant("troupe.tenant.id"), value: tenantValue }) },
    { weight: 1, arbitrary: fc.record({ key: fc.constant("troupe.agent.type") }) }, // no value at all
    { weight: 2, arbitrary: fc.record({ key: fc.constant("gen_ai.response.finish_reasons"), value: reasons }) },
  );
// Near misses of allow-listed keys (same length, first, middle and last byte) must not be taken for them.
const spanKeys = ["gen_ai.request.model", "gen_ai.usage.input_tokens", "troupe.agent.type", "gen_ai.prompt", "http.request.header.authorization", "exception.type", "gen_ai.reqXest.model", "gen_ai.usage.inpXt_tokens", "troupX.agent.type"];
const resourceKeys = ["service.name", "host.name", "telemetry.sdk.name", "process.command_line"];
const eventKeys = ["exception.type", "exception.message", "exception.stacktrace"];
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
const span = fc.record({
  traceId: idBytes(16),
  spanId: idBytes(8),
  parentSpanId: fc.oneof(fc.constant(Buffer.alloc(0)), bytes(8)),
  name: text,
  kind: fc.integer({ min: 0, max: 5 }),
  startTimeUnixNano: startTime.map(String),
  endTimeUnixNano: fc.oneof(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.bigInt({ min: 1_700_000_000_000_000_000n, max: 1_800_000_000_000_000_000n })).map(String),
  attributes: fc.array(attribute(spanKeys), { maxLength: 5 }),
  events: fc.array(fc.record({ name: fc.string({ maxLength: 5 }), timeUnixNano: fc.constant("5"), attributes: fc.array(fc.record({ key: fc.constantFrom(...eventKeys), value: leaf }), { maxLength: 2 }) }), {
    maxLength: 2,
  }),
  status: fc.record({ code: fc.integer({ min: 0, max: 2 }) }),
});
const request = fc.record({
  resourceSpans: fc.array(
    fc.record({
      resource: fc.record({ attributes: fc.array(attribute(resourceKeys), { maxLength: 4 }) }),
      scopeSpans: fc.array(fc.record({ scope: fc.record({ name: fc.string({ maxLength: 5 }) }), spans: fc.array(span, { maxLength: 4 }) }), { maxLength: 2 }),
    }),
    { maxLength: 3 },
  ),
});
const principal = fc.constantFrom<Principal>(
  { kind: "tenant-ingest", keyId: "k1", tenantId: "acme" },
  { kind: "service-ingest", keyId: "k2", allowedTenants: ["acme", "globex"] },
);

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
    return { error: (err as { code?: string }).code ?? String(err) };
  }
}

describe("protobuf straight into a span block", () => {
  it("stores exactly what the general path stores, whenever it takes a request (and takes most ordinary ones)", () => {
    let direct = 0;
    let generalOnly = 0;
    fc.assert(
      fc.property(request, principal, (req, p) => {
        const body = encode(req);
        const fast = decodeProtobufSpanBlock(body, p, limits, NOW_MS);
        const slow = general(body, p);
        if (fast === undefined) {
          generalOnly++;
          return;
        }
        direct++;
        expect(slow.error).toBeUndefined();
        if (slow.error !== undefined) return;
        expect(slow.rejected.size).toBe(0);
        expect(decodeSpanBlocks(fast.builder.finish(retention).payload)).toEqual(decodeSpanBlocks(encodeSpanBlock(slow.rows, retention)));
        expect(fast.spanCount).toBe(slow.rows.length);
        expect(fast.droppedAttributes).toEqual(slow.droppedAttributes);
        expect(fast.truncatedAttributes).toBe(slow.truncatedAttributes);
      }),
      { numRuns: 600 },
    );
    // Not vacuous: most generated requests (duplicate keys, rejected tenants and limits aside) go direct.
    expect(direct).toBeGreaterThan(150);
    expect(generalOnly).toBeGreaterThan(0);
  });

  it("never takes a span the general path refuses as unreadable, and the general path stores the rest", () => {
    const acme: Principal = { kind: "tenant-ingest", keyId: "k", tenantId: "acme" };
    const unreadable = new Set(["invalid_trace_id", "invalid_span_id", "missing_start_time", "time_in_future", "time_expired"]);
    fc.assert(
      fc.property(fc.array(span, { minLength: 1, maxLength: 6 }), (spans) => {
        // Plain spans (no attributes) so nothing but ids and times can send them to the general path.
        const plain = spans.map((x) => ({ ...x, attributes: [], events: [] }));
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
  });
});
