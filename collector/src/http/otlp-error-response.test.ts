import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Hono } from "hono";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { otlpProtoTypes } from "../ingest/otlp-proto-root.js";
import { CollectorMetrics } from "../metrics/collector-metrics.js";
import { IngestPipeline } from "../pipeline/ingest-pipeline.js";
import { MemorySpanStore } from "../testing/memory-span-store.js";
import { StaticKeyAuthenticator } from "../testing/static-key-authenticator.js";
import { createCollectorApp } from "./app.js";
import { otlpErrorResponse } from "./otlp-error-response.js";
import { EXPECTED_GRPC_CODE, decodeStatus } from "./otlp-status.test-helper.js";

const TRACE = "0af7651916cd43dd8448eb211c80319c";
const MAX_BODY_BYTES = 64 * 1024;
const auth = new StaticKeyAuthenticator({
  "ingest-acme": { kind: "tenant-ingest", keyId: "k1", tenantId: "acme" },
  "console-acme": { kind: "console", keyId: "k2", tenantId: "acme" },
});

type Encoding = "protobuf" | "json";
type App = ReturnType<typeof createCollectorApp>;

let dir: string;
let store: MemorySpanStore;
let pipeline: IngestPipeline;
let app: App;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "troupe-otlp-error-"));
  store = new MemorySpanStore();
  const metrics = new CollectorMetrics();
  pipeline = await IngestPipeline.start({ store, metrics, spool: { dir, maxBytes: 64 * 1024 }, writer: { maxBatchDelayMs: 5 } });
  app = createCollectorApp({
    authenticator: auth,
    sink: pipeline,
    metrics,
    store,
    limits: { maxBodyBytes: MAX_BODY_BYTES },
    // Logs refused whole before any record is stored: the sink is never reached.
    usage: { sink: { accept: () => Promise.reject(new Error("not reached")) }, retentionDaysOf: () => 30 },
  });
});

afterEach(async () => {
  store.failWith = undefined;
  await pipeline.close(1000);
  await rm(dir, { recursive: true, force: true });
});

/** A valid export request of `count` spans, starting at span number `first`. */
function traces(encoding: Encoding, count: number, first = 0): Uint8Array | string {
  const spans = Array.from({ length: count }, (_, i) => ({
    traceId: TRACE,
    spanId: (first + i + 1).toString(16).padStart(16, "0"),
    name: "chat",
    startTimeUnixNano: "1700000000000000000",
    endTimeUnixNano: "1700000000250000000",
  }));
  const request = { resourceSpans: [{ resource: { attributes: [{ key: "service.name", value: { stringValue: "svc" } }] }, scopeSpans: [{ spans }] }] };
  if (encoding === "json") return JSON.stringify(request);
  const type = otlpProtoTypes().ExportTraceServiceRequest;
  const withBytes = { resourceSpans: [{ ...request.resourceSpans[0], scopeSpans: [{ spans: spans.map((s) => ({ ...s, traceId: Buffer.from(s.traceId, "hex"), spanId: Buffer.from(s.spanId, "hex") })) }] }] };
  return type.encode(type.fromObject(withBytes)).finish();
}

function post(target: App, path: string, encoding: Encoding, body: Uint8Array | string, headers: Record<string, string> = {}): Promise<Response> {
  const contentType = encoding === "protobuf" ? "application/x-protobuf" : "application/json";
  return Promise.resolve(
    target.request(path, { method: "POST", body: body as NonNullable<RequestInit["body"]>, headers: { authorization: "Bearer ingest-acme", "content-type": contentType, ...headers } }),
  );
}

/** Asserts an OTLP error answer: the HTTP status, and a google.rpc.Status in the request's encoding. */
async function expectStatus(res: Response, encoding: Encoding, httpStatus: number, code: string, message: RegExp): Promise<void> {
  expect(res.status).toBe(httpStatus);
  const grpcCode = EXPECTED_GRPC_CODE[code];
  expect(grpcCode).toBeDefined();
  if (encoding === "protobuf") {
    expect(res.headers.get("content-type")).toBe("application/x-protobuf");
    const status = decodeStatus(new Uint8Array(await res.arrayBuffer()));
    expect(status).toEqual({ code: grpcCode, message: expect.stringMatching(message), details: [] });
  } else {
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    const body = (await res.json()) as { message: string };
    // The Status JSON mapping, and the collector's own error object beside it, with the same message.
    expect(body).toEqual({ code: grpcCode, message: expect.stringMatching(message), error: { code, message: body.message } });
  }
}

describe.each(["protobuf", "json"] as const)("POST /v1/traces answers errors as a google.rpc.Status (%s request)", (encoding) => {
  it("400 INVALID_ARGUMENT for a malformed body, naming the problem", async () => {
    const broken = encoding === "protobuf" ? (traces("protobuf", 2) as Uint8Array).subarray(0, 40) : "{not json";
    const res = await post(app, "/v1/traces", encoding, broken);
    await expectStatus(res, encoding, 400, "bad_request", encoding === "protobuf" ? /protobuf/ : /not valid JSON/);
    expect(res.headers.get("retry-after")).toBeNull();
  });

  it("401 UNAUTHENTICATED without a key or with an unknown one (refused before the route reads the body)", async () => {
    await expectStatus(await post(app, "/v1/traces", encoding, traces(encoding, 1), { authorization: "" }), encoding, 401, "unauthenticated", /missing API key/);
    await expectStatus(await post(app, "/v1/traces", encoding, traces(encoding, 1), { authorization: "Bearer nope" }), encoding, 401, "unauthenticated", /unknown or revoked/);
  });

  it("403 PERMISSION_DENIED for a key of another kind", async () => {
    const res = await post(app, "/v1/traces", encoding, traces(encoding, 1), { authorization: "Bearer console-acme" });
    await expectStatus(res, encoding, 403, "forbidden", /a console key cannot use this endpoint/);
  });

  it("413 INVALID_ARGUMENT for a body over the bound", async () => {
    const big = encoding === "protobuf" ? new Uint8Array(MAX_BODY_BYTES + 1) : " ".repeat(MAX_BODY_BYTES + 1);
    await expectStatus(await post(app, "/v1/traces", encoding, big), encoding, 413, "payload_too_large", /exceeds 65536 bytes/);
  });

  it("404 NOT_FOUND for metrics, saying where they should go", async () => {
    const res = await post(app, "/v1/metrics", encoding, encoding === "json" ? "{}" : new Uint8Array());
    await expectStatus(res, encoding, 404, "not_found", /does not store metrics: send them to your APM with OTEL_EXPORTER_OTLP_METRICS_ENDPOINT/);
  });

  it("415 INVALID_ARGUMENT for an unsupported Content-Encoding", async () => {
    const res = await post(app, "/v1/traces", encoding, traces(encoding, 1), { "content-encoding": "br" });
    await expectStatus(res, encoding, 415, "unsupported_media_type", /Content-Encoding "br" is not supported/);
  });

  it("429 RESOURCE_EXHAUSTED with Retry-After for a key over its rate", async () => {
    const limited = createCollectorApp({ authenticator: auth, sink: pipeline, metrics: new CollectorMetrics(), store, limits: { maxSpansPerRequest: 10 }, rateLimit: { spansPerSecond: 1, burstSpans: 10 } });
    expect((await post(limited, "/v1/traces", encoding, traces(encoding, 10))).status).toBe(200);
    const refused = await post(limited, "/v1/traces", encoding, traces(encoding, 10, 10));
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    await expectStatus(refused, encoding, 429, "rate_limited", /over its ingest rate of 1 spans\/s/);
  });

  it("503 UNAVAILABLE with Retry-After once the spool is full", async () => {
    store.failWith = new Error("store down");
    let res = await post(app, "/v1/traces", encoding, traces(encoding, 20));
    for (let sent = 1; res.status === 200 && sent < 200; sent++) res = await post(app, "/v1/traces", encoding, traces(encoding, 20, sent * 20));
    expect(res.headers.get("retry-after")).toMatch(/^\d+$/);
    await expectStatus(res, encoding, 503, "overloaded", /spool is full/);
  });
});

describe.each(["protobuf", "json"] as const)("POST /v1/logs answers errors as a google.rpc.Status (%s request)", (encoding) => {
  it("400 for a malformed body, 401 without a valid key, 403 for a console key, 415 for gzip's rivals", async () => {
    const broken = encoding === "protobuf" ? new Uint8Array([0x0a, 0x7f, 1]) : "{not json";
    await expectStatus(await post(app, "/v1/logs", encoding, broken), encoding, 400, "bad_request", encoding === "protobuf" ? /ExportLogsServiceRequest/ : /not valid JSON/);
    await expectStatus(await post(app, "/v1/logs", encoding, "{}", { authorization: "Bearer nope" }), encoding, 401, "unauthenticated", /unknown or revoked/);
    await expectStatus(await post(app, "/v1/logs", encoding, "{}", { authorization: "Bearer console-acme" }), encoding, 403, "forbidden", /console key/);
    await expectStatus(await post(app, "/v1/logs", encoding, "{}", { "content-encoding": "br" }), encoding, 415, "unsupported_media_type", /br/);
  });
});

describe("OTLP error answers: the edges", () => {
  it("answers JSON to a request that is neither JSON nor protobuf, and accepts application/protobuf with parameters", async () => {
    const plain = await app.request("/v1/traces", { method: "POST", body: "x", headers: { authorization: "Bearer ingest-acme", "content-type": "text/plain" } });
    await expectStatus(plain, "json", 415, "unsupported_media_type", /text\/plain/);
    const proto = await app.request("/v1/traces", { method: "POST", body: "x", headers: { authorization: "Bearer nope", "content-type": "Application/Protobuf; charset=binary" } });
    await expectStatus(proto, "protobuf", 401, "unauthenticated", /unknown or revoked/);
  });

  it("answers an unexpected error 500 INTERNAL without revealing it", async () => {
    const failing = new Hono().onError((err, c) => otlpErrorResponse(c, err));
    failing.post("/v1/traces", () => {
      throw new Error("secret database password in a stack");
    });
    const res = await failing.request("/v1/traces", { method: "POST", body: "x", headers: { "content-type": "application/x-protobuf" } });
    expect(res.status).toBe(500);
    expect(decodeStatus(new Uint8Array(await res.arrayBuffer()))).toEqual({ code: EXPECTED_GRPC_CODE["internal"], message: "internal error", details: [] });
  });

  it("leaves the query API's JSON errors as they were", async () => {
    const res = await app.request("/api/v1/nothing", { headers: { authorization: "Bearer ingest-acme", "content-type": "application/x-protobuf" } });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: { code: "not_found", message: "no route for GET /api/v1/nothing" } });
  });
});
