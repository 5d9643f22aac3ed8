// kill -9 mid-ingest, restart on the same data directory: every acknowledged span is stored, and
// nothing is counted twice (spool replay with stable batch ids + insert deduplication).
import type { ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ExportResultCode } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { BasicTracerProvider, type ReadableSpan, type SpanProcessor } from "@opentelemetry/sdk-trace-base";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { Spool, createTenantRegistry, openClickHouse, type OverviewResponse } from "@troupe/collector";
import { exited, startCollectorProcess } from "./support/collector-process.js";

const children: ChildProcess[] = [];
let dir: string;

afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Real spans from a real tracer: LLM calls with 10 input and 2 output tokens each. */
function makeSpans(count: number): ReadableSpan[] {
  const ended: ReadableSpan[] = [];
  const collect: SpanProcessor = { onStart: () => undefined, onEnd: (s) => void ended.push(s), forceFlush: async () => undefined, shutdown: async () => undefined };
  const provider = new BasicTracerProvider({ resource: resourceFromAttributes({ "service.name": "crash-test" }), spanProcessors: [collect] });
  const tracer = provider.getTracer("crash");
  for (let i = 0; i < count; i++) {
    tracer
      .startSpan("chat m", { attributes: { "gen_ai.operation.name": "chat", "gen_ai.request.model": "m", "gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": 2 } })
      .end();
  }
  return ended;
}

describe("collector crash (kill -9) and restart", () => {
  it("keeps every acknowledged span and counts none twice", async () => {
    dir = await mkdtemp(join(tmpdir(), "troupe-crash-"));
    const chdbDir = join(dir, "chdb");
    const setup = await openClickHouse({ kind: "chdb", dataDir: chdbDir });
    const registry = createTenantRegistry(setup);
    await registry.createTenant({ id: "acme" });
    const ingestKey = (await registry.issueKey("acme", "ingest")).key.secret;
    const consoleKey = (await registry.issueKey("acme", "console")).key.secret;
    await setup.close();

    // Run 1: three exporters send 500-span batches back to back; kill -9 while they are in flight.
    const first = await startCollectorProcess(dir, children);
    const acked = new Set<string>();
    let stop = false;
    let failedExports = 0;
    const senders = Array.from({ length: 3 }, async () => {
      const exporter = new OTLPTraceExporter({ url: `${first.url}/v1/traces`, headers: { Authorization: `Bearer ${ingestKey}` }, timeoutMillis: 5_000 });
      while (!stop) {
        const batch = makeSpans(500);
        const code = await new Promise<number>((resolve) => exporter.export(batch, (r) => resolve(r.code)));
        if (code === ExportResultCode.SUCCESS) for (const s of batch) acked.add(s.spanContext().spanId);
        else failedExports++;
      }
    });
    const deadline = Date.now() + 20_000;
    while (acked.size < 6_000 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    first.child.kill("SIGKILL");
    await exited(first.child);
    stop = true;
    await Promise.all(senders);
    expect(acked.size).toBeGreaterThanOrEqual(6_000);
    expect(failedExports).toBeGreaterThan(0); // requests were in flight when it died

    // The crash left acknowledged spans in the spool, not yet in the store: the restart must replay them.
    const left = await Spool.open({ dir: join(dir, "spool"), maxBytes: 1 << 30 });
    const spooledAtCrash = left.rowCount();
    await left.close();
    expect(spooledAtCrash).toBeGreaterThan(0);

    // Run 2: same data directory; the spool replays whatever run 1 acknowledged but had not inserted.
    const second = await startCollectorProcess(dir, children);
    // The query API's span count (read with FINAL): usage figures come from usage records, which
    // these bare spans have none of.
    const spansOf = async (): Promise<OverviewResponse["totals"]> => {
      const from = new Date(Date.now() - 3_600_000).toISOString();
      const to = new Date(Date.now() + 60_000).toISOString();
      const res = await fetch(`${second.url}/api/v1/overview?from=${from}&to=${to}`, { headers: { Authorization: `Bearer ${consoleKey}` } });
      expect(res.status).toBe(200);
      return ((await res.json()) as OverviewResponse).totals;
    };
    const waitUntil = Date.now() + 30_000;
    let stored = await spansOf();
    while (stored.spans < acked.size && Date.now() < waitUntil) {
      await new Promise((r) => setTimeout(r, 200));
      stored = await spansOf();
    }
    second.child.kill("SIGTERM");
    expect(await exited(second.child)).toBe(0);

    const check = await openClickHouse({ kind: "chdb", dataDir: chdbDir });
    try {
      const present = await check.query<{ n: string }>("SELECT toString(count()) AS n FROM spans FINAL WHERE tenant_id = 'acme' AND span_id IN {ids:Array(String)}", { ids: [...acked] });
      expect(Number(present[0]!.n)).toBe(acked.size); // every acknowledged span
      const [rows] = await check.query<{ all: string; distinct: string; tokens: string }>(
        "SELECT toString(count()) AS all, toString(uniqExact(span_id)) AS distinct, toString(sum(input_tokens)) AS tokens FROM spans WHERE tenant_id = 'acme'",
      );
      expect(Number(rows!.all)).toBe(Number(rows!.distinct)); // no span inserted twice
      // The query API counts each stored span once (spans stored but never acknowledged — the
      // process died between fsync and answer — are counted once too), with their usage attributes.
      expect(stored.spans).toBe(Number(rows!.distinct));
      expect(Number(rows!.tokens)).toBe(10 * Number(rows!.distinct));
    } finally {
      await check.close();
    }
  }, 120_000);
});
