import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { gunzipSync } from "node:zlib";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  AgentId,
  BudgetExceededError,
  GEN_AI_OPERATION_DURATION_BUCKETS,
  GEN_AI_TOKEN_USAGE_BUCKETS,
  LlmClients,
  METRIC,
  RateLimitedError,
  Runtime,
  TURN_DURATION_BUCKETS,
} from "@troupe/runtime";
import { startMockOpenAiServer, type MockOpenAiServer } from "@troupe/runtime/testing";
import { startTelemetry, telemetryOptionsFromEnv, type Telemetry } from "@troupe/runtime/otel";
import { decodeMetricsBody, type WireMetric, type WireMetricsRequest, type WirePoint } from "./support/otlp-metrics.js";

// Metrics for an APM, end to end: startTelemetry configured only by OTEL_* variables exports the
// GenAI client metrics and the runtime's per-tenant metrics over real OTLP/HTTP to a local receiver,
// which decodes them as an APM would (protobuf with the official .proto files, or OTLP/JSON).

interface Received {
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

let receiver: Server;
let receiverUrl: string;
const received: Received[] = [];
let llmServer: MockOpenAiServer;
const savedEnv = { ...process.env };

/** Tokens the mock model reports per call, by tenant. */
const USAGE: Record<string, { promptTokens: number; completionTokens: number }> = {
  acme: { promptTokens: 11, completionTokens: 3 },
  globex: { promptTokens: 50, completionTokens: 9 },
};

beforeAll(async () => {
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      let body = Buffer.concat(chunks);
      if (req.headers["content-encoding"] === "gzip") body = gunzipSync(body);
      received.push({ path: req.url ?? "", headers: req.headers, body });
      const json = String(req.headers["content-type"]).startsWith("application/json");
      res.writeHead(200, { "content-type": json ? "application/json" : "application/x-protobuf" }).end(json ? "{}" : undefined);
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  llmServer = await startMockOpenAiServer({ behaviour: (request) => ({ type: "completion", content: "ok", usage: USAGE[String(request.messages[0]?.content)] ?? { promptTokens: 1, completionTokens: 1 } }) });
});
afterAll(async () => {
  await llmServer.close();
  await new Promise<void>((resolve) => receiver.close(() => resolve()));
});
afterEach(() => {
  received.length = 0;
  for (const name of Object.keys(process.env)) if (!(name in savedEnv)) delete process.env[name];
  Object.assign(process.env, savedEnv);
});

/** Sets the variables of one run: no other OTLP endpoint, no Troupe collector, usage records off. */
function setEnv(vars: Record<string, string>): void {
  for (const name of Object.keys(process.env)) if (name.startsWith("OTEL_") || name.startsWith("TROUPE_")) delete process.env[name];
  Object.assign(process.env, { OTEL_SERVICE_NAME: "apm-e2e", OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${receiverUrl}/v1/traces`, OTEL_LOGS_EXPORTER: "none", ...vars });
}

/**
 * Starts telemetry from the environment, then a runtime and LLM clients on the global providers, and
 * runs turns that call the LLM: acme 3 calls, globex 2, broke 1 refused by its budget, plus one
 * message of `limited` refused by its message rate. Returns the telemetry, still running.
 */
async function runWorkload(): Promise<Telemetry> {
  const telemetry = startTelemetry(telemetryOptionsFromEnv(process.env)!);
  const base = { apiKey: "sk", baseURL: llmServer.baseURL, defaultModel: "gpt-4o-mini" };
  const llm = new LlmClients({ config: { acme: base, globex: base, broke: { ...base, budget: { tokensPerDay: 5 } } } });
  const rt = new Runtime({ quotas: { tenants: { limited: { messagesPerSecond: 1, burst: 1 } } } });
  rt.register("planner", () => ({
    onMessage: async (_m, ctx) => {
      await llm.forTenant(ctx.tenant).chat({ messages: [{ role: "user", content: ctx.tenant }], max_tokens: 20 }, { agent: ctx.agentId });
      return "planned";
    },
  }));
  rt.register("echo", () => ({ onMessage: (m) => m }));
  await rt.start();
  try {
    for (let i = 0; i < 3; i++) await rt.tenant("acme").send(new AgentId("planner", `k${i}`), i);
    for (let i = 0; i < 2; i++) await rt.tenant("globex").send(new AgentId("planner", `k${i}`), i);
    const refused = await rt.tenant("broke").send(new AgentId("planner", "k"), 0).catch((e: unknown) => e);
    expect((refused as Error).cause).toBeInstanceOf(BudgetExceededError);
    await rt.tenant("limited").send(new AgentId("echo", "k"), 0);
    await expect(rt.tenant("limited").send(new AgentId("echo", "k"), 1)).rejects.toBeInstanceOf(RateLimitedError);
  } finally {
    await rt.stop();
  }
  return telemetry;
}

function metricRequests(): { received: Received; requests: WireMetricsRequest[] }[] {
  return received.filter((r) => r.path.endsWith("/v1/metrics")).map((r) => ({ received: r, requests: decodeMetricsBody(r.body, String(r.headers["content-type"])) }));
}

/** The metrics of the latest export that has `name` (cumulative: it holds everything so far). */
function latest(name: string): WireMetric | undefined {
  const all = metricRequests().flatMap((r) => r.requests.flatMap((q) => q.metrics));
  return all.filter((m) => m.name === name).at(-1);
}

async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 25));
  }
}

function point(metric: WireMetric | undefined, attributes: Record<string, string | number>): WirePoint | undefined {
  return metric?.points.find((p) => Object.entries(attributes).every(([k, v]) => p.attributes[k] === v));
}

describe.each([
  { protocol: "http/protobuf", contentType: "application/x-protobuf" },
  { protocol: "http/json", contentType: "application/json" },
])("metrics over OTLP/HTTP ($protocol), configured by environment variables", ({ protocol, contentType }) => {
  it("reach the APM's endpoint every export interval with the GenAI and troupe.* metrics of each tenant and the configured header", async () => {
    setEnv({
      OTEL_METRICS_EXPORTER: "otlp",
      OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: `${receiverUrl}/apm/v1/metrics`,
      OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: protocol,
      OTEL_EXPORTER_OTLP_METRICS_HEADERS: "x-apm-key=secret-42",
      OTEL_METRIC_EXPORT_INTERVAL: "200",
    });
    const telemetry = await runWorkload();
    try {
      // No flush: the periodic reader exports on its own within a few intervals.
      await until(() => point(latest(METRIC.genAiTokenUsage), { "troupe.tenant.id": "acme", "gen_ai.token.type": "input" })?.count === 3);
    } finally {
      await telemetry.shutdown();
    }

    const exports = metricRequests();
    expect(exports.length).toBeGreaterThan(0);
    for (const { received: r } of exports) {
      expect(r.path).toBe("/apm/v1/metrics");
      expect(r.headers["content-type"]).toBe(contentType);
      expect(r.headers["x-apm-key"]).toBe("secret-42");
    }
    expect(exports.at(-1)!.requests[0]!.resource["service.name"]).toBe("apm-e2e");

    const tokens = latest(METRIC.genAiTokenUsage)!;
    expect(tokens).toMatchObject({ kind: "histogram", unit: "{token}" });
    for (const [tenant, calls] of [["acme", 3], ["globex", 2]] as const) {
      const expected = { "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o-mini", "gen_ai.response.model": "gpt-4o-mini", "troupe.agent.type": "planner", "server.address": "127.0.0.1" };
      const input = point(tokens, { "troupe.tenant.id": tenant, "gen_ai.token.type": "input" })!;
      const output = point(tokens, { "troupe.tenant.id": tenant, "gen_ai.token.type": "output" })!;
      expect(input.attributes).toMatchObject({ ...expected, "server.port": llmServer.port });
      expect([input.count, input.sum]).toEqual([calls, calls * USAGE[tenant]!.promptTokens]);
      expect([output.count, output.sum]).toEqual([calls, calls * USAGE[tenant]!.completionTokens]);
      expect(input.explicitBounds).toEqual(GEN_AI_TOKEN_USAGE_BUCKETS);
    }
    expect(point(tokens, { "troupe.tenant.id": "broke" })).toBeUndefined();

    const durations = latest(METRIC.genAiOperationDuration)!;
    expect(durations).toMatchObject({ kind: "histogram", unit: "s" });
    expect(point(durations, { "troupe.tenant.id": "acme" })!.count).toBe(3);
    expect(point(durations, { "troupe.tenant.id": "globex" })!.count).toBe(2);
    expect(point(durations, { "troupe.tenant.id": "acme" })!.sum).toBeGreaterThan(0);
    expect(point(durations, { "troupe.tenant.id": "acme" })!.explicitBounds).toEqual(GEN_AI_OPERATION_DURATION_BUCKETS);
    expect(point(durations, { "troupe.tenant.id": "broke" })).toBeUndefined();

    const turns = latest(METRIC.turns)!;
    expect(turns.kind).toBe("sum");
    expect(point(turns, { "troupe.tenant.id": "acme", "troupe.agent.type": "planner", "troupe.turn.outcome": "ok" })!.value).toBe(3);
    expect(point(turns, { "troupe.tenant.id": "globex", "troupe.turn.outcome": "ok" })!.value).toBe(2);
    expect(point(turns, { "troupe.tenant.id": "broke", "troupe.turn.outcome": "error" })!.value).toBe(1);
    for (const name of [METRIC.turnQueueWait, METRIC.turnHandlerDuration]) {
      const histogram = latest(name)!;
      expect(histogram).toMatchObject({ kind: "histogram", unit: "s" });
      expect(point(histogram, { "troupe.tenant.id": "acme", "troupe.agent.type": "planner" })!.count).toBe(3);
      expect(point(histogram, { "troupe.tenant.id": "acme" })!.explicitBounds).toEqual(TURN_DURATION_BUCKETS);
    }
    expect(point(latest(METRIC.llmBudgetRejections), { "troupe.tenant.id": "broke", "troupe.agent.type": "planner" })!.value).toBe(1);
    expect(point(latest(METRIC.quotaRejections), { "troupe.tenant.id": "limited", "troupe.agent.type": "echo", "troupe.quota.kind": "messages_per_second" })!.value).toBe(1);
  });
});

describe("metrics switched off or not configured", () => {
  it("OTEL_METRICS_EXPORTER=none sends no metrics, though an endpoint is set", async () => {
    setEnv({ OTEL_METRICS_EXPORTER: "none", OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: `${receiverUrl}/v1/metrics`, OTEL_METRIC_EXPORT_INTERVAL: "50" });
    const telemetry = await runWorkload();
    await new Promise((r) => setTimeout(r, 300));
    await telemetry.shutdown();
    expect(received.filter((r) => r.path.endsWith("/v1/traces")).length).toBeGreaterThan(0);
    expect(metricRequests()).toEqual([]);
  });

  it("without a metrics endpoint, metrics are not sent to the Troupe collector's URL (it has no /v1/metrics)", async () => {
    setEnv({ TROUPE_COLLECTOR_URL: receiverUrl, OTEL_METRIC_EXPORT_INTERVAL: "50" });
    delete process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
    delete process.env.OTEL_LOGS_EXPORTER;
    const telemetry = await runWorkload();
    await new Promise((r) => setTimeout(r, 300));
    await telemetry.shutdown();
    expect(received.filter((r) => r.path === "/v1/traces").length).toBeGreaterThan(0);
    expect(received.filter((r) => r.path === "/v1/logs").length).toBeGreaterThan(0);
    expect(metricRequests()).toEqual([]);
  });

  it("refuses an exporter it does not support, naming the variable", () => {
    expect(() => telemetryOptionsFromEnv({ OTEL_METRICS_EXPORTER: "prometheus" })).toThrow(/OTEL_METRICS_EXPORTER/);
    expect(() => telemetryOptionsFromEnv({ OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: "http://apm:4318/v1/metrics", OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: "grpc" })).toThrow(/OTEL_EXPORTER_OTLP_METRICS_PROTOCOL/);
    expect(() => telemetryOptionsFromEnv({ OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: "http://apm:4318/v1/metrics", OTEL_METRIC_EXPORT_INTERVAL: "soon" })).toThrow(/OTEL_METRIC_EXPORT_INTERVAL/);
  });
});
