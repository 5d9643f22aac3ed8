import { describe, expect, it } from "vitest";
import { encodeSpanBlock } from "../store/span-block.js";
import { plainSpanFields, type SpanRow } from "../store/span-row.js";
import { SPANS_PER_SLICE } from "./encode-slices.js";
import { otlpTraceBodyEncoder, otlpTraceRequestFromRows } from "./otlp-encode.js";
import { decodeTraceRequest } from "./otlp-receiver.test-helper.js";

/** A request as protobufjs decodes it with the official definitions, in the OTLP/JSON mapping (ids hex, int64 as strings). */
function decodeProtobuf(body: Buffer): Record<string, unknown> {
  return decodeTraceRequest(body, "application/x-protobuf") as unknown as Record<string, unknown>;
}

function row(overrides: Partial<SpanRow> = {}): SpanRow {
  return {
    tenantId: "acme",
    traceId: "0af7651916cd43dd8448eb211c80319c",
    spanId: "b7ad6b7169203331",
    parentSpanId: "",
    name: "chat gpt-4o",
    kind: 3,
    startTimeUnixNano: "1796570141123456789",
    durationNs: 1_000_000_007,
    statusCode: 0,
    serviceName: "svc",
    attributes: {},
    resourceAttributes: { "service.name": "svc" },
    ...plainSpanFields(),
    ...overrides,
  };
}

const TYPED: Pick<SpanRow, "attributes" | "attributeTypes"> = {
  attributes: {
    "gen_ai.request.model": "gpt-4o",
    "gen_ai.usage.input_tokens": "9007199254740993",
    "gen_ai.usage.output_tokens": "-42",
    "server.port": "-9223372036854775808",
    "gen_ai.request.temperature": "0.7",
    "gen_ai.request.top_p": "NaN",
    "gen_ai.request.top_k": "-Infinity",
    "gen_ai.request.stream": "true",
    "troupe.blob": "AAEC/w==",
    "gen_ai.response.finish_reasons": '["stop","length"]',
    "troupe.ints": "[1,9223372036854775807,-3]",
    "troupe.doubles": '[1.5,"Infinity"]',
    "troupe.bools": "[true,false]",
    "troupe.long": "xxxx",
  },
  attributeTypes: {
    "gen_ai.usage.input_tokens": "int",
    "gen_ai.usage.output_tokens": "int",
    "server.port": "int",
    "gen_ai.request.temperature": "double",
    "gen_ai.request.top_p": "double",
    "gen_ai.request.top_k": "double",
    "gen_ai.request.stream": "bool",
    "troupe.blob": "bytes",
    "gen_ai.response.finish_reasons": "string[]",
    "troupe.ints": "int[]",
    "troupe.doubles": "double[]",
    "troupe.bools": "bool[]",
    "troupe.long": "truncated",
  },
};

/** The AnyValues TYPED's attributes were sent as, in the OTLP/JSON mapping. */
const TYPED_JSON = [
  { key: "gen_ai.request.model", value: { stringValue: "gpt-4o" } },
  { key: "gen_ai.usage.input_tokens", value: { intValue: "9007199254740993" } },
  { key: "gen_ai.usage.output_tokens", value: { intValue: "-42" } },
  { key: "server.port", value: { intValue: "-9223372036854775808" } },
  { key: "gen_ai.request.temperature", value: { doubleValue: 0.7 } },
  { key: "gen_ai.request.top_p", value: { doubleValue: "NaN" } },
  { key: "gen_ai.request.top_k", value: { doubleValue: "-Infinity" } },
  { key: "gen_ai.request.stream", value: { boolValue: true } },
  { key: "troupe.blob", value: { bytesValue: "AAEC/w==" } },
  { key: "gen_ai.response.finish_reasons", value: { arrayValue: { values: [{ stringValue: "stop" }, { stringValue: "length" }] } } },
  { key: "troupe.ints", value: { arrayValue: { values: [{ intValue: "1" }, { intValue: "9223372036854775807" }, { intValue: "-3" }] } } },
  { key: "troupe.doubles", value: { arrayValue: { values: [{ doubleValue: 1.5 }, { doubleValue: "Infinity" }] } } },
  { key: "troupe.bools", value: { arrayValue: { values: [{ boolValue: true }, { boolValue: false }] } } },
  { key: "troupe.long", value: { stringValue: "xxxx" } },
];

/** protobufjs's JSON mapping writes NaN and ±Infinity as the strings OTLP/JSON uses; compare doubles that way. */
function jsonDoubles(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(jsonDoubles);
  if (typeof value === "number" && !Number.isFinite(value)) return String(value);
  if (typeof value !== "object" || value === null) return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, jsonDoubles(v)]));
}

const FULL = row({
  ...TYPED,
  parentSpanId: "00f067aa0ba902b7",
  statusCode: 2,
  traceState: "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7",
  flags: 0x301,
  scopeName: "@troupe/runtime",
  scopeVersion: "0.1.0",
  resourceAttributes: { "service.name": "svc", "service.instance.id": "i-1", "process.pid": "4242" },
  resourceAttributeTypes: { "process.pid": "int" },
  events: [
    { timeUnixNano: "1796570141123456999", name: "exception", attributes: { "exception.type": "TypeError" }, attributeTypes: {} },
    { timeUnixNano: "18446744073709551615", name: "gen_ai.choice", attributes: { "gen_ai.response.finish_reasons": '["stop"]', index: "0" }, attributeTypes: { "gen_ai.response.finish_reasons": "string[]", index: "int" } },
  ],
  links: [
    { traceId: "4bf92f3577b34da6a3ce929d0e0e4736", spanId: "00f067aa0ba902b7", traceState: "k=v", flags: 0x101, attributes: { "troupe.link.kind": "follows", weight: "3" }, attributeTypes: { weight: "int" } },
    { traceId: "4bf92f3577b34da6a3ce929d0e0e4737", spanId: "00f067aa0ba902b8", traceState: "", flags: 0, attributes: {}, attributeTypes: {} },
  ],
});

/** FULL as OTLP/JSON. */
const FULL_JSON = {
  resourceSpans: [
    {
      resource: {
        attributes: [
          { key: "service.name", value: { stringValue: "svc" } },
          { key: "service.instance.id", value: { stringValue: "i-1" } },
          { key: "process.pid", value: { intValue: "4242" } },
          { key: "troupe.tenant.id", value: { stringValue: "acme" } },
        ],
      },
      scopeSpans: [
        {
          scope: { name: "@troupe/runtime", version: "0.1.0" },
          spans: [
            {
              traceId: "0af7651916cd43dd8448eb211c80319c",
              spanId: "b7ad6b7169203331",
              traceState: "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7",
              parentSpanId: "00f067aa0ba902b7",
              flags: 0x301,
              name: "chat gpt-4o",
              kind: 3,
              startTimeUnixNano: "1796570141123456789",
              endTimeUnixNano: "1796570142123456796",
              attributes: TYPED_JSON,
              events: [
                { timeUnixNano: "1796570141123456999", name: "exception", attributes: [{ key: "exception.type", value: { stringValue: "TypeError" } }] },
                {
                  timeUnixNano: "18446744073709551615",
                  name: "gen_ai.choice",
                  attributes: [
                    { key: "gen_ai.response.finish_reasons", value: { arrayValue: { values: [{ stringValue: "stop" }] } } },
                    { key: "index", value: { intValue: "0" } },
                  ],
                },
              ],
              links: [
                {
                  traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
                  spanId: "00f067aa0ba902b7",
                  traceState: "k=v",
                  attributes: [
                    { key: "troupe.link.kind", value: { stringValue: "follows" } },
                    { key: "weight", value: { intValue: "3" } },
                  ],
                  flags: 0x101,
                },
                { traceId: "4bf92f3577b34da6a3ce929d0e0e4737", spanId: "00f067aa0ba902b8", attributes: [] },
              ],
              status: { code: 2 },
            },
          ],
        },
      ],
    },
  ],
};

/** Drops empty attribute lists and empty messages (protobuf cannot tell them from absent ones). */
function withoutEmpties(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutEmpties);
  if (typeof value !== "object" || value === null) return value;
  const entries = Object.entries(value)
    .map(([k, v]) => [k, withoutEmpties(v)] as const)
    .filter(([, v]) => !(Array.isArray(v) && v.length === 0) && !(typeof v === "object" && v !== null && !Array.isArray(v) && Object.keys(v).length === 0));
  return Object.fromEntries(entries);
}

describe("OTLP encoding of stored spans", () => {
  it("sends every field as it came, each value with its type, int64 exact past 2^53 (protobuf, read with the official definitions)", async () => {
    const body = await otlpTraceRequestFromRows([FULL], "protobuf");
    expect(jsonDoubles(withoutEmpties(decodeProtobuf(body)))).toEqual(withoutEmpties(FULL_JSON));
  });

  it("writes the OTLP/JSON mapping: hex ids, int64 as strings, non-finite doubles as strings", async () => {
    const json = JSON.parse((await otlpTraceRequestFromRows([FULL], "json")).toString("utf8")) as unknown;
    expect(withoutEmpties(json)).toEqual(withoutEmpties(FULL_JSON));
  });

  it("groups by tenant and resource, then by scope, in first-seen order, across blocks; a span stored without a scope goes under the scope name \"\"", async () => {
    const rows = [
      row({ spanId: "0000000000000001", scopeName: "a", scopeVersion: "1" }),
      row({ spanId: "0000000000000002", tenantId: "globex" }),
      row({ spanId: "0000000000000003", scopeName: "b" }),
      row({ spanId: "0000000000000004", scopeName: "a", scopeVersion: "1", resourceAttributes: { "service.name": "svc", "host.name": "h" } }),
    ];
    const later = [row({ spanId: "0000000000000005", scopeName: "a", scopeVersion: "1" }), row({ spanId: "0000000000000006", tenantId: "globex" })];
    const blocks = [encodeSpanBlock(rows, () => 1), encodeSpanBlock(later, () => 1)];
    for (const format of ["protobuf", "json"] as const) {
      const body = await otlpTraceBodyEncoder(format)(blocks);
      const request = (format === "json" ? JSON.parse(body.toString("utf8")) : decodeProtobuf(body)) as {
        resourceSpans: { resource: { attributes: { key: string; value: { stringValue: string } }[] }; scopeSpans: { scope?: { name?: string; version?: string }; spans: { spanId: string }[] }[] }[];
      };
      const shape = request.resourceSpans.map((rs) => ({
        resource: Object.fromEntries(rs.resource.attributes.map((a) => [a.key, a.value.stringValue])),
        scopes: rs.scopeSpans.map((ss) => [ss.scope?.name ?? "", ss.scope?.version ?? "", ss.spans.map((s) => Number.parseInt(s.spanId, 16))]),
      }));
      expect(shape, format).toEqual([
        { resource: { "service.name": "svc", "troupe.tenant.id": "acme" }, scopes: [["a", "1", [1, 5]], ["b", "", [3]]] },
        { resource: { "service.name": "svc", "troupe.tenant.id": "globex" }, scopes: [["", "", [2, 6]]] },
        { resource: { "service.name": "svc", "host.name": "h", "troupe.tenant.id": "acme" }, scopes: [["a", "1", [4]]] },
      ]);
    }
  });

  it("adds service.name when the resource lacks it, and keeps 64-bit end times exact", async () => {
    const r = row({ resourceAttributes: {}, serviceName: "unknown_service", startTimeUnixNano: "18446744069414584320", durationNs: 4_294_967_295 });
    const request = decodeProtobuf(await otlpTraceRequestFromRows([r], "protobuf")) as { resourceSpans: { resource: { attributes: unknown[] }; scopeSpans: { spans: { startTimeUnixNano: string; endTimeUnixNano: string }[] }[] }[] };
    const rs = request.resourceSpans[0]!;
    expect(rs.resource.attributes).toEqual([
      { key: "service.name", value: { stringValue: "unknown_service" } },
      { key: "troupe.tenant.id", value: { stringValue: "acme" } },
    ]);
    // Start past 2^63 does not fit the stored DateTime64: it is stored (and sent) as 0.
    expect(rs.scopeSpans[0]!.spans[0]).toMatchObject({ endTimeUnixNano: "4294967295" });
    const exact = decodeProtobuf(await otlpTraceRequestFromRows([row({ startTimeUnixNano: "9223372032559808512", durationNs: 4_294_967_295 })], "protobuf")) as typeof request;
    expect(exact.resourceSpans[0]!.scopeSpans[0]!.spans[0]).toMatchObject({ startTimeUnixNano: "9223372032559808512", endTimeUnixNano: "9223372036854775807" });
  });

  it("copies non-ASCII names and values as UTF-8, and escapes what JSON must (both encodings read back the same)", async () => {
    const name = 'résumé ✓ "quoted" \\ back\nline\u0001';
    const value = "agent-😀".repeat(30);
    const r = row({ name, attributes: { "troupe.agent.type": value, "troupe.agent.key": 'k"\\' } });
    for (const format of ["protobuf", "json"] as const) {
      const body = await otlpTraceRequestFromRows([r], format);
      const request = (format === "json" ? JSON.parse(body.toString("utf8")) : decodeProtobuf(body)) as { resourceSpans: { scopeSpans: { spans: { name: string; attributes: unknown[] }[] }[] }[] };
      const span = request.resourceSpans[0]!.scopeSpans[0]!.spans[0]!;
      expect(span.name, format).toBe(name);
      expect(span.attributes, format).toEqual([
        { key: "troupe.agent.type", value: { stringValue: value } },
        { key: "troupe.agent.key", value: { stringValue: 'k"\\' } },
      ]);
    }
  });

  it.each(["protobuf", "json"] as const)("lets the event loop run between slices of a large request (%s): ingest is never held back for a whole request", async (format) => {
    const spans = 8 * SPANS_PER_SLICE;
    const block = encodeSpanBlock(Array.from({ length: spans }, (_, i) => row({ spanId: (i + 1).toString(16).padStart(16, "0") })), () => 1);
    let turns = 0;
    let running = true;
    const spin = (): void => {
      if (!running) return;
      turns++;
      setImmediate(spin);
    };
    setImmediate(spin);
    const body = await otlpTraceBodyEncoder(format)([block]);
    running = false;
    expect(body.length).toBeGreaterThan(0);
    expect(turns).toBeGreaterThanOrEqual(spans / SPANS_PER_SLICE - 1);
  });
});
