import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { otlpProtoTypes } from "../ingest/otlp-proto-root.js";
import { CollectorMetrics } from "../metrics/collector-metrics.js";
import { IngestPipeline } from "../pipeline/ingest-pipeline.js";
import { MemorySpanStore } from "../testing/memory-span-store.js";
import { StaticKeyAuthenticator } from "../testing/static-key-authenticator.js";
import { createCollectorApp } from "./app.js";
import { EXPECTED_GRPC_CODE, decodeStatus } from "./otlp-status.test-helper.js";

const TRACE = "0af7651916cd43dd8448eb211c80319c";
const SPAN = "b7ad6b7169203331";
const NOW_NS = "1700000000000000000";

const auth = new StaticKeyAuthenticator({
  "ingest-acme": { kind: "tenant-ingest", keyId: "k1", tenantId: "acme" },
  "console-acme": { kind: "console", keyId: "k2", tenantId: "acme" },
});

let dir: string;
let store: MemorySpanStore;
let metrics: CollectorMetrics;
let pipeline: IngestPipeline;
let app: ReturnType<typeof createCollectorApp>;

async function setup(spoolMaxBytes = 16 * 1024 * 1024): Promise<void> {
  store = new MemorySpanStore();
  metrics = new CollectorMetrics();
  pipeline = await IngestPipeline.start({ store, metrics, spool: { dir, maxBytes: spoolMaxBytes }, writer: { maxBatchDelayMs: 5 } });
  app = createCollectorApp({ authenticator: auth, sink: pipeline, metrics, store, pipelineHealth: () => pipeline.health() });
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "troupe-app-"));
  await setup();
});

afterEach(async () => {
  await pipeline.close(1000);
  await rm(dir, { recursive: true, force: true });
});

function jsonSpan(overrides: Record<string, unknown> = {}, i = 0): Record<string, unknown> {
  return {
    traceId: TRACE,
    spanId: (BigInt("0x" + SPAN) + BigInt(i)).toString(16).padStart(16, "0"),
    name: "chat",
    kind: 3,
    startTimeUnixNano: NOW_NS,
    endTimeUnixNano: "1700000000250000000",
    attributes: [{ key: "gen_ai.request.model", value: { stringValue: "m" } }],
    ...overrides,
  };
}

function jsonBody(spans: Record<string, unknown>[], resourceAttributes: unknown[] = [{ key: "service.name", value: { stringValue: "svc" } }]): string {
  return JSON.stringify({ resourceSpans: [{ resource: { attributes: resourceAttributes }, scopeSpans: [{ scope: { name: "s" }, spans }] }] });
}

function protoBody(spans: Record<string, unknown>[]): Uint8Array {
  const type = otlpProtoTypes().ExportTraceServiceRequest;
  const toBytes = (s: Record<string, unknown>): Record<string, unknown> => ({
    ...s,
    traceId: Buffer.from(String(s["traceId"]), "hex"),
    spanId: Buffer.from(String(s["spanId"]), "hex"),
  });
  return type.encode(type.fromObject({ resourceSpans: [{ resource: { attributes: [{ key: "service.name", value: { stringValue: "svc" } }] }, scopeSpans: [{ spans: spans.map(toBytes) }] }] })).finish();
}

function post(body: NonNullable<RequestInit["body"]>, headers: Record<string, string> = {}): Promise<Response> {
  return Promise.resolve(
    app.request("/v1/traces", { method: "POST", body, headers: { authorization: "Bearer ingest-acme", "content-type": "application/json", ...headers } }),
  );
}

/** A JSON error of the rest of the app (404s, the query API): `{ error: { code, message } }` and nothing else. */
async function expectApiError(res: Response, status: number, code: string, messagePart: RegExp): Promise<void> {
  expect(res.status).toBe(status);
  expect(await res.json()).toEqual({ error: { code, message: expect.stringMatching(messagePart) } });
}

/** An OTLP error answer: a protobuf google.rpc.Status to a protobuf request, else its JSON mapping beside the collector's `error`. */
async function expectError(res: Response, status: number, code: string, messagePart?: RegExp): Promise<void> {
  expect(res.status).toBe(status);
  if (res.headers.get("content-type") === "application/x-protobuf") {
    const decoded = decodeStatus(new Uint8Array(await res.arrayBuffer()));
    expect(decoded.code).toBe(EXPECTED_GRPC_CODE[code]);
    if (messagePart) expect(decoded.message).toMatch(messagePart);
    return;
  }
  const body = (await res.json()) as { code: number; message: string; error: { code: string; message: string } };
  expect(body.error.code).toBe(code);
  expect(body.code).toBe(EXPECTED_GRPC_CODE[code]);
  expect(body.message).toBe(body.error.message);
  if (messagePart) expect(body.error.message).toMatch(messagePart);
}

describe("POST /v1/traces: accepted input", () => {
  it("answers {} for JSON and stores the span after the answer (durably spooled first)", async () => {
    const res = await post(jsonBody([jsonSpan()]));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({});
    expect(pipeline.health().spoolRecords + store.rows.length).toBeGreaterThan(0);
    await pipeline.close(2000);
    expect(store.rows).toHaveLength(1);
    expect(store.rows[0]).toMatchObject({ tenantId: "acme", traceId: TRACE, spanId: SPAN, durationNs: 250_000_000, kind: 3, serviceName: "svc" });
    await setup();
  });

  it("answers a protobuf ExportTraceServiceResponse to a protobuf request, with partial success", async () => {
    const body = protoBody([jsonSpan(), jsonSpan({ attributes: [{ key: "troupe.tenant.id", value: { stringValue: "globex" } }] }, 1)]);
    const res = await post(body, { "content-type": "application/x-protobuf" });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/x-protobuf");
    const decoded = otlpProtoTypes().ExportTraceServiceResponse.toObject(
      otlpProtoTypes().ExportTraceServiceResponse.decode(new Uint8Array(await res.arrayBuffer())),
      { longs: String },
    ) as { partialSuccess: { rejectedSpans: string; errorMessage: string } };
    expect(decoded.partialSuccess.rejectedSpans).toBe("1");
    expect(decoded.partialSuccess.errorMessage).toMatch(/tenant_mismatch/);
  });

  it("reports partial success in JSON with rejectedSpans as a string", async () => {
    const res = await post(jsonBody([jsonSpan({ attributes: [{ key: "troupe.tenant.id", value: { stringValue: "NOT valid!" } }] })]));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ partialSuccess: { rejectedSpans: "1", errorMessage: expect.stringMatching(/invalid_tenant/) } });
  });

  it("accepts int64 as numbers or strings, base64 ids, snake_case keys and enum names", async () => {
    const span = {
      trace_id: Buffer.from(TRACE, "hex").toString("base64"),
      span_id: Buffer.from(SPAN, "hex").toString("base64"),
      name: "x",
      kind: "SPAN_KIND_PRODUCER",
      start_time_unix_nano: 1_700_000_000_000_000_000,
      end_time_unix_nano: "1700000000000001000",
      status: { code: "STATUS_CODE_ERROR" },
      attributes: [{ key: "gen_ai.usage.input_tokens", value: { intValue: "9007199254740993" } }],
    };
    expect((await post(jsonBody([span]))).status).toBe(200);
    await pipeline.close(2000);
    expect(store.rows[0]).toMatchObject({ traceId: TRACE, spanId: SPAN, kind: 4, statusCode: 2, startTimeUnixNano: "1700000000000000000", attributes: { "gen_ai.usage.input_tokens": "9007199254740993" } });
    await setup();
  });

  it("caps huge attribute values and drops attributes outside the allow-list, counting both", async () => {
    const res = await post(jsonBody([jsonSpan({ attributes: [{ key: "gen_ai.request.model", value: { stringValue: "m".repeat(100_000) } }, { key: "llm.prompt", value: { stringValue: "secret" } }] })]));
    expect(res.status).toBe(200);
    await pipeline.close(2000);
    expect(store.rows[0]!.attributes).toEqual({ "gen_ai.request.model": "m".repeat(256) });
    expect(metrics.attributesDropped.value(["span"])).toBe(1);
    expect(metrics.attributesTruncated.value()).toBe(1);
    await setup();
  });

  it("accepts gzip bodies", async () => {
    const res = await post(gzipSync(jsonBody([jsonSpan()])), { "content-encoding": "gzip" });
    expect(res.status).toBe(200);
  });
});

describe("POST /v1/traces: bad input answers 4xx naming the problem", () => {
  it("401 without a key, 401 with an unknown key, 403 with a console key", async () => {
    await expectError(await app.request("/v1/traces", { method: "POST", body: "{}", headers: { "content-type": "application/json" } }), 401, "unauthenticated");
    await expectError(await post("{}", { authorization: "Bearer nope" }), 401, "unauthenticated");
    await expectError(await post("{}", { authorization: "Bearer console-acme" }), 403, "forbidden");
  });

  it("415 for other media types and encodings", async () => {
    await expectError(await post("x", { "content-type": "text/plain" }), 415, "unsupported_media_type", /text\/plain/);
    await expectError(await post("x", { "content-encoding": "br" }), 415, "unsupported_media_type", /br/);
  });

  it("400 for truncated protobuf, naming it", async () => {
    const body = protoBody([jsonSpan(), jsonSpan({}, 1)]);
    const res = await post(body.subarray(0, body.length - 7), { "content-type": "application/x-protobuf" });
    expect(res.headers.get("content-type")).toBe("application/x-protobuf");
    await expectError(res, 400, "bad_request", /protobuf/);
  });

  it("400 for a wrong id length in protobuf", async () => {
    const type = otlpProtoTypes().ExportTraceServiceRequest;
    const body = type.encode(type.fromObject({ resourceSpans: [{ scopeSpans: [{ spans: [{ traceId: Buffer.alloc(5), spanId: Buffer.alloc(8) }] }] }] })).finish();
    const res = await post(body, { "content-type": "application/x-protobuf" });
    expect(res.headers.get("content-type")).toBe("application/x-protobuf");
    await expectError(res, 400, "bad_request", /traceId: must be 16 bytes; got 5/);
  });

  it("400 for invalid JSON, wrong types and bad hex ids, with the path", async () => {
    await expectError(await post("{not json"), 400, "bad_request", /not valid JSON/);
    await expectError(await post(JSON.stringify({ resourceSpans: {} })), 400, "bad_request", /resourceSpans: expected an array/);
    await expectError(await post(jsonBody([jsonSpan({ traceId: 42 })])), 400, "bad_request", /spans\[0\]\.traceId: expected a hex string/);
    await expectError(await post(jsonBody([jsonSpan({ spanId: "zz" + SPAN.slice(2) })])), 400, "bad_request", /spanId: expected 16 hex/);
    await expectError(await post(jsonBody([jsonSpan({ startTimeUnixNano: "-5" })])), 400, "bad_request", /startTimeUnixNano/);
    await expectError(await post(jsonBody([jsonSpan({ kind: 9 })])), 400, "bad_request", /kind/);
    await expectError(await post(jsonBody([jsonSpan({ attributes: [{ key: "a", value: { intValue: true } }] })])), 400, "bad_request", /intValue: wrong type boolean/);
  });

  it("400 for attribute values nested too deeply (JSON and protobuf)", async () => {
    let value: Record<string, unknown> = { stringValue: "leaf" };
    for (let i = 0; i < 40; i++) value = { arrayValue: { values: [value] } };
    await expectError(await post(jsonBody([jsonSpan({ attributes: [{ key: "a", value }] })])), 400, "bad_request", /nested deeper/);
    const type = otlpProtoTypes().ExportTraceServiceRequest;
    const pb = type.encode(type.fromObject({ resourceSpans: [{ scopeSpans: [{ spans: [{ traceId: Buffer.from(TRACE, "hex"), spanId: Buffer.from(SPAN, "hex"), attributes: [{ key: "a", value }] }] }] }] })).finish();
    const res = await post(pb, { "content-type": "application/x-protobuf" });
    expect(res.headers.get("content-type")).toBe("application/x-protobuf");
    await expectError(res, 400, "bad_request", /nested/);
  });

  it("413 for more spans than a request may carry (10k-span batch)", async () => {
    const spans = Array.from({ length: 10_000 }, (_, i) => jsonSpan({ attributes: [] }, i));
    await expectError(await post(jsonBody(spans)), 413, "payload_too_large", /10000 spans/);
  });

  it("413 for an oversized body and for a gzip bomb", async () => {
    await expectError(await post("x".repeat(9 * 1024 * 1024)), 413, "payload_too_large");
    const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024));
    expect(bomb.length).toBeLessThan(1024 * 1024);
    await expectError(await post(bomb, { "content-encoding": "gzip" }), 413, "payload_too_large", /decompressed/);
    await expectError(await post(Buffer.from("not gzip"), { "content-encoding": "gzip" }), 400, "bad_request", /gzip/);
  });

  it("never answers 5xx to arbitrary bytes or arbitrary JSON", async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), async (bytes) => {
        const res = await post(bytes, { "content-type": "application/x-protobuf" });
        expect([200, 400, 413]).toContain(res.status);
      }),
      { numRuns: 150 },
    );
    await fc.assert(
      fc.asyncProperty(fc.jsonValue({ maxDepth: 6 }), async (value) => {
        const res = await post(JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans: [value] }] }] }));
        expect([200, 400]).toContain(res.status);
      }),
      { numRuns: 150 },
    );
  });
});

describe("backpressure, health and metrics", () => {
  it("429 with Retry-After when one key floods past its rate; other keys are unaffected", async () => {
    const limited = createCollectorApp({
      authenticator: new StaticKeyAuthenticator({
        flood: { kind: "tenant-ingest", keyId: "f", tenantId: "acme" },
        calm: { kind: "tenant-ingest", keyId: "c", tenantId: "acme" },
      }),
      sink: pipeline,
      metrics,
      store,
      limits: { maxSpansPerRequest: 10 },
      rateLimit: { spansPerSecond: 1, burstSpans: 10 },
    });
    const send = (key: string): Promise<Response> =>
      Promise.resolve(limited.request("/v1/traces", { method: "POST", body: jsonBody(Array.from({ length: 10 }, (_, i) => jsonSpan({}, i))), headers: { authorization: `Bearer ${key}`, "content-type": "application/json" } }));
    expect((await send("flood")).status).toBe(200);
    const refused = await send("flood");
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    await expectError(refused, 429, "rate_limited", /spans\/s/);
    expect((await send("calm")).status).toBe(200);
  });

  it("503 with Retry-After once the spool is full while the store is down; ingest resumes after", async () => {
    await pipeline.close(0);
    await rm(dir, { recursive: true, force: true });
    await setup(64 * 1024);
    store.failWith = new Error("store down");
    let status = 200;
    let sent = 0;
    while (status === 200 && sent < 200) {
      const res = await post(jsonBody(Array.from({ length: 20 }, (_, i) => jsonSpan({}, sent * 20 + i))));
      status = res.status;
      if (status === 200) sent++;
      else {
        expect(res.headers.get("retry-after")).toMatch(/^\d+$/);
        await expectError(res, 503, "overloaded", /spool is full/);
      }
    }
    expect(status).toBe(503);
    expect((await app.request("/readyz")).status).toBe(503);
    store.failWith = undefined;
    await pipeline.close(5000);
    expect(store.rows).toHaveLength(sent * 20);
    await setup();
  });

  it("serves /healthz, /readyz, /metrics and a JSON 404", async () => {
    expect(await (await app.request("/healthz")).json()).toEqual({ status: "ok" });
    const ready = await app.request("/readyz");
    expect(ready.status).toBe(200);
    await post(jsonBody([jsonSpan({ attributes: [{ key: "x.secret", value: { stringValue: "s" } }] })]));
    await post("{bad");
    const text = await (await app.request("/metrics")).text();
    expect(text).toMatch(/troupe_collector_spans_accepted_total 1/);
    expect(text).toMatch(/troupe_collector_spans_decoded_total\{path="general"\} 1/);
    expect(text).toMatch(/troupe_collector_attributes_dropped_total\{scope="span"\} 1/);
    expect(text).toMatch(/troupe_collector_ingest_requests_total\{code="bad_request"\} 1/);
    expect(text).toMatch(/troupe_collector_store_insert_duration_seconds_bucket/);
    expect(text).toMatch(/troupe_collector_spool_bytes \d+/);
    await expectApiError(await app.request("/nope"), 404, "not_found", /GET \/nope/);
    store.failWith = new Error("down");
    const notReady = await app.request("/readyz");
    expect(notReady.status).toBe(503);
    expect(await notReady.json()).toMatchObject({ status: "not_ready", checks: { store: { ok: false } } });
    store.failWith = undefined;
  });

  it("sends security headers on every answer, errors included", async () => {
    for (const res of [await app.request("/healthz"), await app.request("/nope"), await post("{bad")]) {
      expect(res.headers.get("x-content-type-options")).toBe("nosniff");
      expect(res.headers.get("x-frame-options")).toBe("DENY");
      expect(res.headers.get("content-security-policy")).toContain("default-src 'none'");
      expect(res.headers.get("referrer-policy")).toBe("no-referrer");
    }
  });

  it("limits query API requests per key with 429 and Retry-After; other keys keep their share", async () => {
    const { Hono } = await import("hono");
    const routes = new Hono().get("/ping", (c) => c.json({ ok: true }));
    const limited = createCollectorApp({ authenticator: auth, sink: pipeline, metrics, store, apiRoutes: [routes], apiRateLimit: { requestsPerSecond: 1, burst: 3 } });
    const call = (key: string) => limited.request("/api/v1/ping", { headers: { authorization: `Bearer ${key}` } });
    for (let i = 0; i < 3; i++) expect((await call("console-acme")).status).toBe(200);
    const refused = await call("console-acme");
    await expectApiError(refused, 429, "rate_limited", /at most 1 per second/);
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect((await call("another-key")).status).toBe(200);
  });
});
