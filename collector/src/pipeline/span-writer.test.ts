import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { CollectorMetrics } from "../metrics/collector-metrics.js";
import { decodeSpanBlocks, encodeSpanBlock, type SpanBlock } from "../store/span-block.js";
import { plainSpanFields, type SpanRow } from "../store/span-row.js";
import type { SpanStore } from "../store/span-store.js";
import { MemorySpanStore } from "../testing/memory-span-store.js";
import { SpanWriter } from "./span-writer.js";
import { Spool } from "./spool.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "troupe-writer-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function rows(n: number, prefix: string): SpanRow[] {
  return Array.from({ length: n }, (_, i) => ({
    tenantId: "acme", traceId: "1".repeat(32), spanId: `${prefix}${i}`.padStart(16, "0"), parentSpanId: "", name: `${prefix}${i}`, kind: 1,
    startTimeUnixNano: "1700000000000000000", durationNs: 1, statusCode: 0, serviceName: "s", attributes: {}, resourceAttributes: {},
    ...plainSpanFields(),
  }));
}

async function until(predicate: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe("SpanWriter", () => {
  it("batches by size and delay, and inserts everything in spool order", async () => {
    const spool = await Spool.open({ dir, maxBytes: 1 << 24 });
    const store = new MemorySpanStore();
    const metrics = new CollectorMetrics();
    const writer = new SpanWriter(spool, store, metrics, { maxBatchRows: 10, maxBatchDelayMs: 30 });
    writer.start();
    for (let i = 0; i < 10; i++) await spool.append(rows(4, `b${i}-`));
    await until(() => store.rows.length === 40);
    expect(store.rows.map((r) => r.name)).toEqual(Array.from({ length: 10 }, (_, i) => Array.from({ length: 4 }, (_, j) => `b${i}-${j}`)).flat());
    expect(store.batchIds.size).toBeGreaterThanOrEqual(4); // at most 10 rows (2 records) per batch
    expect(metrics.spansInserted.value()).toBe(40);
    expect(metrics.insertDuration.count()).toBe(store.batchIds.size);
    await writer.stop();
    await spool.close();
  });

  it("under load, waits for more rows while they keep coming (fewer, larger inserts); a quiet spool is stored within the batch delay", async () => {
    const spool = await Spool.open({ dir, maxBytes: 1 << 24 });
    const store = new MemorySpanStore();
    const writer = new SpanWriter(spool, store, new CollectorMetrics(), { maxBatchRows: 1_000, maxBatchDelayMs: 10, busy: { rows: 20, delayMs: 20_000, idleMs: 1_000 } });
    writer.start();
    // Busy: 20 rows at once, then more every 30 ms, well within idleMs: one insert, after they stop.
    for (let i = 0; i < 6; i++) {
      await spool.append(rows(20, `busy${i}-`));
      await new Promise((r) => setTimeout(r, 30));
    }
    expect(store.rows).toHaveLength(0);
    await until(() => store.rows.length === 120);
    expect(store.batchIds.size).toBe(1);
    // Quiet: fewer rows than `busy.rows` go in within the batch delay, long before idleMs.
    const started = Date.now();
    await spool.append(rows(5, "quiet-"));
    await until(() => store.rows.length === 125);
    expect(Date.now() - started).toBeLessThan(900);
    await writer.stop();
    await spool.close();
  });

  it("retries a failing store with the same batch while the spool absorbs new spans; nothing is lost", async () => {
    const spool = await Spool.open({ dir, maxBytes: 1 << 24 });
    const store = new MemorySpanStore();
    store.failWith = new Error("clickhouse down");
    const metrics = new CollectorMetrics();
    const writer = new SpanWriter(spool, store, metrics, { maxBatchDelayMs: 1, initialRetryDelayMs: 5, maxRetryDelayMs: 20 });
    writer.start();
    await spool.append(rows(3, "a"));
    await until(() => store.attempts >= 3);
    await spool.append(rows(3, "b"));
    expect(writer.lastError()).toBeInstanceOf(Error);
    store.failWith = undefined;
    await until(() => store.rows.length === 6);
    expect(metrics.insertFailures.value()).toBeGreaterThanOrEqual(3);
    expect(writer.lastError()).toBeUndefined();
    await writer.stop();
    await spool.close();
  });

  it("after a crash between insert and commit, replays the batch with the same id: nothing counted twice", async () => {
    const store = new MemorySpanStore();
    // Inserts, then never answers: the process dies before it could mark the batch consumed.
    const dying: SpanStore = {
      insertSpans: async (r, id) => {
        await store.insertSpans(r, id);
        await new Promise(() => undefined);
      },
      ping: async () => undefined,
      close: async () => undefined,
    };
    const spoolA = await Spool.open({ dir, maxBytes: 1 << 24 });
    const writerA = new SpanWriter(spoolA, dying, new CollectorMetrics(), { maxBatchDelayMs: 1 });
    writerA.start();
    await spoolA.append(rows(5, "x"));
    await until(() => store.rows.length === 5);
    await spoolA.append(rows(5, "y")); // acknowledged, not yet inserted

    const spoolB = await Spool.open({ dir, maxBytes: 1 << 24 });
    expect(spoolB.rowCount()).toBe(10);
    const writerB = new SpanWriter(spoolB, store, new CollectorMetrics(), { maxBatchDelayMs: 1 });
    writerB.start();
    await until(() => spoolB.recordCount() === 0);
    expect(store.rows.map((r) => r.name).sort()).toEqual([...rows(5, "x"), ...rows(5, "y")].map((r) => r.name).sort());
    expect(store.attempts).toBe(3); // x, x again (deduplicated by batch id), y
    await writerB.drainAndStop(1000);
    await spoolB.close();
  });

  it("drainAndStop inserts what is spooled without waiting for the batch delay", async () => {
    const spool = await Spool.open({ dir, maxBytes: 1 << 24 });
    const store = new MemorySpanStore();
    const writer = new SpanWriter(spool, store, new CollectorMetrics(), { maxBatchDelayMs: 60_000 });
    writer.start();
    await spool.append(rows(7, "d"));
    expect(await writer.drainAndStop(2000)).toBe(true);
    expect(store.rows).toHaveLength(7);
    await spool.close();
  });

  it("inserts spooled span blocks as they are when the store takes them, rows otherwise", async () => {
    const spool = await Spool.open({ dir, maxBytes: 1 << 24 });
    const received: { block?: SpanBlock; rows?: readonly SpanRow[] }[] = [];
    const store: SpanStore = {
      insertSpans: async (r) => void received.push({ rows: r }),
      insertEncodedSpans: async (block) => void received.push({ block }),
      ping: async () => undefined,
      close: async () => undefined,
    };
    const writer = new SpanWriter(spool, store, new CollectorMetrics(), { maxBatchDelayMs: 1 });
    writer.start();
    const a = rows(3, "a");
    await spool.append({ payload: encodeSpanBlock(a, () => 30), rowCount: 3 });
    await until(() => received.length === 1);
    expect(received[0]?.rows).toBeUndefined();
    expect(decodeSpanBlocks(received[0]!.block!.payload)).toEqual(a);
    await spool.append(rows(2, "b")); // a JSON-rows record (no block): the rows path
    await until(() => received.length === 2);
    expect(received[1]?.rows?.map((r) => r.name)).toEqual(["b0", "b1"]);
    await writer.stop();
    await spool.close();
  });
});
