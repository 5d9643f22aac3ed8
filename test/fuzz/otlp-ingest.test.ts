// Fuzzing POST /v1/traces: thousands of generated, hostile and mutated OTLP bodies (JSON and
// protobuf, plain and gzip) through the collector's real HTTP app. Every answer is 2xx or 4xx with a
// body the client can read, accepted rows always belong to the key's tenant, and memory stays bounded.
// The bulk runs in-process (app.request); a sample goes over real HTTP into the durable pipeline.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { gzipSync } from "node:zlib";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CollectorMetrics,
  IngestPipeline,
  createCollectorApp,
  listen,
  type RunningServer,
  type SpanRow,
} from "@troupe/collector";
import { MemorySpanStore, StaticKeyAuthenticator } from "@troupe/collector/testing";
import { cleanRequest, genRequest, mutate, mutation, toJson, toProtobuf } from "./otlp-arbitraries.js";
import { errorStatus } from "../support/otlp-error-status.js";

// A full GC before each heap reading, so growth means retained memory, not garbage.
setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;
function heapMb(): number {
  gc();
  return process.memoryUsage().heapUsed / 1024 / 1024;
}

const KEY = "trp_ingest_fuzzkeyfuzzkeyfuzzkey";
const SERVICE_KEY = "trp_service_fuzzkeyfuzzkeyfuzzkey";
const authenticator = new StaticKeyAuthenticator({
  [KEY]: { kind: "tenant-ingest", keyId: "k1", tenantId: "acme" },
  [SERVICE_KEY]: { kind: "service-ingest", keyId: "k2", allowedTenants: ["acme", "globex"] },
});
const accepted: SpanRow[] = [];
const statuses = new Map<number, number>();
const app = createCollectorApp({
  authenticator,
  sink: {
    accept: async (rows) => {
      for (const r of rows) if (accepted.length < 10_000) accepted.push(r);
    },
  },
  metrics: new CollectorMetrics(),
  store: new MemorySpanStore(),
  limits: { maxBodyBytes: 512 * 1024 },
});

const body = fc.oneof(
  { weight: 2, arbitrary: cleanRequest.map((r) => ({ format: "json" as const, bytes: new Uint8Array(Buffer.from(toJson(r))) })) },
  { weight: 2, arbitrary: cleanRequest.map((r) => ({ format: "protobuf" as const, bytes: toProtobuf(r) })) },
  { weight: 4, arbitrary: genRequest.map((r) => ({ format: "json" as const, bytes: new Uint8Array(Buffer.from(toJson(r))) })) },
  { weight: 4, arbitrary: genRequest.map((r) => ({ format: "protobuf" as const, bytes: toProtobuf(r) })) },
  { weight: 2, arbitrary: fc.tuple(genRequest, fc.array(mutation, { minLength: 1, maxLength: 4 })).map(([r, m]) => ({ format: "json" as const, bytes: mutate(Buffer.from(toJson(r)), m) })) },
  { weight: 3, arbitrary: fc.tuple(genRequest, fc.array(mutation, { minLength: 1, maxLength: 4 })).map(([r, m]) => ({ format: "protobuf" as const, bytes: mutate(toProtobuf(r), m) })) },
  { weight: 1, arbitrary: fc.jsonValue().map((v) => ({ format: "json" as const, bytes: new Uint8Array(Buffer.from(JSON.stringify(v) ?? "")) })) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 2048 }).map((b) => ({ format: "protobuf" as const, bytes: b })) },
);

const request = fc.record({
  body,
  gzip: fc.boolean(),
  service: fc.boolean(),
  contentType: fc.oneof({ weight: 10, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.constantFrom("text/plain", "application/json; charset=utf-8", "application/x-protobuf;x=1", "", "APPLICATION/JSON") }),
});

type Req = typeof request extends fc.Arbitrary<infer R> ? R : never;

function contentTypeOf(r: Req): string {
  return r.contentType ?? (r.body.format === "json" ? "application/json" : "application/x-protobuf");
}

function init(r: Req): RequestInit {
  const contentType = contentTypeOf(r);
  const payload = r.gzip ? gzipSync(r.body.bytes) : r.body.bytes;
  return {
    method: "POST",
    headers: { "content-type": contentType, authorization: `Bearer ${r.service ? SERVICE_KEY : KEY}`, ...(r.gzip ? { "content-encoding": "gzip" } : {}) },
    body: payload as Uint8Array<ArrayBuffer>,
  };
}

const DAY_MS = 86_400_000;

/** A stored row can be read back: non-zero ids, a start time inside the window ingest keeps (README). */
function expectReadable(row: SpanRow): void {
  expect(row.traceId).not.toBe("0".repeat(32));
  expect(row.spanId).not.toBe("0".repeat(16));
  const startMs = Number(row.startTimeUnixNano) / 1e6;
  expect(startMs).toBeGreaterThan(Date.now() - 3650 * DAY_MS);
  expect(startMs).toBeLessThanOrEqual(Date.now() + 10 * 60_000);
}

/** The invariants of one answer: 2xx/4xx, a readable body, rows only for tenants the key may write, and only readable rows. */
async function check(res: Response, r: Req, before: number): Promise<void> {
  statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
  const text = Buffer.from(await res.arrayBuffer());
  if (res.status >= 500) throw new Error(`answered ${res.status}: ${text.toString("utf8").slice(0, 200)}`);
  expect(res.status === 200 || (res.status >= 400 && res.status < 500)).toBe(true);
  if (res.status !== 200) {
    const status = errorStatus(res, contentTypeOf(r), text);
    expect(status.code).toBeGreaterThan(0);
    expect(status.message.length).toBeGreaterThan(0);
    expect(accepted.length).toBe(before);
  }
  for (const row of accepted.slice(before)) {
    expect(r.service ? ["acme", "globex"] : ["acme"]).toContain(row.tenantId);
    expect(row.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(row.spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(Object.keys(row.attributes)).not.toContain("prompt.text");
    expectReadable(row);
  }
}

describe("fuzz: OTLP ingest", () => {
  it("thousands of generated and mutated bodies through the HTTP app: only 2xx/4xx, tenant kept, memory bounded", async () => {
    const heapBefore = heapMb();
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        const before = accepted.length;
        const res = await app.request("/v1/traces", init(r));
        await check(res, r, before);
      }),
      { numRuns: 4000 },
    );
    const heapGrowthMb = heapMb() - heapBefore;
    console.log(`ingest fuzz: statuses ${JSON.stringify(Object.fromEntries(statuses))}, rows accepted ${accepted.length}, heap growth after GC ${heapGrowthMb.toFixed(1)} MB`);
    // Both kinds of answer were exercised, and nothing was kept past the requests.
    expect(statuses.get(200) ?? 0).toBeGreaterThan(100);
    expect(statuses.get(400) ?? 0).toBeGreaterThan(100);
    // The accepted rows themselves are kept (at most 10,000, a few MB); nothing else may pile up.
    expect(heapGrowthMb).toBeLessThan(64);
  }, 60_000);
});

describe("fuzz: OTLP ingest over real HTTP into the durable pipeline", () => {
  let dir: string;
  let server: RunningServer;
  let pipeline: IngestPipeline;
  const store = new MemorySpanStore();
  const metrics = new CollectorMetrics();

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "troupe-fuzz-ingest-"));
    pipeline = await IngestPipeline.start({ store, metrics, spool: { dir: join(dir, "spool"), maxBytes: 64 * 1024 * 1024 }, writer: { maxBatchDelayMs: 10 } });
    server = await listen(createCollectorApp({ authenticator, sink: pipeline, metrics, store, limits: { maxBodyBytes: 512 * 1024 } }), 0, "127.0.0.1");
  });

  afterAll(async () => {
    await server?.close();
    await pipeline?.close(2_000);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("a sample of the same bodies over HTTP: only 2xx/4xx, every accepted span stored once, server alive", async () => {
    let acknowledged = 0;
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        const res = await fetch(`${server.url}/v1/traces`, init(r));
        const text = await res.text();
        if (res.status >= 500) throw new Error(`answered ${res.status}: ${text.slice(0, 200)}`);
        if (res.status === 200) acknowledged++;
      }),
      { numRuns: 300 },
    );
    expect(acknowledged).toBeGreaterThan(10);
    // Everything the pipeline accepted reaches the store (exactly once per batch).
    const deadline = Date.now() + 10_000;
    while (pipeline.health().queueDepthSpans > 0 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20));
    expect(pipeline.health().queueDepthSpans).toBe(0);
    expect(store.rows.length).toBe(metrics.spansAccepted.value([]));
    expect(store.rows.length).toBeGreaterThan(0);
    expect(store.rows.every((r) => r.tenantId === "acme" || r.tenantId === "globex")).toBe(true);
    for (const row of store.rows) expectReadable(row);
    // Unreadable spans were refused and counted, not stored.
    expect(["invalid_trace_id", "invalid_span_id", "missing_start_time", "time_in_future", "time_expired"].some((reason) => metrics.spansRejected.value([reason]) > 0)).toBe(true);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  }, 60_000);
});
