import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import protobuf from "protobufjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BudgetExceededError, LlmClients, USAGE_ATTR, USAGE_EVENT_NAME } from "@troupe/runtime";
import { startMockOpenAiServer, type MockOpenAiServer } from "@troupe/runtime/testing";
import { startTelemetry, type Telemetry } from "@troupe/runtime/otel";

// The runtime's usage records on the wire, as the collector receives them: OTLP/HTTP protobuf (the
// default) on POST /v1/logs, decoded with the collector's own copy of the official .proto files.

const PROTO_DIR = fileURLToPath(new URL("../collector/src/ingest/proto/", import.meta.url));

interface WireAnyValue {
  stringValue?: string;
  intValue?: string;
  doubleValue?: number;
  boolValue?: boolean;
}
interface WireLogRecord {
  timeUnixNano: string;
  eventName?: string;
  traceId?: Uint8Array;
  spanId?: Uint8Array;
  body?: unknown;
  attributes?: { key: string; value: WireAnyValue }[];
}
interface WireSpan {
  traceId: Uint8Array;
  spanId: Uint8Array;
  name: string;
}

function loadTypes(): { logs: protobuf.Type; traces: protobuf.Type } {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => (target.startsWith("opentelemetry/") ? join(PROTO_DIR, target) : target);
  root.loadSync(["opentelemetry/proto/collector/logs/v1/logs_service.proto", "opentelemetry/proto/collector/trace/v1/trace_service.proto"], { keepCase: false });
  root.resolveAll();
  return {
    logs: root.lookupType("opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest"),
    traces: root.lookupType("opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest"),
  };
}

const hex = (bytes: Uint8Array | undefined) => Buffer.from(bytes ?? []).toString("hex");

let receiver: Server;
let base: string;
const bodies: { path: string; contentType: string; authorization: string | undefined; body: Buffer }[] = [];
let llmServer: MockOpenAiServer;
let telemetry: Telemetry;

beforeAll(async () => {
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      bodies.push({ path: req.url ?? "", contentType: String(req.headers["content-type"]), authorization: req.headers.authorization, body: Buffer.concat(chunks) });
      res.writeHead(200, { "content-type": "application/x-protobuf" }).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  llmServer = await startMockOpenAiServer({ behaviour: () => ({ type: "completion", content: "hi", usage: { promptTokens: 1_200, completionTokens: 80, cachedTokens: 1_024 } }) });
  telemetry = startTelemetry({ serviceName: "usage-e2e", collector: { url: `${base}/v1/traces`, apiKey: "ingest-key" }, registerGlobal: false, usageRecords: { scheduledDelayMs: 10 } });
});

afterAll(async () => {
  await telemetry.shutdown();
  await llmServer.close();
  await new Promise<void>((resolve) => receiver.close(() => resolve()));
});

describe("usage records over OTLP/HTTP protobuf", () => {
  it("arrive on /v1/logs, one log record per call, with the contract's fields and types", async () => {
    const llm = new LlmClients({
      config: { acme: { apiKey: "sk", baseURL: llmServer.baseURL, defaultModel: "gpt-4o-mini", provider: "openai", budget: { tokensPerDay: 5_000 } } },
      tracerProvider: telemetry.tracerProvider,
      loggerProvider: telemetry.loggerProvider,
    });
    const started = Date.now();
    await llm.forTenant("acme").chat({ messages: [{ role: "user", content: "a private question" }] }, { agent: { type: "researcher" } });
    await expect(llm.forTenant("acme").chat({ messages: [{ role: "user", content: "again" }], max_tokens: 10_000 })).rejects.toBeInstanceOf(BudgetExceededError);
    await telemetry.forceFlush();

    const types = loadTypes();
    const logBodies = bodies.filter((b) => b.path === "/v1/logs");
    expect(logBodies.length).toBeGreaterThanOrEqual(1);
    for (const b of logBodies) {
      expect(b.contentType).toBe("application/x-protobuf");
      expect(b.authorization).toBe("Bearer ingest-key");
      expect(b.body.toString("latin1")).not.toContain("private question");
    }
    const requests = logBodies.map((b) => types.logs.toObject(types.logs.decode(b.body), { longs: String }) as { resourceLogs: { resource: { attributes: { key: string; value: WireAnyValue }[] }; scopeLogs: { logRecords: WireLogRecord[] }[] }[] });
    const resourceLogs = requests.flatMap((r) => r.resourceLogs);
    expect(resourceLogs[0]!.resource.attributes.find((kv) => kv.key === "service.name")?.value).toEqual({ stringValue: "usage-e2e" });
    const records = resourceLogs.flatMap((rl) => rl.scopeLogs.flatMap((sl) => sl.logRecords));
    expect(records).toHaveLength(2);
    const attrs = (r: WireLogRecord) => Object.fromEntries((r.attributes ?? []).map((kv) => [kv.key, kv.value]));
    const [ok, rejected] = records as [WireLogRecord, WireLogRecord];

    // The call's chat span, exported separately on /v1/traces, is the one the record points at.
    const spans = bodies
      .filter((b) => b.path === "/v1/traces")
      .flatMap((b) => (types.traces.toObject(types.traces.decode(b.body)) as { resourceSpans: { scopeSpans: { spans: WireSpan[] }[] }[] }).resourceSpans)
      .flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans));
    const chatSpans = spans.filter((s) => s.name === "chat gpt-4o-mini");
    expect(chatSpans).toHaveLength(2);

    expect(ok.eventName).toBe(USAGE_EVENT_NAME);
    expect(ok.body).toBeUndefined();
    expect(hex(ok.traceId)).toBe(hex(chatSpans[0]!.traceId));
    expect(hex(ok.spanId)).toBe(hex(chatSpans[0]!.spanId));
    const okStartMs = Number(BigInt(ok.timeUnixNano) / 1_000_000n);
    expect(okStartMs).toBeGreaterThanOrEqual(started);
    expect(okStartMs).toBeLessThanOrEqual(Date.now());
    const a = attrs(ok);
    expect(a[USAGE_ATTR.id]?.stringValue).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(a[USAGE_ATTR.tenantId]).toEqual({ stringValue: "acme" });
    expect(a[USAGE_ATTR.agentType]).toEqual({ stringValue: "researcher" });
    expect(a[USAGE_ATTR.provider]).toEqual({ stringValue: "openai" });
    expect(a[USAGE_ATTR.model]).toEqual({ stringValue: "gpt-4o-mini" });
    expect(a[USAGE_ATTR.responseModel]).toEqual({ stringValue: "gpt-4o-mini" });
    expect(a[USAGE_ATTR.outcome]).toEqual({ stringValue: "ok" });
    expect(a[USAGE_ATTR.inputTokens]).toEqual({ intValue: "1200" });
    expect(a[USAGE_ATTR.outputTokens]).toEqual({ intValue: "80" });
    expect(a[USAGE_ATTR.cachedInputTokens]).toEqual({ intValue: "1024" });
    expect(a[USAGE_ATTR.costUsd]).toEqual({ doubleValue: (1_200 * 0.15 + 80 * 0.6) / 1e6 });
    expect(a[USAGE_ATTR.usageExact]).toBeUndefined(); // absent means exact

    expect(rejected.eventName).toBe(USAGE_EVENT_NAME);
    expect(hex(rejected.spanId)).toBe(hex(chatSpans[1]!.spanId));
    const r = attrs(rejected);
    expect(r[USAGE_ATTR.outcome]).toEqual({ stringValue: "budget_rejected" });
    expect(r[USAGE_ATTR.agentType]).toBeUndefined();
    expect(r[USAGE_ATTR.inputTokens]).toEqual({ intValue: "0" });
    // A whole amount leaves the OpenTelemetry JS encoder as an int: the contract lets receivers read either.
    expect(r[USAGE_ATTR.costUsd]).toEqual({ intValue: "0" });
    expect(r[USAGE_ATTR.id]?.stringValue).not.toBe(a[USAGE_ATTR.id]?.stringValue);
    expect(telemetry.usageRecordStats()).toMatchObject({ exported: 2, dropped: 0, failed: 0 });
  });
});
