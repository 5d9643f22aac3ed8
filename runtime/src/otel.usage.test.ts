import { createServer } from "node:http";
import type { IncomingHttpHeaders, Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { LlmClients } from "./llm/llm-clients.js";
import { startMockOpenAiServer } from "./testing/mock-openai-server.js";
import { startTelemetry, telemetryOptionsFromEnv } from "./otel.js";
import { RESOURCE_ATTRIBUTE_ALLOW_LIST, USAGE_ATTR, USAGE_EVENT_NAME } from "@troupe/contract";

// startTelemetry's usage-record pipeline against a local OTLP/HTTP receiver (JSON here; the
// protobuf wire format is decoded in test/runtime-usage-export.test.ts).

interface JsonKeyValue {
  key: string;
  value: Record<string, unknown>;
}
interface JsonLogRecord {
  timeUnixNano: string;
  eventName?: string;
  traceId?: string;
  spanId?: string;
  body?: unknown;
  attributes?: JsonKeyValue[];
}
interface Request {
  path: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** A receiver answering every POST with `status`, recording what it was sent. */
async function startReceiver(status: (path: string) => number = () => 200): Promise<{ base: string; requests: Request[]; close(): Promise<void> }> {
  const requests: Request[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const path = req.url ?? "";
      requests.push({ path, headers: req.headers, body: Buffer.concat(chunks) });
      res.writeHead(status(path), { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function jsonLogs(requests: Request[]): { resource: JsonKeyValue[]; record: JsonLogRecord }[] {
  return requests
    .filter((r) => r.path === "/v1/logs")
    .flatMap((r) => {
      const body = JSON.parse(r.body.toString("utf8")) as { resourceLogs: { resource: { attributes: JsonKeyValue[] }; scopeLogs: { logRecords: JsonLogRecord[] }[] }[] };
      return body.resourceLogs.flatMap((rl) => rl.scopeLogs.flatMap((sl) => sl.logRecords.map((record) => ({ resource: rl.resource.attributes, record }))));
    });
}

const attr = (record: JsonLogRecord, key: string) => record.attributes?.find((kv) => kv.key === key)?.value;

describe("startTelemetry: usage records", () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    while (cleanups.length > 0) await cleanups.pop()!();
  });

  it("go to the collector's /v1/logs with its key, registered globally, although no trace is sampled", async () => {
    const receiver = await startReceiver();
    const llmServer = await startMockOpenAiServer({ behaviour: () => ({ type: "completion", content: "hi", usage: { promptTokens: 11, completionTokens: 3 } }) });
    cleanups.push(receiver.close, llmServer.close);
    const telemetry = startTelemetry({
      serviceName: "billing-test",
      resourceAttributes: { "cloud.account.id": "12345" },
      collector: { url: `${receiver.base}/v1/traces`, apiKey: "ingest-key-1" },
      samplerRatio: 0,
      protocol: "http/json",
      usageRecords: { scheduledDelayMs: 10 },
    });
    cleanups.push(() => telemetry.shutdown());
    // No tracer or logger provider passed: the runtime's defaults are the globals startTelemetry registered.
    const llm = new LlmClients({ config: { acme: { apiKey: "sk", baseURL: llmServer.baseURL, defaultModel: "gpt-4o-mini", provider: "openai" } } });
    await llm.forTenant("acme").chat({ messages: [{ role: "user", content: "a secret prompt" }] }, { agent: { type: "planner" } });
    await telemetry.forceFlush();

    expect(receiver.requests.filter((r) => r.path === "/v1/traces")).toHaveLength(0);
    const logRequests = receiver.requests.filter((r) => r.path === "/v1/logs");
    expect(logRequests).toHaveLength(1);
    expect(logRequests[0]!.headers.authorization).toBe("Bearer ingest-key-1");
    const [{ resource, record }] = jsonLogs(receiver.requests) as [{ resource: JsonKeyValue[]; record: JsonLogRecord }];
    expect(record.eventName).toBe(USAGE_EVENT_NAME);
    expect(record.body ?? {}).toEqual({}); // the official JSON encoder writes an empty AnyValue for "no body"
    expect(record.traceId ?? "").toBe("");
    expect(record.spanId ?? "").toBe("");
    expect(attr(record, USAGE_ATTR.tenantId)).toEqual({ stringValue: "acme" });
    expect(attr(record, USAGE_ATTR.agentType)).toEqual({ stringValue: "planner" });
    expect(attr(record, USAGE_ATTR.outcome)).toEqual({ stringValue: "ok" });
    expect(attr(record, USAGE_ATTR.inputTokens)).toEqual({ intValue: 11 });
    expect(attr(record, USAGE_ATTR.outputTokens)).toEqual({ intValue: 3 });
    expect(attr(record, USAGE_ATTR.costUsd)).toEqual({ doubleValue: (11 * 0.15 + 3 * 0.6) / 1e6 });
    expect(Math.abs(Number(BigInt(record.timeUnixNano) / 1_000_000n) - Date.now())).toBeLessThan(10_000);
    const resourceKeys = resource.map((kv) => kv.key);
    expect(resourceKeys).toContain("service.name");
    expect(resourceKeys).not.toContain("cloud.account.id");
    for (const key of resourceKeys) expect(RESOURCE_ATTRIBUTE_ALLOW_LIST.has(key)).toBe(true);
    expect(JSON.stringify(receiver.requests.map((r) => r.body.toString("utf8")))).not.toContain("secret prompt");
    expect(telemetry.usageRecordStats()).toMatchObject({ queued: 1, exported: 1, dropped: 0, failed: 0, pending: 0 });

    await telemetry.shutdown();
    // The global logger provider is a no-op again: a later call's record goes nowhere.
    await llm.forTenant("acme").chat({ messages: [{ role: "user", content: "x" }] });
    expect(receiver.requests.filter((r) => r.path === "/v1/logs")).toHaveLength(1);
  });

  it("count what the collector refused as failed, and can stay out of the globals", async () => {
    const receiver = await startReceiver((path) => (path === "/v1/logs" ? 400 : 200));
    const llmServer = await startMockOpenAiServer();
    cleanups.push(receiver.close, llmServer.close);
    const telemetry = startTelemetry({ serviceName: "s", collector: { url: `${receiver.base}/v1/traces` }, registerGlobal: false, protocol: "http/json" });
    cleanups.push(() => telemetry.shutdown());
    const llm = new LlmClients({
      config: { acme: { apiKey: "sk", baseURL: llmServer.baseURL, defaultModel: "m" } },
      tracerProvider: telemetry.tracerProvider,
      loggerProvider: telemetry.loggerProvider,
    });
    await llm.forTenant("acme").chat({ messages: [{ role: "user", content: "x" }] });
    await llm.forTenant("acme").chat({ messages: [{ role: "user", content: "y" }] });
    await telemetry.forceFlush();
    expect(receiver.requests.filter((r) => r.path === "/v1/logs")).toHaveLength(1);
    expect(telemetry.usageRecordStats()).toMatchObject({ queued: 2, exported: 0, failed: 2, pending: 0 });
  });

  it("are off with usageRecords: false, and need an explicit URL beside a collector URL not ending in /v1/traces", async () => {
    const receiver = await startReceiver();
    cleanups.push(receiver.close);
    const telemetry = startTelemetry({ serviceName: "s", collector: { url: `${receiver.base}/v1/traces` }, registerGlobal: false, usageRecords: false });
    cleanups.push(() => telemetry.shutdown());
    telemetry.loggerProvider.getLogger("t").emit({ eventName: USAGE_EVENT_NAME, attributes: { [USAGE_ATTR.id]: "x" } });
    await telemetry.forceFlush();
    expect(receiver.requests).toHaveLength(0);
    expect(() => startTelemetry({ serviceName: "s", collector: { url: `${receiver.base}/otlp` }, registerGlobal: false })).toThrow(/usageRecords\.url/);
    expect(() => startTelemetry({ serviceName: "s", collector: false, usageRecords: { maxQueueSize: 10, maxExportBatchSize: 20 } })).toThrow(/maxExportBatchSize/);
  });
});

describe("telemetryOptionsFromEnv: usage records", () => {
  it("follow the collector unless the environment says otherwise", () => {
    expect(telemetryOptionsFromEnv({ TROUPE_COLLECTOR_URL: "http://c:4318" })!.usageRecords).toBeUndefined();
    expect(telemetryOptionsFromEnv({ TROUPE_COLLECTOR_URL: "http://c:4318", OTEL_LOGS_EXPORTER: "none" })!.usageRecords).toBe(false);
    expect(telemetryOptionsFromEnv({ TROUPE_COLLECTOR_URL: "http://c:4318", OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: "http://l:4318/v1/logs" })!.usageRecords).toEqual({ url: "http://l:4318/v1/logs" });
    expect(telemetryOptionsFromEnv({ TROUPE_COLLECTOR_URL: "http://c:4318/", OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://t:4318/v1/traces" })!.usageRecords).toEqual({ url: "http://c:4318/v1/logs" });
    expect(telemetryOptionsFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://o:4318", TROUPE_COLLECTOR_URL: "http://c:4318" })!.usageRecords).toBeUndefined();
  });
});
