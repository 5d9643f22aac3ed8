// Fuzzing POST /v1/logs: thousands of generated, hostile and mutated OTLP logs bodies (JSON and
// protobuf, plain and gzip) carrying usage records, through the collector's real HTTP app. Every
// answer is 2xx or 4xx with a body the client can read; a 200's partial success accounts for every
// refused record (its count is the sum of the reasons it names, and what was accepted plus what was
// refused is what was sent); accepted records meet the usage contract and belong to tenants the key
// may write. The bulk runs in-process (app.request); a sample goes over real HTTP into the durable
// pipeline and chDB, where every record id ends up stored once.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import fc from "fast-check";
import { JsonLogsSerializer, ProtobufLogsSerializer } from "@opentelemetry/otlp-transformer";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CollectorMetrics,
  UsagePipeline,
  createClickHouseUsageStore,
  createCollectorApp,
  listen,
  openClickHouse,
  type ClickHouseGateway,
  type RunningServer,
  type UsageRecordRow,
} from "@troupe/collector";
import { MemorySpanStore, StaticKeyAuthenticator } from "@troupe/collector/testing";
import { checkUsageRecord } from "@troupe/runtime";
import { mutate, mutation } from "./otlp-arbitraries.js";
import { genLogsRequest, logRecordCount, logsToJson, logsToProtobuf } from "./otlp-logs-arbitraries.js";
import { errorStatus } from "../support/otlp-error-status.js";

const KEY = "trp_ingest_fuzzkeyfuzzkeyfuzzkey";
const SERVICE_KEY = "trp_service_fuzzkeyfuzzkeyfuzzkey";
const authenticator = new StaticKeyAuthenticator({
  [KEY]: { kind: "tenant-ingest", keyId: "k1", tenantId: "acme" },
  [SERVICE_KEY]: { kind: "service-ingest", keyId: "k2", allowedTenants: ["acme", "globex"] },
});
const RETENTION_DAYS: Record<string, number> = { acme: 30, globex: 1 };
const retentionDaysOf = (tenant: string): number => RETENTION_DAYS[tenant] ?? 30;
const DAY_MS = 86_400_000;

const body = fc.oneof(
  { weight: 4, arbitrary: genLogsRequest.map((r) => ({ format: "json" as const, bytes: new Uint8Array(Buffer.from(logsToJson(r))), records: logRecordCount(r) })) },
  { weight: 4, arbitrary: genLogsRequest.map((r) => ({ format: "protobuf" as const, bytes: logsToProtobuf(r), records: logRecordCount(r) })) },
  {
    weight: 2,
    arbitrary: fc.tuple(genLogsRequest, fc.array(mutation, { minLength: 1, maxLength: 4 })).map(([r, m]) => ({ format: "json" as const, bytes: mutate(Buffer.from(logsToJson(r)), m), records: undefined })),
  },
  { weight: 3, arbitrary: fc.tuple(genLogsRequest, fc.array(mutation, { minLength: 1, maxLength: 4 })).map(([r, m]) => ({ format: "protobuf" as const, bytes: mutate(logsToProtobuf(r), m), records: undefined })) },
  { weight: 1, arbitrary: fc.jsonValue().map((v) => ({ format: "json" as const, bytes: new Uint8Array(Buffer.from(JSON.stringify(v) ?? "")), records: undefined })) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 2048 }).map((b) => ({ format: "protobuf" as const, bytes: b, records: undefined })) },
);

const request = fc.record({
  body,
  gzip: fc.boolean(),
  service: fc.boolean(),
  contentType: fc.oneof({ weight: 12, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.constantFrom("text/plain", "application/json; charset=utf-8", "application/x-protobuf;x=1", "") }),
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

/** The partial success of a 200 as the OTel exporters read it (their own deserializers); undefined when nothing was refused. */
function partialOf(res: Response, bytes: Buffer): { rejected: number; message: string } | undefined {
  const serializer = res.headers.get("content-type") === "application/x-protobuf" ? ProtobufLogsSerializer : JsonLogsSerializer;
  const { partialSuccess } = serializer.deserializeResponse(new Uint8Array(bytes));
  if (partialSuccess === undefined) return undefined;
  return { rejected: Number(partialSuccess.rejectedLogRecords ?? 0), message: partialSuccess.errorMessage ?? "" };
}

/**
 * The invariants of one answer: 2xx/4xx with a readable body; a partial success whose count is the
 * sum of the reasons it names and, for an unmutated body, accepted + refused = sent; accepted rows
 * valid, of a tenant the key may write, within the clock and retention bounds.
 */
async function check(res: Response, r: Req, accepted: readonly UsageRecordRow[], nowMs: number): Promise<void> {
  const bytes = Buffer.from(await res.arrayBuffer());
  if (res.status >= 500) throw new Error(`answered ${res.status}: ${bytes.toString("utf8").slice(0, 200)}`);
  expect(res.status === 200 || (res.status >= 400 && res.status < 500)).toBe(true);
  if (res.status !== 200) {
    const status = errorStatus(res, contentTypeOf(r), bytes);
    expect(status.code).toBeGreaterThan(0);
    expect(status.message.length).toBeGreaterThan(0);
    expect(accepted).toHaveLength(0);
    return;
  }
  const partial = partialOf(res, bytes);
  if (partial) {
    expect(partial.rejected).toBeGreaterThan(0);
    const head = new RegExp(`^${partial.rejected} log record\\(s\\) rejected: `);
    expect(partial.message).toMatch(head);
    // "<count> <reason> (<example>)" groups, separated by "; ": their counts add up to the total.
    const counts = [...partial.message.replace(head, "").matchAll(/(?:^|\); )(\d+) [a-z_]+ \(/g)].map((m) => Number(m[1]));
    expect(counts.reduce((a, b) => a + b, 0)).toBe(partial.rejected);
  }
  if (r.body.records !== undefined && r.contentType === undefined) expect(accepted.length + (partial?.rejected ?? 0)).toBe(r.body.records);
  for (const row of accepted) {
    expect(r.service ? ["acme", "globex"] : ["acme"]).toContain(row.tenant);
    const { serviceName: _s, retentionDays, ...record } = row;
    expect(checkUsageRecord(record)).toMatchObject({ ok: true });
    expect(retentionDays).toBe(retentionDaysOf(row.tenant));
    expect(row.timeMs).toBeLessThanOrEqual(nowMs + 5 * 60_000 + 5_000);
    expect(row.timeMs).toBeGreaterThanOrEqual(nowMs - retentionDays * DAY_MS - 5_000);
  }
}

describe("fuzz: OTLP logs ingest", () => {
  it("thousands of generated and mutated bodies through the HTTP app: only 2xx/4xx, partial success consistent, records valid", async () => {
    let accepted: UsageRecordRow[] = [];
    const statuses = new Map<number, number>();
    let acceptedTotal = 0;
    let rejectedTotal = 0;
    const app = createCollectorApp({
      authenticator,
      sink: { accept: async () => undefined },
      metrics: new CollectorMetrics(),
      store: new MemorySpanStore(),
      limits: { maxBodyBytes: 512 * 1024 },
      usage: { sink: { accept: async (rows) => void (accepted = rows) }, retentionDaysOf },
    });
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        accepted = [];
        const nowMs = Date.now();
        const res = await app.request("/v1/logs", init(r));
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        const seen = accepted;
        await check(res.clone(), r, seen, nowMs);
        acceptedTotal += seen.length;
        if (res.status === 200) rejectedTotal += partialOf(res, Buffer.from(await res.arrayBuffer()))?.rejected ?? 0;
      }),
      { numRuns: 3000 },
    );
    console.log(`logs ingest fuzz: statuses ${JSON.stringify(Object.fromEntries(statuses))}, records accepted ${acceptedTotal}, refused ${rejectedTotal}`);
    // Both kinds of answer, and both accepted and refused records, were exercised.
    expect(statuses.get(200) ?? 0).toBeGreaterThan(300);
    expect(statuses.get(400) ?? 0).toBeGreaterThan(100);
    expect(acceptedTotal).toBeGreaterThan(500);
    expect(rejectedTotal).toBeGreaterThan(500);
  }, 120_000);
});

describe("fuzz: OTLP logs ingest over real HTTP into the durable pipeline and chDB", () => {
  let dir: string;
  let gateway: ClickHouseGateway;
  let server: RunningServer;
  let pipeline: UsagePipeline;
  const metrics = new CollectorMetrics();

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "troupe-fuzz-logs-"));
    gateway = await openClickHouse({ kind: "chdb", dataDir: join(dir, "chdb") });
    pipeline = await UsagePipeline.start({ store: createClickHouseUsageStore(gateway), metrics, spool: { dir: join(dir, "usage-spool"), maxBytes: 64 * 1024 * 1024 }, writer: { maxBatchDelayMs: 10 } });
    const app = createCollectorApp({
      authenticator,
      sink: { accept: async () => undefined },
      metrics,
      store: new MemorySpanStore(),
      limits: { maxBodyBytes: 512 * 1024 },
      usage: { sink: pipeline, retentionDaysOf, health: () => pipeline.health() },
    });
    server = await listen(app, 0, "127.0.0.1");
  });

  afterAll(async () => {
    await server?.close();
    await pipeline?.close(2_000);
    await gateway?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("a sample over HTTP: only 2xx/4xx, every accepted record id stored once, server alive", async () => {
    let acknowledged = 0;
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        const res = await fetch(`${server.url}/v1/logs`, init(r));
        const text = await res.text();
        if (res.status >= 500) throw new Error(`answered ${res.status}: ${text.slice(0, 200)}`);
        if (res.status === 200) acknowledged++;
      }),
      { numRuns: 300 },
    );
    expect(acknowledged).toBeGreaterThan(30);
    const deadline = Date.now() + 20_000;
    while (pipeline.health().queueDepthRecords > 0 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20));
    expect(pipeline.health().queueDepthRecords).toBe(0);
    // Ids come from a small pool: re-sends with the same and with other figures were frequent.
    const accepted = metrics.usageAccepted.value();
    const inserted = metrics.usageInserted.value();
    expect(inserted + metrics.usageDuplicates.value() + metrics.usageConflicts.value()).toBe(accepted);
    expect(metrics.usageDuplicates.value() + metrics.usageConflicts.value()).toBeGreaterThan(0);
    const [row] = await gateway.query<{ all: string; distinct: string; tenants: string[] }>(
      "SELECT toString(count()) AS all, toString(uniqExact(tenant_id, record_id)) AS distinct, groupUniqArray(tenant_id) AS tenants FROM usage_records",
    );
    expect(Number(row!.all)).toBe(inserted);
    expect(Number(row!.distinct)).toBe(inserted);
    expect(row!.tenants.every((t) => t === "acme" || t === "globex")).toBe(true);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  }, 120_000);
});
