// What the collector forwards to an existing APM is the spans as the application's SDK sent them,
// less what the metadata-only allow-list drops: a real OpenTelemetry JS SDK exports (protobuf and
// JSON, gzip on and off) both to the collector process and straight to a receiver; the collector
// forwards to two more receivers (one protobuf, one OTLP/JSON); all three decode with the official
// OTLP definitions, and every forwarded span must equal the SDK's own export field by field.
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SpanKind, SpanStatusCode, TraceFlags, context, createTraceState, trace, type Tracer } from "@opentelemetry/api";
import { OTLPTraceExporter as JsonExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { OTLPTraceExporter as ProtoExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BasicTracerProvider, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { createTenantRegistry, openClickHouse } from "@troupe/collector";
import { EVENT_ATTRIBUTE_ALLOW_LIST, RESOURCE_ATTRIBUTE_ALLOW_LIST, SPAN_ATTRIBUTE_ALLOW_LIST } from "@troupe/runtime";
import { startCollectorProcess, type CollectorProcess } from "./support/collector-process.js";
import { startTraceReceiver, type ReceivedSpan, type TraceReceiver, type WireKeyValue } from "./support/otlp-trace-receiver.js";

const children: ChildProcess[] = [];
const receivers: TraceReceiver[] = [];
let dir: string;
let collector: CollectorProcess;
let ingestKey: string;
/** What the SDK exported, straight; and what the collector forwarded, to each destination. */
let direct: TraceReceiver;
let forwardedProtobuf: TraceReceiver;
let forwardedJson: TraceReceiver;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "troupe-apm-forwarding-"));
  const setup = await openClickHouse({ kind: "chdb", dataDir: join(dir, "chdb") });
  const registry = createTenantRegistry(setup);
  await registry.createTenant({ id: "acme" });
  ingestKey = (await registry.issueKey("acme", "ingest")).key.secret;
  await setup.close();
  [direct, forwardedProtobuf, forwardedJson] = await Promise.all([startTraceReceiver(), startTraceReceiver(), startTraceReceiver()]);
  receivers.push(direct, forwardedProtobuf, forwardedJson);
  collector = await startCollectorProcess(dir, children, {
    env: {
      TROUPE_FORWARD_OTLP_DESTINATIONS: JSON.stringify([
        { name: "apm-protobuf", endpoint: forwardedProtobuf.url, protocol: "http/protobuf" },
        { name: "apm-json", endpoint: forwardedJson.url, protocol: "http/json" },
      ]),
    },
  });
}, 120_000);

afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
  await Promise.all(receivers.map((r) => r.close()));
  if (dir) await rm(dir, { recursive: true, force: true });
});

const VARIANTS = [
  { name: "protobuf", Exporter: ProtoExporter, gzip: false },
  { name: "protobuf+gzip", Exporter: ProtoExporter, gzip: true },
  { name: "json", Exporter: JsonExporter, gzip: false },
  { name: "json+gzip", Exporter: JsonExporter, gzip: true },
] as const;

const hex = (bytes: number): string => randomBytes(bytes).toString("hex");

/** Two spans as an application makes them: typed attributes, an exception, a GenAI event, a link, tracestate, a remote parent. */
function makeSpans(tracer: Tracer, variant: string): void {
  const remoteParent = trace.setSpanContext(context.active(), {
    traceId: hex(16),
    spanId: hex(8),
    traceFlags: TraceFlags.SAMPLED,
    isRemote: true,
    traceState: createTraceState("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"),
  });
  const root = tracer.startSpan(
    `invoke_agent planner (${variant})`,
    {
      kind: SpanKind.SERVER,
      attributes: {
        "troupe.tenant.id": "acme",
        "troupe.agent.type": "planner",
        "gen_ai.usage.input_tokens": 45,
        "gen_ai.request.max_tokens": Number.MAX_SAFE_INTEGER,
        "server.port": -39297,
        "troupe.llm.cost_usd": 0.00042,
        "troupe.sampling.ratio": 0.25,
        "gen_ai.request.stream": false,
        "troupe.llm.simulated": true,
        "gen_ai.response.finish_reasons": ["stop", "length"],
        "troupe.llm.retry_count": [0, 1, 2],
        "troupe.handler.wall_ms": [1.5, 2.25],
        "troupe.turn.isolation": [true, false],
        "gen_ai.prompt": "the customer's confidential prompt",
      },
      links: [
        {
          context: { traceId: hex(16), spanId: hex(8), traceFlags: TraceFlags.SAMPLED, isRemote: true, traceState: createTraceState("vendor=opaque") },
          attributes: { "troupe.agent.type": "critic", "troupe.message.hop_count": 3, "gen_ai.input.messages": "dropped" },
        },
      ],
    },
    remoteParent,
  );
  root.addEvent("gen_ai.client.inference.operation.details", {
    "gen_ai.operation.name": "chat",
    "gen_ai.usage.input_tokens": 45,
    "gen_ai.response.finish_reasons": ["stop"],
    "gen_ai.input.messages": "[{\"role\":\"user\",\"content\":\"secret\"}]",
  });
  root.recordException(new TypeError("the customer's confidential prompt"));
  const child = tracer.startSpan(
    "chat gpt-4o",
    { kind: SpanKind.CLIENT, attributes: { "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o", "gen_ai.usage.output_tokens": 7 } },
    trace.setSpan(context.active(), root),
  );
  child.end();
  root.setStatus({ code: SpanStatusCode.ERROR, message: "the customer's confidential prompt" });
  root.end();
}

/** An AnyValue with JSON numbers for ints made strings (the SDK's JSON writes them as numbers, protobufjs as strings). */
function value(v: Record<string, unknown>): unknown {
  if ("intValue" in v) return { intValue: String(v["intValue"]) };
  if ("doubleValue" in v) return { doubleValue: Number(v["doubleValue"]) };
  if ("arrayValue" in v) return { arrayValue: { values: ((v["arrayValue"] as { values?: Record<string, unknown>[] }).values ?? []).map(value) } };
  return v;
}

function attributes(kvs: unknown, allow?: ReadonlySet<string>): Record<string, unknown> {
  return Object.fromEntries(((kvs as WireKeyValue[] | undefined) ?? []).filter((kv) => allow === undefined || allow.has(kv.key)).map((kv) => [kv.key, value(kv.value)]));
}

/**
 * A received span in one shape whichever way it came: defaults filled in, ints as strings. With
 * `allowListed`, only the attributes the allow-lists keep (what the collector must forward).
 */
function normalize({ resource, scope, span }: ReceivedSpan, allowListed: boolean): Record<string, unknown> {
  const s = span as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- wire JSON
  return {
    resource: attributes(resource, allowListed ? RESOURCE_ATTRIBUTE_ALLOW_LIST : undefined),
    scope: { name: scope.name ?? "", version: scope.version ?? "" },
    traceId: s.traceId,
    spanId: s.spanId,
    parentSpanId: s.parentSpanId || "",
    traceState: s.traceState ?? "",
    flags: s.flags ?? 0,
    name: s.name,
    kind: s.kind ?? 0,
    startTimeUnixNano: String(s.startTimeUnixNano),
    endTimeUnixNano: String(s.endTimeUnixNano),
    attributes: attributes(s.attributes, allowListed ? SPAN_ATTRIBUTE_ALLOW_LIST : undefined),
    events: ((s.events ?? []) as Record<string, any>[]).map((e) => ({ // eslint-disable-line @typescript-eslint/no-explicit-any -- wire JSON
      timeUnixNano: String(e.timeUnixNano),
      name: e.name,
      attributes: attributes(e.attributes, allowListed ? EVENT_ATTRIBUTE_ALLOW_LIST : undefined),
    })),
    links: ((s.links ?? []) as Record<string, any>[]).map((l) => ({ // eslint-disable-line @typescript-eslint/no-explicit-any -- wire JSON
      traceId: l.traceId,
      spanId: l.spanId,
      traceState: l.traceState ?? "",
      flags: l.flags ?? 0,
      attributes: attributes(l.attributes, allowListed ? SPAN_ATTRIBUTE_ALLOW_LIST : undefined),
    })),
    status: { code: s.status?.code ?? 0 },
  };
}

async function until(predicate: () => boolean, what: () => string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("forwarding to existing APMs", () => {
  it("forwards each span as the SDK sent it (types, events, links, scope, ids, tracestate, flags, ns times, resource), less what the allow-list drops, over protobuf and OTLP/JSON", async () => {
    for (const { name, Exporter, gzip } of VARIANTS) {
      const compression = gzip ? { compression: "gzip" as never } : {};
      const provider = new BasicTracerProvider({
        resource: resourceFromAttributes({
          "service.name": "forwarding-e2e",
          "service.version": "2.0.1",
          "service.instance.id": name,
          "process.pid": 4242,
          "troupe.tenant.id": "acme",
          "k8s.secret.name": "dropped",
        }),
        spanProcessors: [
          new SimpleSpanProcessor(new Exporter({ url: `${collector.url}/v1/traces`, headers: { Authorization: `Bearer ${ingestKey}` }, ...compression })),
          new SimpleSpanProcessor(new Exporter({ url: direct.url, ...compression })),
        ],
      });
      makeSpans(provider.getTracer("@troupe/e2e-forwarding", "1.2.3"), name);
      await provider.forceFlush();
      await provider.shutdown();
    }
    const expected = direct.spans.length;
    expect(expected).toBe(2 * VARIANTS.length);
    await until(
      () => forwardedProtobuf.spans.length >= expected && forwardedJson.spans.length >= expected,
      () => `forwarded spans: ${forwardedProtobuf.spans.length} protobuf, ${forwardedJson.spans.length} JSON of ${expected}`,
    );

    // The SDK's exports really were of both encodings, gzip on and off; each destination got its own.
    expect(new Set(direct.requests.map((r) => `${r.contentType} ${r.contentEncoding ?? "identity"}`))).toEqual(
      new Set(["application/x-protobuf identity", "application/x-protobuf gzip", "application/json identity", "application/json gzip"]),
    );
    expect(forwardedProtobuf.requests.every((r) => r.contentType === "application/x-protobuf")).toBe(true);
    expect(forwardedJson.requests.every((r) => r.contentType === "application/json")).toBe(true);

    const bySpanId = (spans: ReceivedSpan[]) => new Map(spans.map((s) => [s.span.spanId, s]));
    const sent = bySpanId(direct.spans);
    for (const [destination, receiver] of [["protobuf", forwardedProtobuf], ["json", forwardedJson]] as const) {
      const forwarded = bySpanId(receiver.spans);
      expect([...forwarded.keys()].sort(), destination).toEqual([...sent.keys()].sort());
      for (const [spanId, original] of sent) {
        const got = forwarded.get(spanId)!;
        expect(normalize(got, false), `${destination} ${String(original.span["name"])}`).toEqual(normalize(original, true));
        // No content: the status message and the exception's message and stack stay behind.
        expect((got.span["status"] as { message?: string } | undefined)?.message ?? "").toBe("");
      }
    }

    // Spot checks that the comparison is about real data: typed values, the exception type, the link, the scope.
    const root = normalize(forwardedJson.spans.find((s) => String(s.span["name"]).startsWith("invoke_agent planner (json+gzip)"))!, false);
    expect(root).toMatchObject({
      scope: { name: "@troupe/e2e-forwarding", version: "1.2.3" },
      traceState: "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE",
      flags: 0x301,
      kind: 2,
      status: { code: 2 },
      resource: { "service.name": { stringValue: "forwarding-e2e" }, "process.pid": { intValue: "4242" }, "troupe.tenant.id": { stringValue: "acme" } },
    });
    expect(root["attributes"]).toEqual({
      "troupe.tenant.id": { stringValue: "acme" },
      "troupe.agent.type": { stringValue: "planner" },
      "gen_ai.usage.input_tokens": { intValue: "45" },
      "gen_ai.request.max_tokens": { intValue: String(Number.MAX_SAFE_INTEGER) },
      "server.port": { intValue: "-39297" },
      "troupe.llm.cost_usd": { doubleValue: 0.00042 },
      "troupe.sampling.ratio": { doubleValue: 0.25 },
      "gen_ai.request.stream": { boolValue: false },
      "troupe.llm.simulated": { boolValue: true },
      "gen_ai.response.finish_reasons": { arrayValue: { values: [{ stringValue: "stop" }, { stringValue: "length" }] } },
      "troupe.llm.retry_count": { arrayValue: { values: [{ intValue: "0" }, { intValue: "1" }, { intValue: "2" }] } },
      "troupe.handler.wall_ms": { arrayValue: { values: [{ doubleValue: 1.5 }, { doubleValue: 2.25 }] } },
      "troupe.turn.isolation": { arrayValue: { values: [{ boolValue: true }, { boolValue: false }] } },
    });
    expect(root["events"]).toEqual([
      {
        timeUnixNano: expect.stringMatching(/^\d{19}$/),
        name: "gen_ai.client.inference.operation.details",
        attributes: {
          "gen_ai.operation.name": { stringValue: "chat" },
          "gen_ai.usage.input_tokens": { intValue: "45" },
          "gen_ai.response.finish_reasons": { arrayValue: { values: [{ stringValue: "stop" }] } },
        },
      },
      { timeUnixNano: expect.stringMatching(/^\d{19}$/), name: "exception", attributes: { "exception.type": { stringValue: "TypeError" } } },
    ]);
    expect(root["links"]).toEqual([
      {
        traceId: expect.stringMatching(/^[0-9a-f]{32}$/),
        spanId: expect.stringMatching(/^[0-9a-f]{16}$/),
        traceState: "vendor=opaque",
        flags: 0x301,
        attributes: { "troupe.agent.type": { stringValue: "critic" }, "troupe.message.hop_count": { intValue: "3" } },
      },
    ]);

    // /metrics shows each destination; forwarding kept the direct path (wire straight into a span block) for what it fits.
    const metrics = await (await fetch(`${collector.url}/metrics`)).text();
    expect(Number(/troupe_collector_spans_decoded_total\{path="direct"\} (\d+)/.exec(metrics)?.[1] ?? 0)).toBeGreaterThan(0);
    for (const name of ["apm-protobuf", "apm-json"]) {
      expect(metrics).toContain(`troupe_collector_forward_destination_spans_sent_total{destination="${name}"} ${expected}\n`);
      expect(metrics).toContain(`troupe_collector_forward_destination_queue_spans{destination="${name}"} 0\n`);
    }
  }, 120_000);
});
