// kill -9 while usage records stream in, restart on the same data directory: every acknowledged usage
// record is stored exactly once (fsynced spool before the answer, replay with stable batch ids, and
// the writer's lookup of stored ids before each insert).
import type { ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ExportResultCode } from "@opentelemetry/core";
import { OTLPLogExporter } from "@opentelemetry/exporter-logs-otlp-proto";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { InMemoryLogRecordExporter, LoggerProvider, SimpleLogRecordProcessor, type ReadableLogRecord } from "@opentelemetry/sdk-logs";
import { Spool, createTenantRegistry, openClickHouse } from "@troupe/collector";
import { USAGE_ATTR, USAGE_EVENT_NAME } from "@troupe/runtime";
import { exited, startCollectorProcess } from "./support/collector-process.js";

const children: ChildProcess[] = [];
let dir: string;

afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Usage records as the real logs SDK hands them to the exporter: LLM calls of 10 input and 2 output tokens each. */
async function makeUsageRecords(count: number): Promise<ReadableLogRecord[]> {
  const memory = new InMemoryLogRecordExporter();
  const provider = new LoggerProvider({ resource: resourceFromAttributes({ "service.name": "crash-test" }), processors: [new SimpleLogRecordProcessor({ exporter: memory })] });
  const logger = provider.getLogger("@troupe/runtime");
  for (let i = 0; i < count; i++) {
    logger.emit({
      eventName: USAGE_EVENT_NAME,
      attributes: {
        [USAGE_ATTR.id]: randomUUID(),
        [USAGE_ATTR.model]: "m",
        [USAGE_ATTR.provider]: "openai",
        [USAGE_ATTR.inputTokens]: 10,
        [USAGE_ATTR.outputTokens]: 2,
        [USAGE_ATTR.costUsd]: 0.001,
        [USAGE_ATTR.outcome]: "ok",
      },
    });
  }
  const records = memory.getFinishedLogRecords();
  await provider.shutdown();
  return records;
}

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  return Number(line?.split(" ")[1] ?? NaN);
}

describe("collector crash (kill -9) and restart, with usage records", () => {
  it("stores every acknowledged usage record exactly once", async () => {
    dir = await mkdtemp(join(tmpdir(), "troupe-usage-crash-"));
    const chdbDir = join(dir, "chdb");
    const setup = await openClickHouse({ kind: "chdb", dataDir: chdbDir });
    const registry = createTenantRegistry(setup);
    await registry.createTenant({ id: "acme" });
    const ingestKey = (await registry.issueKey("acme", "ingest")).key.secret;
    await setup.close();

    // Run 1: three real protobuf log exporters send 500-record batches back to back; kill -9 mid-stream.
    const first = await startCollectorProcess(dir, children);
    const acked = new Set<string>();
    let stop = false;
    let failedExports = 0;
    const senders = Array.from({ length: 3 }, async () => {
      const exporter = new OTLPLogExporter({ url: `${first.url}/v1/logs`, headers: { Authorization: `Bearer ${ingestKey}` }, timeoutMillis: 5_000 });
      while (!stop) {
        const batch = await makeUsageRecords(500);
        const code = await new Promise<number>((resolve) => exporter.export(batch, (r) => resolve(r.code)));
        if (code === ExportResultCode.SUCCESS) for (const r of batch) acked.add(r.attributes[USAGE_ATTR.id] as string);
        else failedExports++;
      }
    });
    const deadline = Date.now() + 30_000;
    while (acked.size < 6_000 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    first.child.kill("SIGKILL");
    await exited(first.child);
    stop = true;
    await Promise.all(senders);
    expect(acked.size).toBeGreaterThanOrEqual(6_000);
    expect(failedExports).toBeGreaterThan(0); // requests were in flight when it died

    // The crash left acknowledged records in the usage spool, not yet stored: the restart must replay them.
    const left = await Spool.open({ dir: join(dir, "usage-spool"), maxBytes: 1 << 30 });
    const spooledAtCrash = left.rowCount();
    await left.close();
    expect(spooledAtCrash).toBeGreaterThan(0);

    // Run 2: same data directory; the usage spool replays what run 1 acknowledged but had not stored.
    const second = await startCollectorProcess(dir, children);
    const waitUntil = Date.now() + 30_000;
    while ((await metric(second.url, "troupe_collector_usage_queue_depth_records")) > 0 && Date.now() < waitUntil) await new Promise((r) => setTimeout(r, 100));
    expect(await metric(second.url, "troupe_collector_usage_queue_depth_records")).toBe(0);
    second.child.kill("SIGTERM");
    expect(await exited(second.child)).toBe(0);

    const check = await openClickHouse({ kind: "chdb", dataDir: chdbDir });
    try {
      const [present] = await check.query<{ n: string }>("SELECT toString(uniqExact(record_id)) AS n FROM usage_records WHERE tenant_id = 'acme' AND record_id IN {ids:Array(String)}", {
        ids: [...acked],
      });
      expect(Number(present!.n)).toBe(acked.size); // every acknowledged record
      // No record stored twice, not even as a copy waiting for a merge (records stored but never
      // acknowledged — the process died between fsync and answer — are stored once too).
      const [rows] = await check.query<{ all: string; distinct: string; tokens: string }>(
        "SELECT toString(count()) AS all, toString(uniqExact(record_id)) AS distinct, toString(sum(input_tokens)) AS tokens FROM usage_records WHERE tenant_id = 'acme'",
      );
      expect(Number(rows!.all)).toBe(Number(rows!.distinct));
      expect(Number(rows!.tokens)).toBe(10 * Number(rows!.distinct));
    } finally {
      await check.close();
    }
  }, 180_000);
});
