import fc from "fast-check";
import protobuf from "protobufjs";
import { describe, expect, it } from "vitest";
import { decodeSpanBlocks, encodeSpanBlock } from "../store/span-block.js";
import type { Principal } from "../tenants/principal.js";
import { decodeProtobufTracesWire } from "./decode-protobuf-wire.js";
import { ALLOW, DAY_NS, NOW_MS, NOW_NS, encode, limits, request, retention, span } from "./otlp-protobuf-requests.test-helper.js";
import { decodeProtobufSpanBlock } from "./protobuf-span-block.js";
import { buildSpanRows } from "./span-rows.js";

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
