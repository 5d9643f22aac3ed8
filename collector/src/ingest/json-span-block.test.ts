import { SpanKind, SpanStatusCode, context, trace } from "@opentelemetry/api";
import { TraceState } from "@opentelemetry/core";
import { JsonTraceSerializer } from "@opentelemetry/otlp-transformer";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { AlwaysOnSampler, BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { describe, expect, it } from "vitest";
import { decodeSpanBlocks, encodeSpanBlock, spanBlockBytes } from "../store/span-block.js";
import type { Principal } from "../tenants/principal.js";
import { decodeJsonTraces } from "./decode-json.js";
import { DEFAULT_INGEST_LIMITS, type IngestLimits } from "./ingest-limits.js";
import { decodeJsonSpanBlock, releaseJsonSpanBlock } from "./json-span-block.js";
import { buildSpanRows } from "./span-rows.js";

const acme: Principal = { kind: "tenant-ingest", keyId: "k", tenantId: "acme" };
const retention = (): number => 30;
const NOW_MS = Date.now();
const NOW_NS = BigInt(NOW_MS) * 1_000_000n;

/**
 * The example request of the OTLP specification, as published (opentelemetry-proto
 * examples/trace.json at ac2c4b5d1f3a6079de62f9afec860158ecc8af09): upper-case hex ids, 2018 times.
 */
const OFFICIAL_EXAMPLE = `{
  "resourceSpans": [
    {
      "resource": {
        "attributes": [
          {
            "key": "service.name",
            "value": {
              "stringValue": "my.service"
            }
          }
        ]
      },
      "scopeSpans": [
        {
          "scope": {
            "name": "my.library",
            "version": "1.0.0",
            "attributes": [
              {
                "key": "my.scope.attribute",
                "value": {
                  "stringValue": "some scope attribute"
                }
              }
            ]
          },
          "spans": [
            {
              "traceId": "5B8EFFF798038103D269B633813FC60C",
              "spanId": "EEE19B7EC3C1B174",
              "parentSpanId": "EEE19B7EC3C1B173",
              "name": "I'm a server span",
              "startTimeUnixNano": "1544712660000000000",
              "endTimeUnixNano": "1544712661000000000",
              "kind": 2,
              "attributes": [
                {
                  "key": "my.span.attr",
                  "value": {
                    "stringValue": "some value"
                  }
                }
              ]
            }
          ]
        }
      ]
    }
  ]
}
`;

/** The direct path's block, checked byte for byte against the general path's (which must store every span). */
function bothPaths(body: Buffer, principal = acme, limits: IngestLimits = DEFAULT_INGEST_LIMITS, nowMs = NOW_MS) {
  const general = buildSpanRows(decodeJsonTraces(body, limits), principal, limits, nowMs);
  const direct = decodeJsonSpanBlock(body, principal, limits, nowMs);
  expect(direct, "the direct path takes the body").toBeDefined();
  try {
    const bytes = spanBlockBytes(direct!.builder.finish(retention).payload);
    expect(general.rejected.size).toBe(0);
    expect(bytes.equals(encodeSpanBlock(general.rows, retention))).toBe(true);
    expect(direct!.droppedAttributes).toEqual(general.droppedAttributes);
    expect(direct!.truncatedAttributes).toBe(general.truncatedAttributes);
    return { rows: decodeSpanBlocks(bytes), general };
  } finally {
    releaseJsonSpanBlock(direct!);
  }
}

function sdkSpans(record: (tracer: ReturnType<BasicTracerProvider["getTracer"]>) => void): ReadableSpan[] {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    sampler: new AlwaysOnSampler(),
    resource: resourceFromAttributes({ "service.name": "checkout", "process.pid": 4242, "host.name": "web-1", "process.command_line": "node secret.js" }),
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  record(provider.getTracer("@troupe/runtime", "0.1.0"));
  return exporter.getFinishedSpans();
}

const jsonBody = (spans: ReadableSpan[]): Buffer => Buffer.from(JsonTraceSerializer.serializeRequest(spans)!);

describe("a body from OpenTelemetry JS's JSON serializer (exporter-trace-otlp-http, the browser's)", () => {
  it("takes the direct path and is stored as the SDK recorded it: typed attributes, the exception event, the link, scope, tracestate and flags", () => {
    const parent = { traceId: "4bf92f3577b34da6a3ce929d0e0e4736", spanId: "00f067aa0ba902b7", traceFlags: 1, isRemote: true, traceState: new TraceState("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE") };
    const linked = { traceId: "5b8efff798038103d269b633813fc60c", spanId: "eee19b7ec3c1b174", traceFlags: 1, isRemote: true, traceState: new TraceState("vendor=x") };
    const sec = Math.floor(NOW_MS / 1000) - 60;
    let spanId = "";
    const body = jsonBody(
      sdkSpans((tracer) => {
        const span = tracer.startSpan(
          'chat "gpt-4o-mini" \\ é',
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
              "gen_ai.request.model": "gpt-4o-mini\n\"quoted\"",
              "gen_ai.prompt": "secret prompt",
            },
            links: [{ context: linked, attributes: { "troupe.agent.type": "planner", "gen_ai.usage.input_tokens": 7, "gen_ai.prompt": "secret" } }],
          },
          trace.setSpanContext(context.active(), parent),
        );
        span.recordException(new TypeError("secret message"), [sec, 987_654_321]);
        span.setStatus({ code: SpanStatusCode.ERROR, message: "secret status" });
        span.end([sec + 1, 5]);
        spanId = span.spanContext().spanId;
      }),
    );
    const { rows } = bothPaths(body);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      tenantId: "acme",
      traceId: parent.traceId,
      spanId,
      parentSpanId: parent.spanId,
      name: 'chat "gpt-4o-mini" \\ é',
      kind: 3,
      startTimeUnixNano: `${sec}123456789`,
      durationNs: 1_000_000_005 - 123_456_789,
      statusCode: 2,
      serviceName: "checkout",
      attributes: {
        "troupe.tenant.id": "acme",
        "gen_ai.usage.input_tokens": "1234",
        "troupe.llm.cost_usd": "0.00042",
        "gen_ai.request.stream": "false",
        "gen_ai.response.finish_reasons": '["stop","length"]',
        "http.response.status_code": "[200,503]",
        "troupe.handler.wall_ms": "[1.5,2.25]",
        "troupe.queue.wait_ms": "[1.5,2]",
        "troupe.llm.simulated": "[true,false]",
        "gen_ai.request.model": 'gpt-4o-mini\n"quoted"',
      },
      attributeTypes: {
        "gen_ai.usage.input_tokens": "int",
        "troupe.llm.cost_usd": "double",
        "gen_ai.request.stream": "bool",
        "gen_ai.response.finish_reasons": "string[]",
        "http.response.status_code": "int[]",
        "troupe.handler.wall_ms": "double[]",
        "troupe.llm.simulated": "bool[]",
      },
      resourceAttributes: { "service.name": "checkout", "process.pid": "4242", "host.name": "web-1" },
      resourceAttributeTypes: { "process.pid": "int" },
      scopeName: "@troupe/runtime",
      scopeVersion: "0.1.0",
      traceState: "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE",
      flags: 0x301, // sampled, has-is-remote, is-remote
      events: [{ timeUnixNano: `${sec}987654321`, name: "exception", attributes: { "exception.type": "TypeError" }, attributeTypes: {} }],
      links: [{ traceId: linked.traceId, spanId: linked.spanId, traceState: "vendor=x", flags: 0x301, attributes: { "troupe.agent.type": "planner", "gen_ai.usage.input_tokens": "7" }, attributeTypes: { "gen_ai.usage.input_tokens": "int" } }],
    });
    expect(JSON.stringify(rows)).not.toContain("secret");
  });

  it("takes a full batch of the shapes an agent runtime exports, span after span", () => {
    const spans = sdkSpans((tracer) => {
      const root = tracer.startSpan("invoke_agent planner", { kind: SpanKind.SERVER, attributes: { "troupe.agent.type": "planner", "troupe.tenant.id": "acme" } });
      for (let i = 0; i < 512; i++) {
        const span = tracer.startSpan(
          `chat ${i % 3 === 0 ? "gpt-4o" : "claude"}`,
          {
            kind: SpanKind.CLIENT,
            attributes: {
              "gen_ai.operation.name": "chat",
              "gen_ai.usage.input_tokens": 100 + i,
              "gen_ai.usage.output_tokens": i % 7,
              "troupe.llm.cost_usd": i / 1000,
              "gen_ai.response.finish_reasons": i % 5 === 0 ? ["length"] : ["stop"],
              "troupe.message.hop_count": i % 4,
              "server.address": "api.example.com",
              "gen_ai.prompt": "x".repeat(i % 300),
              "troupe.agent.key": "k".repeat(i % 400), // over the cap now and then
            },
          },
          trace.setSpan(context.active(), root),
        );
        if (i % 50 === 0) span.addEvent("gen_ai.choice", { "gen_ai.response.finish_reasons": ["stop"], "gen_ai.usage.output_tokens": 3, "gen_ai.completion": "secret" });
        span.setStatus({ code: i % 17 === 0 ? SpanStatusCode.ERROR : SpanStatusCode.UNSET });
        span.end();
      }
      root.end();
    });
    const { rows, general } = bothPaths(jsonBody(spans));
    expect(rows).toHaveLength(513);
    expect(general.truncatedAttributes).toBeGreaterThan(0);
    expect(general.droppedAttributes.span).toBeGreaterThan(0);
  });
});

describe("the official OTLP/JSON example", () => {
  it("as published (2018 times): stored the same by both paths while within the longest retention, left to the general path (which refuses it as expired) after", () => {
    const body = Buffer.from(OFFICIAL_EXAMPLE);
    // Ten years (MAX_SPAN_AGE_DAYS) after its start, the span could never be read back.
    const withinMs = Date.UTC(2027, 0, 1);
    const afterMs = Date.UTC(2029, 0, 1);
    const { rows } = bothPaths(body, acme, DEFAULT_INGEST_LIMITS, withinMs);
    expect(rows).toMatchObject([{ traceId: "5b8efff798038103d269b633813fc60c", spanId: "eee19b7ec3c1b174", parentSpanId: "eee19b7ec3c1b173", startTimeUnixNano: "1544712660000000000" }]);
    expect(decodeJsonSpanBlock(body, acme, DEFAULT_INGEST_LIMITS, afterMs)).toBeUndefined();
    const general = buildSpanRows(decodeJsonTraces(body, DEFAULT_INGEST_LIMITS), acme, DEFAULT_INGEST_LIMITS, afterMs);
    expect([...general.rejected]).toEqual([["time_expired", 1]]);
    expect(general.rows).toEqual([]);
  });

  it("with its times moved to now is stored the same by both paths, upper-case hex ids lower-cased", () => {
    const start = NOW_NS - 5_000_000_000n;
    const moved = OFFICIAL_EXAMPLE.replace("1544712660000000000", String(start)).replace("1544712661000000000", String(start + 1_000_000_000n));
    const { rows } = bothPaths(Buffer.from(moved));
    expect(rows).toEqual([
      {
        tenantId: "acme",
        traceId: "5b8efff798038103d269b633813fc60c",
        spanId: "eee19b7ec3c1b174",
        parentSpanId: "eee19b7ec3c1b173",
        name: "I'm a server span",
        kind: 2,
        startTimeUnixNano: String(start),
        durationNs: 1_000_000_000,
        statusCode: 0,
        serviceName: "my.service",
        attributes: {},
        attributeTypes: {},
        resourceAttributes: { "service.name": "my.service" },
        resourceAttributeTypes: {},
        scopeName: "my.library",
        scopeVersion: "1.0.0",
        traceState: "",
        flags: 0,
        events: [],
        links: [],
      },
    ]);
    // Fields it does not know, at every level, are skipped on the direct path too.
    const unknown = JSON.parse(moved) as { resourceSpans: Record<string, unknown>[] };
    const rs = unknown.resourceSpans[0] as { resource: Record<string, unknown>; scopeSpans: { scope: Record<string, unknown>; spans: Record<string, unknown>[] }[] };
    Object.assign(unknown, { futureRoot: [1, { a: null }] });
    Object.assign(rs, { schemaUrl: "https://opentelemetry.io/schemas/1.24.0", futureResourceSpans: {} });
    Object.assign(rs.resource, { droppedAttributesCount: 0, entityRefs: [{ type: "service" }] });
    Object.assign(rs.scopeSpans[0]!, { schemaUrl: "https://opentelemetry.io/schemas/1.24.0" });
    Object.assign(rs.scopeSpans[0]!.scope, { droppedAttributesCount: 0 });
    Object.assign(rs.scopeSpans[0]!.spans[0]!, {
      droppedAttributesCount: 0,
      droppedEventsCount: 0,
      status: { code: 1, message: "", futureStatus: true },
      aFieldFromANewerSpec: { nested: [1, 2.5e-3, "x", true, null] },
      attributes: [{ key: "troupe.agent.type", value: { stringValue: "planner", futureValue: 1 }, futureKeyValue: "" }],
    });
    const [withUnknown] = bothPaths(Buffer.from(JSON.stringify(unknown, null, 1))).rows;
    expect(withUnknown).toMatchObject({ statusCode: 1, attributes: { "troupe.agent.type": "planner" }, traceId: "5b8efff798038103d269b633813fc60c" });
  });
});

describe("what the direct path leaves to the general one", () => {
  const span = (fields: string) => `{"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"b7ad6b7169203331","startTimeUnixNano":"${NOW_NS}",${fields}}`;
  const request = (spans: string, resource = "") => Buffer.from(`{"resourceSpans":[{${resource}"scopeSpans":[{"scope":{"name":"s"},"spans":[${spans}]}]}]}`);
  const attribute = (key: string, value: string) => `{"key":"${key}","value":${value}}`;

  it("takes plain and escaped strings: quotes, backslashes, \\u escapes, non-ASCII", () => {
    const { rows } = bothPaths(request(span(`"name":"say \\"hi\\" \\\\ \\u00e9\\ud83d\\ude00\\/","attributes":[${attribute("gen_ai.request.model", '{"stringValue":"tab\\there \\u2028"}')}]`)));
    expect(rows[0]).toMatchObject({ name: 'say "hi" \\ é😀/', attributes: { "gen_ai.request.model": "tab\there \u2028" } });
  });

  it("leaves forms it does not read, and what the general path refuses or answers with a partial success", () => {
    const model = attribute("gen_ai.request.model", '{"stringValue":"m"}');
    const direct = (body: Buffer, principal = acme) => {
      const block = decodeJsonSpanBlock(body, principal, { ...DEFAULT_INGEST_LIMITS, maxAttributesPerSpan: 2, maxEventsPerSpan: 1, maxLinksPerSpan: 1 }, NOW_MS);
      if (block) releaseJsonSpanBlock(block);
      return block === undefined ? "general" : "direct";
    };
    const link = '{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174"}';
    const cases: [string, Buffer, "direct" | "general"][] = [
      ["the control", request(span(`"attributes":[${model}]`)), "direct"],
      ["snake_case names", request(span(`"parent_span_id":"b7ad6b7169203332"`)), "general"],
      ["a base64 id", request(span(`"parentSpanId":"t61rcWkgMzE="`)), "general"],
      ["an enum name", request(span(`"kind":"SPAN_KIND_SERVER"`)), "general"],
      ["an int64 number past 10^15", request(span(`"attributes":[${attribute("gen_ai.usage.input_tokens", '{"intValue":9007199254740993}')}]`)), "general"],
      ["a start time as a number (19 digits)", Buffer.from(request(span("")).toString().replace(`"${NOW_NS}"`, String(NOW_NS))), "general"],
      ["a key twice", request(span(`"attributes":[${model},${model}]`)), "general"],
      ["a member twice", request(span(`"name":"a","name":"b"`)), "general"],
      ["a null", request(span(`"name":null`)), "general"],
      ["a key-value list", request(span(`"attributes":[${attribute("gen_ai.request.model", '{"kvlistValue":{"values":[]}}')}]`)), "general"],
      ["too many attributes", request(span(`"attributes":[${model},${attribute("a", "{}")},${attribute("b", "{}")}]`)), "general"],
      ["too many events", request(span(`"events":[{"name":"a"},{"name":"b"}]`)), "general"],
      ["too many links", request(span(`"links":[${link},${link}]`)), "general"],
      ["a zero trace id", request(span("").toString().replace("0af7651916cd43dd8448eb211c80319c", "0".repeat(32))), "general"],
      ["another tenant", request(span(`"attributes":[${attribute("troupe.tenant.id", '{"stringValue":"globex"}')}]`)), "general"],
      ["the resource after its spans", Buffer.from(request(span("")).toString().replace(/\}\]\}$/, `,"resource":{"attributes":[]}}]}`)), "general"],
      ["invalid JSON", Buffer.from(request(span("")).toString().slice(0, -1)), "general"],
    ];
    for (const [what, body, expected] of cases) expect(direct(body), what).toBe(expected);
  });
});
