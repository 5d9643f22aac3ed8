import fc from "fast-check";
import protobuf from "protobufjs";
import { describe, expect, it } from "vitest";
import { otlpTraceBodyEncoder } from "../forward/otlp-encode.js";
import type { Principal } from "../tenants/principal.js";
import { NOW_MS, NOW_NS, acmeKey, encode, limits, request, retention } from "./otlp-protobuf-requests.test-helper.js";
import { otlpProtoTypes } from "./otlp-proto-root.js";
import { decodeProtobufSpanBlock } from "./protobuf-span-block.js";

interface FlatSpan {
  resource: [string, unknown][];
  scope: { name: string; version: string };
  span: Record<string, unknown>;
}

/**
 * An OTLP protobuf request read with the official definitions, as what a receiver makes of it: one
 * entry per span with its resource (attributes by key) and scope, the defaults OTLP gives an absent
 * field filled in, so a field written as its default and a field left out read alike.
 */
function flatSpans(body: Buffer): FlatSpan[] {
  const type = otlpProtoTypes().ExportTraceServiceRequest;
  const request = type.toObject(type.decode(body), { longs: String, enums: Number, bytes: String, arrays: true }) as {
    resourceSpans: { resource?: { attributes: { key: string; value: unknown }[] }; scopeSpans: { scope?: { name?: string; version?: string }; spans: Record<string, unknown>[] }[] }[];
  };
  const out: FlatSpan[] = [];
  for (const rs of request.resourceSpans) {
    const resource = (rs.resource?.attributes ?? []).map((kv): [string, unknown] => [kv.key, kv.value]).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    for (const ss of rs.scopeSpans) {
      const scope = { name: ss.scope?.name ?? "", version: ss.scope?.version ?? "" };
      for (const s of ss.spans) {
        const status = s["status"] as { code?: number; message?: string } | undefined;
        const span = {
          ...s,
          parentSpanId: s["parentSpanId"] || "",
          traceState: s["traceState"] ?? "",
          name: s["name"] ?? "",
          kind: s["kind"] ?? 0,
          flags: s["flags"] ?? 0,
          status: { code: status?.code ?? 0, message: status?.message ?? "" },
        };
        out.push({ resource, scope, span });
      }
    }
  }
  return out;
}

function inAnyOrder(spans: FlatSpan[]): FlatSpan[] {
  return spans.map((s) => [JSON.stringify(s), s] as const).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, s]) => s);
}

/** What the forwarder would send for the block the direct path wrote (its encoder, not the copy). */
async function encodedFromBlock(direct: NonNullable<ReturnType<typeof decodeProtobufSpanBlock>>): Promise<Buffer> {
  const block = direct.builder.finish(retention);
  const payloads = Buffer.isBuffer(block.payload) ? [block.payload] : block.payload;
  return Buffer.from(await otlpTraceBodyEncoder("protobuf")(payloads));
}

const SECRET = "secret user content";
const id = (n: number, b: number) => Buffer.alloc(n, b);

/** An ordinary span of acme's, plus `extra` fields. */
function spanWith(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    traceId: id(16, 1),
    spanId: id(8, 2),
    name: "chat gpt-4o-mini",
    kind: 3,
    startTimeUnixNano: String(NOW_NS),
    endTimeUnixNano: String(NOW_NS + 250_000_000n),
    attributes: [
      { key: "gen_ai.request.model", value: { stringValue: "gpt-4o-mini" } },
      { key: "gen_ai.usage.input_tokens", value: { intValue: 45 } },
      { key: "gen_ai.prompt", value: { stringValue: SECRET } },
      { key: "gen_ai.response.finish_reasons", value: { arrayValue: { values: [{ stringValue: "stop" }] } } },
    ],
    status: { code: 2, message: SECRET },
    droppedAttributesCount: 3,
    ...extra,
  };
}

function requestWith(span: Record<string, unknown>, resource: unknown[] = [{ key: "service.name", value: { stringValue: "svc" } }]): Buffer {
  return encode({ resourceSpans: [{ resource: { attributes: resource }, scopeSpans: [{ scope: { name: "@troupe/runtime", version: "0.1.0" }, spans: [span] }] }] });
}

/** `body` with an unknown field (number 99, a string) appended inside its first span. */
function withUnknownSpanField(body: Buffer, text: string): Buffer {
  const type = otlpProtoTypes().ExportTraceServiceRequest;
  const request = type.toObject(type.decode(body), { longs: String, bytes: Buffer }) as { resourceSpans: { scopeSpans: { spans: unknown[] }[] }[] };
  const spanType = otlpProtoTypes().ExportTraceServiceRequest.lookupType("opentelemetry.proto.trace.v1.Span");
  const span = Buffer.concat([Buffer.from(spanType.encode(spanType.fromObject(request.resourceSpans[0]!.scopeSpans[0]!.spans[0] as Record<string, unknown>)).finish()), Buffer.from(protobuf.Writer.create().uint32((99 << 3) | 2).string(text).finish())]);
  const scopeSpans = protobuf.Writer.create().uint32(0x12).bytes(span).finish();
  const resourceSpans = protobuf.Writer.create().uint32(0x12).bytes(scopeSpans).finish();
  return Buffer.from(protobuf.Writer.create().uint32(0x0a).bytes(resourceSpans).finish());
}

// Requests as exporters send them, with what the filter removes in them: attributes outside the
// allow-lists, status messages, event content, dropped-counts; mostly values a copy keeps as they
// came, sometimes one it cannot (cut to the cap, a map, an empty value), and any text at all.
const cleanText = fc.oneof({ weight: 8, arbitrary: fc.string({ maxLength: 12 }) }, { weight: 1, arbitrary: fc.string({ unit: "grapheme", maxLength: 20 }) });
const cleanValue = fc.oneof(
  { weight: 8, arbitrary: fc.record({ stringValue: cleanText }) },
  { weight: 3, arbitrary: fc.record({ intValue: fc.oneof(fc.integer({ min: -1000, max: 1_000_000 }), fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n })).map(String) }) },
  { weight: 1, arbitrary: fc.record({ boolValue: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ doubleValue: fc.oneof(fc.double(), fc.constant(-0)) }) },
  { weight: 2, arbitrary: fc.array(fc.record({ stringValue: cleanText }), { maxLength: 3 }).map((values) => ({ arrayValue: { values } })) },
  {
    weight: 2,
    arbitrary: fc
      .oneof(
        fc.array(fc.record({ intValue: fc.integer({ min: -5, max: 1_000_000 }).map(String) }), { maxLength: 3 }),
        fc.array(fc.record({ doubleValue: fc.oneof(fc.double(), fc.constant(-0)) }), { maxLength: 3 }),
        fc.array(fc.record({ boolValue: fc.boolean() }), { maxLength: 3 }),
      )
      .map((values) => ({ arrayValue: { values } })),
  },
);
/** Now and then a value a copy cannot keep as it came. */
const spanValue = fc.oneof({ weight: 30, arbitrary: cleanValue }, { weight: 1, arbitrary: fc.constantFrom({}, { stringValue: "x".repeat(300) }, { kvlistValue: { values: [{ key: "a", value: { stringValue: "b" } }] } }) });
const anyValue = fc.oneof(cleanValue, fc.record({ stringValue: fc.string({ maxLength: 300 }) }));
const kv = (allowed: readonly string[], dropped: readonly string[]) =>
  fc.oneof({ weight: 4, arbitrary: fc.record({ key: fc.constantFrom(...allowed), value: spanValue }) }, { weight: 1, arbitrary: fc.record({ key: fc.constantFrom(...dropped), value: anyValue }) });
const kvs = (allowed: readonly string[], dropped: readonly string[], maxLength: number) => fc.uniqueArray(kv(allowed, dropped), { maxLength, selector: (a) => a.key });
const SPAN_KEYS = ["gen_ai.request.model", "gen_ai.usage.input_tokens", "gen_ai.response.finish_reasons", "troupe.agent.type", "server.port"];
const DROPPED_KEYS = ["gen_ai.prompt", "http.request.header.authorization", "user.email"];
const ordinarySpan = fc.record(
  {
    traceId: fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => Buffer.from(b.map((x, i) => (i === 0 ? x | 1 : x)))),
    spanId: fc.uint8Array({ minLength: 8, maxLength: 8 }).map((b) => Buffer.from(b.map((x, i) => (i === 0 ? x | 1 : x)))),
    parentSpanId: fc.oneof(fc.constant(Buffer.alloc(0)), fc.uint8Array({ minLength: 8, maxLength: 8 }).map((b) => Buffer.from(b))),
    name: cleanText,
    kind: fc.integer({ min: 0, max: 5 }),
    start: fc.bigInt({ min: NOW_NS - 86_400_000_000_000n, max: NOW_NS }),
    duration: fc.oneof({ weight: 20, arbitrary: fc.bigInt({ min: 0n, max: 10n ** 12n }) }, { weight: 1, arbitrary: fc.constant(-1n) }),
    attributes: kvs(SPAN_KEYS, DROPPED_KEYS, 6),
    droppedAttributesCount: fc.nat(5),
    events: fc.array(fc.record({ timeUnixNano: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map(String), name: cleanText, attributes: kvs(["exception.type", "gen_ai.usage.input_tokens"], ["exception.message", "exception.stacktrace"], 3), droppedAttributesCount: fc.nat(3) }), { maxLength: 2 }),
    links: fc.array(fc.record({ traceId: fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => Buffer.from(b)), spanId: fc.uint8Array({ minLength: 8, maxLength: 8 }).map((b) => Buffer.from(b)), attributes: kvs(SPAN_KEYS, DROPPED_KEYS, 2) }), { maxLength: 2 }),
    status: fc.oneof(fc.constant(undefined), fc.record({ code: fc.integer({ min: 0, max: 2 }) }), fc.record({ code: fc.integer({ min: 0, max: 2 }), message: fc.string({ maxLength: 20 }) })),
    traceState: fc.oneof(fc.constant(""), fc.constant("rojo=00f067aa0ba902b7")),
    flags: fc.constantFrom(0, 0x101),
  },
  { requiredKeys: ["traceId", "spanId", "name", "kind", "start", "duration", "attributes", "events", "links"] },
).map(({ start, duration, ...s }) => ({ ...s, startTimeUnixNano: String(start), endTimeUnixNano: String(start + duration) }));
const ordinaryRequest = fc.record({
  resourceSpans: fc.array(
    fc.record({
      resource: fc.record({ attributes: kvs(["service.name", "host.name", "troupe.tenant.id"], ["process.command_line"], 3).map((a) => a.map((x) => (x.key === "troupe.tenant.id" ? { key: x.key, value: { stringValue: "acme" } } : x))) }),
      schemaUrl: fc.string({ maxLength: 8 }),
      scopeSpans: fc.array(fc.record({ scope: fc.record({ name: cleanText, version: cleanText }), spans: fc.array(ordinarySpan, { maxLength: 4 }) }, { requiredKeys: ["spans"] }), { maxLength: 2 }),
    }),
    { maxLength: 3 },
  ),
});

describe("the forward copy of a protobuf request", () => {
  it("says exactly what the forwarder's encoder says of the block, whenever it is made (and it is made for most ordinary requests)", async () => {
    let copies = 0;
    let abandoned = 0;
    const seen = new Set<string>();
    const requests = fc.oneof(fc.tuple(ordinaryRequest, fc.constant(acmeKey)), request);
    await fc.assert(
      fc.asyncProperty(requests, async ([req, p]) => {
        const body = encode(req);
        const direct = decodeProtobufSpanBlock(body, p, limits, NOW_MS, true);
        if (direct === undefined) return;
        // Asking for a copy changes nothing of the block.
        const plain = decodeProtobufSpanBlock(body, p, limits, NOW_MS)!;
        expect(plain.forwardCopy).toBeUndefined();
        const blockWithCopy = direct.builder.finish(retention).payload as Buffer;
        expect(blockWithCopy.equals(plain.builder.finish(retention).payload as Buffer)).toBe(true);
        if (direct.forwardCopy === undefined) {
          abandoned++;
          return;
        }
        copies++;
        const again = decodeProtobufSpanBlock(body, p, limits, NOW_MS)!;
        // In any order: the encoder groups spans of equal resources and scopes across the request.
        expect(inAnyOrder(flatSpans(direct.forwardCopy))).toEqual(inAnyOrder(flatSpans(await encodedFromBlock(again))));
        if (direct.droppedAttributes.span > 0) seen.add("dropped span attribute");
        if (direct.droppedAttributes.resource > 0) seen.add("dropped resource attribute");
        if (direct.droppedAttributes.event > 0) seen.add("dropped event attribute");
        const flat = flatSpans(direct.forwardCopy);
        if (flat.some((f) => (f.span["events"] as unknown[]).length > 0)) seen.add("event");
        if (flat.some((f) => (f.span["links"] as unknown[]).length > 0)) seen.add("link");
        if (flat.some((f) => f.scope.name !== "")) seen.add("scope");
        if (body.includes(Buffer.from([0x7a])) && flat.some((f) => (f.span["status"] as { code: number }).code !== 0)) seen.add("status");
      }),
      { numRuns: 800 },
    );
    // Not vacuous: copies are made, with what the filter removed among them; and some are abandoned.
    expect(copies).toBeGreaterThan(50);
    expect(seen).toEqual(new Set(["dropped span attribute", "dropped resource attribute", "dropped event attribute", "event", "link", "scope", "status"]));
    expect(abandoned).toBeGreaterThan(0);
  });

  it("leaves out everything the filter drops: attributes, status message, event content, unknown fields, resource and scope extras", async () => {
    const span = spanWith({
      events: [
        {
          timeUnixNano: String(NOW_NS + 5n),
          name: "exception",
          attributes: [
            { key: "exception.type", value: { stringValue: "TypeError" } },
            { key: "exception.message", value: { stringValue: SECRET } },
          ],
          droppedAttributesCount: 7,
        },
      ],
      links: [{ traceId: id(16, 5), spanId: id(8, 6), attributes: [{ key: "gen_ai.prompt", value: { stringValue: SECRET } }] }],
    });
    const req = {
      resourceSpans: [
        {
          resource: { attributes: [{ key: "service.name", value: { stringValue: "svc" } }, { key: "process.command_line", value: { stringValue: SECRET } }], droppedAttributesCount: 2 },
          schemaUrl: `https://example.com/${SECRET}`,
          scopeSpans: [{ scope: { name: "@troupe/runtime", version: "0.1.0", attributes: [{ key: "k", value: { stringValue: SECRET } }] }, schemaUrl: SECRET, spans: [span] }],
        },
      ],
    };
    const body = withUnknownSpanField(encode(req), SECRET);
    // The unknown field went in: the request itself says it.
    expect(body.includes(SECRET)).toBe(true);
    const direct = decodeProtobufSpanBlock(encode(req), acmeKey, limits, NOW_MS, true)!;
    const copy = direct.forwardCopy!;
    expect(copy).toBeDefined();
    expect(copy.includes(SECRET)).toBe(false);
    const [flat] = flatSpans(copy);
    expect(flat!.resource).toEqual([
      ["service.name", { stringValue: "svc" }],
      ["troupe.tenant.id", { stringValue: "acme" }],
    ]);
    expect(flat!.span["attributes"]).toEqual([
      { key: "gen_ai.request.model", value: { stringValue: "gpt-4o-mini" } },
      { key: "gen_ai.usage.input_tokens", value: { intValue: "45" } },
      { key: "gen_ai.response.finish_reasons", value: { arrayValue: { values: [{ stringValue: "stop" }] } } },
    ]);
    expect(flat!.span["status"]).toEqual({ code: 2, message: "" });
    expect(flat!.span["droppedAttributesCount"]).toBeUndefined();
    expect(flat!.span["events"]).toEqual([{ timeUnixNano: String(NOW_NS + 5n), name: "exception", attributes: [{ key: "exception.type", value: { stringValue: "TypeError" } }] }]);

    const unknown = decodeProtobufSpanBlock(body, acmeKey, limits, NOW_MS, true)!;
    expect(unknown.forwardCopy!.includes(SECRET)).toBe(false);
    expect(flatSpans(unknown.forwardCopy!)).toEqual(flatSpans(await encodedFromBlock(decodeProtobufSpanBlock(body, acmeKey, limits, NOW_MS)!)));
  });

  it("is given up, and the block still taken, where it could not say what the encoder would", () => {
    const resource = [{ key: "service.name", value: { stringValue: "svc" } }];
    const invalidUtf8Name = encode({ resourceSpans: [{ resource: { attributes: resource }, scopeSpans: [{ spans: [spanWith({ name: "PLACEHOLDER" })] }] }] });
    invalidUtf8Name.write("\xff\xfe", invalidUtf8Name.indexOf("PLACEHOLDER"), "latin1");
    const cases: [string, Buffer, Principal?][] = [
      ["a value cut to the cap", requestWith(spanWith({ attributes: [{ key: "gen_ai.request.model", value: { stringValue: "m".repeat(300) } }] }))],
      ["a map stored as text", requestWith(spanWith({ attributes: [{ key: "gen_ai.request.model", value: { kvlistValue: { values: [{ key: "a", value: { stringValue: "b" } }] } } }] }))],
      ["an attribute without a value", requestWith(spanWith({ attributes: [{ key: "gen_ai.request.model" }] }))],
      ["a mixed array", requestWith(spanWith({ attributes: [{ key: "gen_ai.response.finish_reasons", value: { arrayValue: { values: [{ stringValue: "a" }, { intValue: 1 }] } } }] }))],
      ["a span name that is not UTF-8", invalidUtf8Name],
      ["an end before the start", requestWith(spanWith({ endTimeUnixNano: String(NOW_NS - 1n) }))],
      ["no end time", requestWith(spanWith({ endTimeUnixNano: "0" }))],
      ["a resource value cut to the cap", requestWith(spanWith(), [{ key: "service.name", value: { stringValue: "s".repeat(300) } }])],
      ["a tenant only on the spans, sent with a service key", requestWith(spanWith({ attributes: [{ key: "troupe.tenant.id", value: { stringValue: "acme" } }] })), { kind: "service-ingest", keyId: "s", allowedTenants: ["acme"] }],
    ];
    for (const [what, body, principal] of cases) {
      const direct = decodeProtobufSpanBlock(body, principal ?? acmeKey, limits, NOW_MS, true);
      expect(direct?.spanCount, what).toBe(1);
      expect(direct?.forwardCopy, what).toBeUndefined();
    }
  });
});
