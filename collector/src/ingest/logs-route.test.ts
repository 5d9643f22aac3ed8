import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { ExportResultCode } from "@opentelemetry/core";
import { OTLPLogExporter as OtlpJsonLogExporter } from "@opentelemetry/exporter-logs-otlp-http";
import { OTLPLogExporter as OtlpProtobufLogExporter } from "@opentelemetry/exporter-logs-otlp-proto";
import { JsonLogsSerializer, ProtobufLogsSerializer } from "@opentelemetry/otlp-transformer";
import type { LogRecordExporter, ReadableLogRecord } from "@opentelemetry/sdk-logs";
import { USAGE_ATTR } from "@troupe/contract";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCollectorApp } from "../http/app.js";
import { decodeStatus } from "../http/otlp-status.test-helper.js";
import { listen, type RunningServer } from "../http/server.js";
import { CollectorMetrics } from "../metrics/collector-metrics.js";
import { UsagePipeline } from "../pipeline/usage-pipeline.js";
import type { ClickHouseGateway } from "../store/clickhouse-gateway.js";
import { createClickHouseUsageStore } from "../store/clickhouse-usage-store.js";
import { openTempChdb } from "../store/temp-chdb.test-helper.js";
import { MemorySpanStore } from "../testing/memory-span-store.js";
import { StaticKeyAuthenticator } from "../testing/static-key-authenticator.js";
import { otlpProtoTypes } from "./otlp-proto-root.js";
import { sdkLogRecords, usageAttributes, type EmitSpec } from "./usage-log-records.test-helper.js";

const TENANT_KEY = "ingest-acme";
const SERVICE_KEY = "service-acme-globex";
const authenticator = new StaticKeyAuthenticator({
  [TENANT_KEY]: { kind: "tenant-ingest", keyId: "k1", tenantId: "acme" },
  [SERVICE_KEY]: { kind: "service-ingest", keyId: "k2", allowedTenants: ["acme", "globex"] },
  "console-acme": { kind: "console", keyId: "k3", tenantId: "acme" },
});
const DAY_MS = 86_400_000;
/** The exporters' CompressionAlgorithm.GZIP (the enum lives in a package the collector does not depend on). */
const GZIP = "gzip" as NonNullable<NonNullable<ConstructorParameters<typeof OtlpProtobufLogExporter>[0]>["compression"]>;

let dir: string;
let chdb: { gateway: ClickHouseGateway; dispose: () => Promise<void> };
let metrics: CollectorMetrics;
let pipeline: UsagePipeline;
let server: RunningServer;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "troupe-logs-route-"));
  chdb = await openTempChdb();
  metrics = new CollectorMetrics();
  pipeline = await UsagePipeline.start({ store: createClickHouseUsageStore(chdb.gateway), metrics, spool: { dir, maxBytes: 64 * 1024 * 1024 }, writer: { maxBatchDelayMs: 5 } });
  const app = createCollectorApp({
    authenticator,
    sink: { accept: async () => undefined },
    metrics,
    store: new MemorySpanStore(),
    usage: { sink: pipeline, retentionDaysOf: (tenant) => (tenant === "globex" ? 2 : 30), health: () => pipeline.health() },
  });
  server = await listen(app, 0, "127.0.0.1");
});

afterAll(async () => {
  await server?.close();
  await pipeline?.close(2000);
  await chdb?.dispose();
  if (dir) await rm(dir, { recursive: true, force: true });
});

interface Answer {
  status: number;
  partial: { rejectedLogRecords: number; errorMessage: string } | undefined;
}

/** POSTs records as the real OTel serializers write them; returns the status and the decoded partial success. */
async function post(records: ReadableLogRecord[], options: { format?: "json" | "protobuf"; key?: string; gzip?: boolean } = {}): Promise<Answer> {
  const format = options.format ?? "protobuf";
  const raw = format === "json" ? JsonLogsSerializer.serializeRequest(records)! : ProtobufLogsSerializer.serializeRequest(records)!;
  const res = await fetch(`${server.url}/v1/logs`, {
    method: "POST",
    headers: {
      "content-type": format === "json" ? "application/json" : "application/x-protobuf",
      authorization: `Bearer ${options.key ?? TENANT_KEY}`,
      ...(options.gzip ? { "content-encoding": "gzip" } : {}),
    },
    body: (options.gzip ? gzipSync(raw) : raw) as Uint8Array<ArrayBuffer>,
  });
  if (res.status !== 200) return { status: res.status, partial: undefined };
  let partial: { rejectedLogRecords: string | number; errorMessage: string } | undefined;
  if (format === "json") partial = ((await res.json()) as { partialSuccess?: { rejectedLogRecords: string; errorMessage: string } }).partialSuccess;
  else {
    expect(res.headers.get("content-type")).toBe("application/x-protobuf");
    const type = otlpProtoTypes().ExportLogsServiceResponse;
    partial = (type.toObject(type.decode(new Uint8Array(await res.arrayBuffer())), { longs: String }) as { partialSuccess?: { rejectedLogRecords: string; errorMessage: string } }).partialSuccess;
  }
  return { status: 200, partial: partial && { rejectedLogRecords: Number(partial.rejectedLogRecords), errorMessage: partial.errorMessage } };
}

async function stored(): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (pipeline.health().queueDepthRecords > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  expect(pipeline.health().queueDepthRecords).toBe(0);
}

interface StoredRecord {
  tenant_id: string;
  record_id: string;
  time_ms: string;
  input_tokens: string;
  output_tokens: string;
  cached_input_tokens: string;
  cost_usd: number;
  trace_id: string;
  span_id: string;
  service_name: string;
  retention_days: number;
  ledger_id: string;
  copies: string;
}

async function rowsOf(ids: readonly string[]): Promise<Map<string, StoredRecord>> {
  await stored();
  const rows = await chdb.gateway.query<StoredRecord>(
    `SELECT tenant_id, record_id, toString(toUnixTimestamp64Milli(any(time))) AS time_ms, toString(any(input_tokens)) AS input_tokens,
       toString(any(output_tokens)) AS output_tokens, toString(any(cached_input_tokens)) AS cached_input_tokens, any(cost_usd) AS cost_usd,
       any(trace_id) AS trace_id, any(span_id) AS span_id, any(service_name) AS service_name, any(retention_days) AS retention_days,
       any(ledger_id) AS ledger_id, toString(count()) AS copies
     FROM usage_records WHERE record_id IN {ids:Array(String)} GROUP BY tenant_id, record_id`,
    { ids: [...ids] },
  );
  return new Map(rows.map((r) => [r.record_id, r]));
}

function exportWith(exporter: LogRecordExporter, records: ReadableLogRecord[]): Promise<number> {
  return new Promise((resolve) => exporter.export(records, (r) => resolve(r.code)));
}

describe("POST /v1/logs with the real OpenTelemetry exporters", () => {
  it("stores usage records sent by the protobuf exporter (gzip) and the JSON exporter, exactly", async () => {
    const protoIds = [randomUUID(), randomUUID()];
    const jsonId = randomUUID();
    const timeMs = Date.now() - 1000;
    const trace = { traceId: "0af7651916cd43dd8448eb211c80319c", spanId: "b7ad6b7169203331" };
    const headers = { Authorization: `Bearer ${TENANT_KEY}` };
    const proto = new OtlpProtobufLogExporter({ url: `${server.url}/v1/logs`, headers, compression: GZIP });
    const json = new OtlpJsonLogExporter({ url: `${server.url}/v1/logs`, headers });
    // The first names the ledger that charged it; the second names none (stored as "").
    const ledgers = [{ [USAGE_ATTR.ledgerId]: "ledger-proto" }, {}];
    expect(
      await exportWith(proto, await sdkLogRecords(protoIds.map((id, i) => ({ attributes: usageAttributes(id, "acme", { [USAGE_ATTR.costUsd]: 0.1 + 0.2, ...ledgers[i] }), timeMs, ...trace })))),
    ).toBe(ExportResultCode.SUCCESS);
    // No tenant attribute at all: a tenant key binds the record to its tenant.
    const noTenant = usageAttributes(jsonId, "acme", { [USAGE_ATTR.ledgerId]: "ledger-json" });
    delete noTenant[USAGE_ATTR.tenantId];
    expect(await exportWith(json, await sdkLogRecords([{ attributes: noTenant, timeMs }]))).toBe(ExportResultCode.SUCCESS);
    await Promise.all([proto.shutdown(), json.shutdown()]);

    const rows = await rowsOf([...protoIds, jsonId]);
    expect(rows.size).toBe(3);
    for (const id of protoIds) {
      expect(rows.get(id)).toMatchObject({ tenant_id: "acme", time_ms: String(timeMs), input_tokens: "10", output_tokens: "2", cached_input_tokens: "4", cost_usd: 0.1 + 0.2, ...{ trace_id: trace.traceId, span_id: trace.spanId }, service_name: "billing-test", retention_days: 30, copies: "1" });
    }
    expect(rows.get(jsonId)).toMatchObject({ tenant_id: "acme", trace_id: "", span_id: "", cost_usd: 0.25, ledger_id: "ledger-json" });
    expect(protoIds.map((id) => rows.get(id)?.ledger_id)).toEqual(["ledger-proto", ""]);
    expect(metrics.render()).toMatch(/troupe_collector_usage_records_accepted_total \d+/);
  });
});

describe("POST /v1/logs: partial success names each refused record's problem", () => {
  const now = Date.now();
  const cases: { name: string; spec: (id: string) => EmitSpec; reason: RegExp }[] = [
    { name: "a negative token count", spec: (id) => ({ attributes: usageAttributes(id, "acme", { [USAGE_ATTR.inputTokens]: -1 }) }), reason: /invalid_record \(gen_ai\.usage\.input_tokens must not be negative\)/ },
    { name: "a non-integer token count", spec: (id) => ({ attributes: usageAttributes(id, "acme", { [USAGE_ATTR.outputTokens]: 2.5 }) }), reason: /invalid_record \(gen_ai\.usage\.output_tokens must be a whole number\)/ },
    {
      name: "a missing id",
      spec: (id) => {
        const attributes = usageAttributes(id);
        delete attributes[USAGE_ATTR.id];
        return { attributes };
      },
      reason: /invalid_record \(troupe\.usage\.id is missing\)/,
    },
    { name: "a malformed id", spec: () => ({ attributes: usageAttributes("not-a-uuid") }), reason: /invalid_record \(troupe\.usage\.id must be a UUID\)/ },
    { name: "another tenant's id under a tenant key", spec: (id) => ({ attributes: usageAttributes(id, "globex") }), reason: /tenant_mismatch \(a log record claims tenant "globex"/ },
    {
      name: "a non-finite cost",
      spec: (id) => ({ attributes: usageAttributes(id, "acme", { [USAGE_ATTR.costUsd]: Number.POSITIVE_INFINITY }) }),
      // The OTel JS JSON serializer writes Infinity as null: that record arrives without a cost.
      reason: /invalid_record \(troupe\.llm\.cost_usd (must be a finite number|is missing)\)/,
    },
    { name: "a time far in the future", spec: (id) => ({ attributes: usageAttributes(id), timeMs: now + 3_600_000 }), reason: /time_in_future \(time_unix_nano .* is more than 5 minutes ahead/ },
    { name: "a time older than the tenant's retention", spec: (id) => ({ attributes: usageAttributes(id), timeMs: now - 31 * DAY_MS }), reason: /time_expired \(.*retention of 30 days/ },
    { name: "a log record that is not a usage record", spec: (id) => ({ attributes: { ...usageAttributes(id), "log.message": "hello" }, eventName: "app.log" }), reason: /not_usage \(a log record named "app.log" is not a usage record/ },
  ];

  for (const { name, spec, reason } of cases) {
    it(`refuses ${name} and stores the rest of the request (protobuf and JSON answers)`, async () => {
      for (const format of ["protobuf", "json"] as const) {
        const good = [randomUUID(), randomUUID()];
        const bad = randomUUID();
        const records = await sdkLogRecords([{ attributes: usageAttributes(good[0]!) }, spec(bad), { attributes: usageAttributes(good[1]!) }]);
        const answer = await post(records, { format });
        expect(answer.status).toBe(200);
        const rows = await rowsOf([...good, bad]);
        expect(answer.partial?.rejectedLogRecords).toBe(1);
        expect(answer.partial?.errorMessage).toMatch(/^1 log record\(s\) rejected: 1 /);
        expect(answer.partial?.errorMessage).toMatch(reason);
        expect([...rows.keys()].sort()).toEqual([...good].sort());
      }
    });
  }

  it("refuses what the OTel serializers cannot write but a hand-made OTLP/JSON body can: non-finite doubles, bad ids, times as numbers", async () => {
    const [good, infinite, badTrace, badType] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
    const timeNs = `${Date.now() - 1000}123456`;
    const attributes = (id: string, cost: Record<string, unknown> = { doubleValue: 0.5 }): unknown[] => [
      { key: USAGE_ATTR.id, value: { stringValue: id } },
      { key: USAGE_ATTR.model, value: { stringValue: "m" } },
      { key: USAGE_ATTR.provider, value: { stringValue: "openai" } },
      { key: USAGE_ATTR.inputTokens, value: { intValue: "7" } },
      { key: USAGE_ATTR.outputTokens, value: { intValue: 1 } },
      { key: USAGE_ATTR.costUsd, value: cost },
      { key: USAGE_ATTR.outcome, value: { stringValue: "ok" } },
    ];
    const record = (id: string, extra: Record<string, unknown> = {}, cost?: Record<string, unknown>): string =>
      JSON.stringify({ eventName: "troupe.llm.usage", attributes: attributes(id, cost), ...extra }).replace(/^\{/, `{"timeUnixNano":${timeNs},`);
    const body = `{"resourceLogs":[{"scopeLogs":[{"logRecords":[${[
      record(good),
      record(infinite, {}, { doubleValue: "Infinity" }),
      record(badTrace, { traceId: "0af7651916cd43dd", spanId: "b7ad6b7169203331" }),
      record(badType, {}, { stringValue: "0.5" }),
    ].join(",")}]}]}]}`;
    const res = await fetch(`${server.url}/v1/logs`, { method: "POST", headers: { authorization: `Bearer ${TENANT_KEY}`, "content-type": "application/json" }, body });
    expect(res.status).toBe(200);
    const { partialSuccess } = (await res.json()) as { partialSuccess: { rejectedLogRecords: string; errorMessage: string } };
    expect(partialSuccess.rejectedLogRecords).toBe("3");
    // "Infinity" (the OTLP/JSON spelling) and a cost sent as a string are refused alike; the group counts both.
    expect(partialSuccess.errorMessage).toMatch(/2 invalid_record \(troupe\.llm\.cost_usd must be a finite number\)/);
    expect(partialSuccess.errorMessage).toMatch(/1 invalid_record \(trace_id must be 32 hex digits or empty\)/);
    const rows = await rowsOf([good, infinite, badTrace, badType]);
    expect([...rows.keys()]).toEqual([good]);
    // The time was a JSON number past 2^53: kept to the millisecond, not rounded through a double.
    expect(rows.get(good)!.time_ms).toBe(timeNs.slice(0, -6));
  });

  it("counts refusals by reason and names every kind in one answer", async () => {
    const before = metrics.usageRejected.value(["invalid_record"]);
    const records = await sdkLogRecords([
      { attributes: usageAttributes(randomUUID(), "acme", { [USAGE_ATTR.inputTokens]: -1 }) },
      { attributes: usageAttributes(randomUUID(), "acme", { [USAGE_ATTR.inputTokens]: -2 }) },
      { attributes: usageAttributes(randomUUID(), "acme", { [USAGE_ATTR.outcome]: "exploded" }) },
      { attributes: usageAttributes(randomUUID()), eventName: "other" },
    ]);
    const answer = await post(records);
    expect(answer.partial?.rejectedLogRecords).toBe(4);
    expect(answer.partial?.errorMessage).toBe(
      "4 log record(s) rejected: 2 invalid_record (gen_ai.usage.input_tokens must not be negative); " +
        "1 invalid_record (troupe.llm.outcome must be one of ok, error, budget_rejected, rate_limited, timeout); " +
        '1 not_usage (a log record named "other" is not a usage record (troupe.llm.usage); /v1/logs stores usage records only)',
    );
    expect(metrics.usageRejected.value(["invalid_record"]) - before).toBe(3);
    expect(metrics.render()).toMatch(/troupe_collector_usage_records_rejected_total\{reason="not_usage"\} \d+/);
  });

  it("lets a service key write only its tenants, and only records that name one", async () => {
    const [acme, globex, initech, none] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
    const unnamed = usageAttributes(none);
    delete unnamed[USAGE_ATTR.tenantId];
    const records = await sdkLogRecords([
      { attributes: usageAttributes(acme, "acme") },
      { attributes: usageAttributes(globex, "globex") },
      { attributes: usageAttributes(initech, "initech") },
      { attributes: unnamed },
    ]);
    const answer = await post(records, { key: SERVICE_KEY, format: "json", gzip: true });
    expect(answer.partial?.rejectedLogRecords).toBe(2);
    expect(answer.partial?.errorMessage).toMatch(/tenant_not_allowed/);
    expect(answer.partial?.errorMessage).toMatch(/missing_tenant/);
    const rows = await rowsOf([acme, globex, initech, none]);
    expect([...rows.values()].map((r) => [r.record_id, r.tenant_id, r.retention_days]).sort()).toEqual(
      [
        [acme, "acme", 30],
        [globex, "globex", 2],
      ].sort(),
    );
  });
});

describe("POST /v1/logs: re-sends", () => {
  it("stores an identical re-send once (a duplicate) and keeps the first of two records with one id (a conflict)", async () => {
    const id = randomUUID();
    const timeMs = Date.now() - 5000;
    const first = await sdkLogRecords([{ attributes: usageAttributes(id), timeMs }]);
    const duplicatesBefore = metrics.usageDuplicates.value();
    const conflictsBefore = metrics.usageConflicts.value();
    expect((await post(first)).partial).toBeUndefined();
    await stored();
    // The exporter retried: the same record again, and in the same request twice.
    expect((await post([...first, ...first], { format: "json" })).partial).toBeUndefined();
    // Another process re-used the id with other numbers.
    expect((await post(await sdkLogRecords([{ attributes: usageAttributes(id, "acme", { [USAGE_ATTR.inputTokens]: 999 }), timeMs }]))).partial).toBeUndefined();
    const rows = await rowsOf([id]);
    expect(rows.get(id)).toMatchObject({ input_tokens: "10", copies: "1" });
    expect(metrics.usageDuplicates.value() - duplicatesBefore).toBe(2);
    expect(metrics.usageConflicts.value() - conflictsBefore).toBe(1);
    expect(metrics.render()).toMatch(/troupe_collector_usage_conflicts_total [1-9]/);
  });
});

describe("POST /v1/logs: requests refused whole", () => {
  it("answers 401 without a key, 403 for a console key, 415 for another media type, 400 for a broken body", async () => {
    const records = await sdkLogRecords([{ attributes: usageAttributes(randomUUID()) }]);
    expect((await post(records, { key: "unknown" })).status).toBe(401);
    expect((await post(records, { key: "console-acme" })).status).toBe(403);
    const res = await fetch(`${server.url}/v1/logs`, { method: "POST", headers: { authorization: `Bearer ${TENANT_KEY}`, "content-type": "text/plain" }, body: "x" });
    expect(res.status).toBe(415);
    const broken = await fetch(`${server.url}/v1/logs`, { method: "POST", headers: { authorization: `Bearer ${TENANT_KEY}`, "content-type": "application/x-protobuf" }, body: new Uint8Array([0x0a, 0x7f, 1]) });
    expect(broken.status).toBe(400);
    expect(broken.headers.get("content-type")).toBe("application/x-protobuf");
    expect(decodeStatus(new Uint8Array(await broken.arrayBuffer()))).toMatchObject({ code: 3, message: expect.stringMatching(/ExportLogsServiceRequest/) });
    expect(metrics.render()).toMatch(/troupe_collector_logs_requests_total\{code="bad_request"\} 1/);
  });

  it("reports the usage spool on /readyz", async () => {
    const res = await fetch(`${server.url}/readyz`);
    const body = (await res.json()) as { checks: Record<string, { ok: boolean; detail: string }> };
    expect(body.checks["usage_spool"]).toMatchObject({ ok: true, detail: expect.stringMatching(/usage records waiting/) });
  });
});
