import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { CollectorMetrics } from "../metrics/collector-metrics.js";
import type { ClickHouseGateway } from "../store/clickhouse-gateway.js";
import { createClickHouseUsageStore } from "../store/clickhouse-usage-store.js";
import { openTempChdb } from "../store/temp-chdb.test-helper.js";
import type { UsageRecordRow } from "../store/usage-record-row.js";
import { usageRecordRows } from "../store/usage-row.test-helper.js";
import type { UsageStore } from "../store/usage-store.js";
import type { Spool, SpoolBatchRead } from "./spool.js";
import { openUsageSpool } from "./usage-spool.js";
import { UsageWriter } from "./usage-writer.js";

let chdb: { gateway: ClickHouseGateway; dispose: () => Promise<void> };
let dir: string;

beforeAll(async () => {
  chdb = await openTempChdb();
});
afterAll(async () => {
  await chdb?.dispose();
});
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "troupe-usage-writer-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Rows per record id in `table` as every reader sees it (FINAL): usage_records, or usage_recent (filled by a materialized view). */
async function countsOf(ids: readonly string[], table: "usage_records" | "usage_recent" = "usage_records"): Promise<Map<string, number>> {
  const found = await chdb.gateway.query<{ record_id: string; n: string }>(
    `SELECT record_id, toString(count()) AS n FROM ${table} FINAL WHERE tenant_id = 'acme' AND record_id IN {ids:Array(String)} GROUP BY record_id`,
    { ids: [...ids] },
  );
  return new Map(found.map((r) => [r.record_id, Number(r.n)]));
}

/** Makes every insert into usage_recent fail until `up()`: an insert then stores the raw rows and fails in the view, as one cut short between the two does. */
async function breakRecentView(): Promise<{ up: () => Promise<void> }> {
  await chdb.gateway.command("ALTER TABLE usage_recent ADD CONSTRAINT down CHECK 0");
  let down = true;
  return {
    up: async () => {
      if (!down) return;
      down = false;
      await chdb.gateway.command("ALTER TABLE usage_recent DROP CONSTRAINT down");
    },
  };
}

async function until(predicate: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** The chDB usage store, failing every lookup ("clickhouse down") until `up()`. */
function storeDown(): { store: UsageStore; up: () => void } {
  const real = createClickHouseUsageStore(chdb.gateway);
  let down = true;
  const store: UsageStore = {
    ...real,
    findStored: async (keys) => {
      if (down) throw new Error("clickhouse down");
      return real.findStored(keys);
    },
  };
  return { store, up: () => void (down = false) };
}

/** Appends `batch` to a new spool and runs a UsageWriter over `store` until the spool is empty; its metrics. */
async function writeAll(store: UsageStore, batch: UsageRecordRow[]): Promise<CollectorMetrics> {
  const spool = await openUsageSpool({ dir, maxBytes: 1 << 24 });
  const metrics = new CollectorMetrics();
  const writer = new UsageWriter(spool, store, metrics, { maxBatchDelayMs: 1, initialRetryDelayMs: 5 });
  writer.start();
  await spool.append(batch);
  await until(() => spool.rowCount() === 0);
  await writer.stop();
  await spool.close();
  return metrics;
}

/** A spool in `dir` holding `n` new records whose batch was handed out, as a writer holds it just before inserting. */
async function spoolWithBatchHandedOut(n: number): Promise<{ spool: Spool<UsageRecordRow>; batch: UsageRecordRow[]; read: SpoolBatchRead<UsageRecordRow> }> {
  const spool = await openUsageSpool({ dir, maxBytes: 1 << 24 });
  const batch = usageRecordRows(n);
  await spool.append(batch);
  const read = await spool.nextBatch(1000);
  return { spool, batch, read: read! };
}

/** Opens the spool in `dir` again (a restart) and runs a UsageWriter over `store` until it is empty; its metrics. */
async function restartAndWrite(store: UsageStore, expectedRows: number): Promise<CollectorMetrics> {
  const spool = await openUsageSpool({ dir, maxBytes: 1 << 24 });
  expect(spool.rowCount()).toBe(expectedRows);
  const metrics = new CollectorMetrics();
  const writer = new UsageWriter(spool, store, metrics, { maxBatchDelayMs: 1 });
  writer.start();
  await until(() => spool.rowCount() === 0);
  await writer.stop();
  await spool.close();
  return metrics;
}

describe("UsageWriter", () => {
  it("stores each record once when an insert landed but its answer was lost (the retry finds them stored)", async () => {
    const real = createClickHouseUsageStore(chdb.gateway);
    let failNext = true;
    const store: UsageStore = {
      ...real,
      findStored: (keys) => real.findStored(keys),
      insertUsage: async (batch, token, blocks) => {
        await real.insertUsage(batch, token, blocks);
        if (failNext) {
          failNext = false;
          throw new Error("connection reset after the insert");
        }
      },
    };
    const batch = usageRecordRows(50);
    const metrics = await writeAll(store, batch);
    const counts = await countsOf(batch.map((r) => r.id));
    expect(counts.size).toBe(50);
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    expect(metrics.usageInsertFailures.value()).toBe(1);
    // The retry found all 50 stored: the writer counts them once, as duplicates (it never saw the first insert succeed).
    expect(metrics.usageDuplicates.value()).toBe(50);
    expect(metrics.usageInserted.value()).toBe(0);
  });

  it("inserts a batch of new records as the blocks they were spooled as, and encodes anew what it keeps of one with stored records", async () => {
    const real = createClickHouseUsageStore(chdb.gateway);
    const given: (readonly Buffer[] | undefined)[] = [];
    const store: UsageStore = {
      ...real,
      insertUsage: async (batch, token, blocks) => {
        given.push(blocks);
        await real.insertUsage(batch, token, blocks);
      },
    };
    const batch = usageRecordRows(30, { model: "modèle-✓", costUsd: 0.1 + 0.2 });
    await writeAll(store, batch);
    expect(given).toHaveLength(1);
    expect(given[0]!.length).toBeGreaterThan(0);
    const stored = await chdb.gateway.query<{ record_id: string; model: string; cost_usd: number; input_tokens: number | string }>(
      "SELECT record_id, model, cost_usd, input_tokens FROM usage_records FINAL WHERE tenant_id = 'acme' AND record_id IN {ids:Array(String)} ORDER BY input_tokens",
      { ids: batch.map((r) => r.id) },
    );
    expect(stored.map((r) => [r.record_id, r.model, r.cost_usd, Number(r.input_tokens)])).toEqual(batch.map((r) => [r.id, r.model, r.costUsd, r.inputTokens]));

    // Half of the next batch is stored already: the other half is encoded from its rows.
    const next = [...batch.slice(0, 15), ...usageRecordRows(15, { inputTokens: 1_000 })];
    await writeAll(store, next);
    expect(given).toHaveLength(2);
    expect(given[1]).toBeUndefined();
    expect((await countsOf(next.map((r) => r.id))).size).toBe(30);
  });

  it("inserts the rest of a batch whose insert was cut short, under a token of its own (not deduplicated away)", async () => {
    const real = createClickHouseUsageStore(chdb.gateway);
    let cut = true;
    const store: UsageStore = {
      ...real,
      insertUsage: async (batch, token) => {
        if (cut) {
          cut = false;
          // Half of the rows land (as one partition of a multi-month insert may) under the batch's token.
          await real.insertUsage(batch.slice(0, batch.length / 2), token);
          throw new Error("killed mid-insert");
        }
        await real.insertUsage(batch, token);
      },
    };
    const batch = usageRecordRows(40);
    await writeAll(store, batch);
    const counts = await countsOf(batch.map((r) => r.id));
    expect(counts.size).toBe(40);
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
  });

  it("offers the same batch again after a restart, and stores nothing twice", async () => {
    const store = createClickHouseUsageStore(chdb.gateway);
    const first = await spoolWithBatchHandedOut(30);
    const batch = first.batch;
    // A writer that inserts and then stops before the batch is committed (as kill -9 would).
    await store.insertUsage(first.read.rows, "crashed-before-commit");
    await first.spool.close();

    const metrics = await restartAndWrite(store, 30);
    const counts = await countsOf(batch.map((r) => r.id));
    expect([...counts.values()]).toEqual(Array.from({ length: 30 }, () => 1));
    expect(metrics.usageDuplicates.value()).toBe(30);
    expect(metrics.usageInserted.value()).toBe(0);
    // Replayed from a previous run: its stored copies went in again, for the tables the crash may have missed.
    expect(metrics.usageRestored.value()).toBe(30);
  });

  it("completes an insert that stored the raw rows and failed in a view: the retry inserts the stored copies again", async () => {
    const real = createClickHouseUsageStore(chdb.gateway);
    const view = await breakRecentView();
    try {
      const store: UsageStore = {
        ...real,
        insertUsage: async (batch, token) => {
          try {
            await real.insertUsage(batch, token);
          } catch (err) {
            await view.up();
            throw err;
          }
        },
      };
      const batch = usageRecordRows(40);
      const metrics = await writeAll(store, batch);
      expect(metrics.usageInsertFailures.value()).toBe(1);
      expect(metrics.usageRestored.value()).toBe(40);
      const ids = batch.map((r) => r.id);
      expect([...(await countsOf(ids)).values()]).toEqual(Array.from({ length: 40 }, () => 1));
      expect([...(await countsOf(ids, "usage_recent")).values()]).toEqual(Array.from({ length: 40 }, () => 1));
    } finally {
      await view.up();
    }
  });

  it("completes, after a restart, an insert that a crash cut short between the raw table and a view", async () => {
    const store = createClickHouseUsageStore(chdb.gateway);
    const { spool: first, batch, read } = await spoolWithBatchHandedOut(30);
    const view = await breakRecentView();
    try {
      await expect(store.insertUsage(read.rows, "cut-short")).rejects.toThrow();
      await first.close();
      await view.up();
      const ids = batch.map((r) => r.id);
      expect((await countsOf(ids)).size).toBe(30);
      expect((await countsOf(ids, "usage_recent")).size).toBe(0);

      const metrics = await restartAndWrite(store, 30);
      expect(metrics.usageRestored.value()).toBe(30);
      expect([...(await countsOf(ids, "usage_recent")).values()]).toEqual(Array.from({ length: 30 }, () => 1));
      expect([...(await countsOf(ids)).values()]).toEqual(Array.from({ length: 30 }, () => 1));
    } finally {
      await view.up();
    }
  });

  it("retries while the store is down and loses nothing", async () => {
    const { store, up } = storeDown();
    const spool = await openUsageSpool({ dir, maxBytes: 1 << 24 });
    const metrics = new CollectorMetrics();
    const writer = new UsageWriter(spool, store, metrics, { maxBatchDelayMs: 1, initialRetryDelayMs: 5, maxRetryDelayMs: 20 });
    writer.start();
    const batch = usageRecordRows(5);
    await spool.append(batch);
    await until(() => metrics.usageInsertFailures.value() >= 2);
    expect(String(writer.lastError())).toMatch(/clickhouse down/);
    up();
    await until(() => spool.rowCount() === 0);
    expect(writer.lastError()).toBeUndefined();
    await writer.stop();
    await spool.close();
    expect((await countsOf(batch.map((r) => r.id))).size).toBe(5);
  });
});

describe("UsageWriter.waitUntilStored", () => {
  it("stores what was acknowledged before the call at once, not after the batch delay, and resolves true", async () => {
    const store = createClickHouseUsageStore(chdb.gateway);
    const spool = await openUsageSpool({ dir, maxBytes: 1 << 24 });
    const writer = new UsageWriter(spool, store, new CollectorMetrics(), { maxBatchDelayMs: 60_000 });
    writer.start();
    expect(await writer.waitUntilStored(1_000)).toBe(true); // nothing spooled: at once
    const first = usageRecordRows(3);
    const second = usageRecordRows(2);
    await spool.append(first);
    await spool.append(second);
    const started = Date.now();
    expect(await writer.waitUntilStored(30_000)).toBe(true);
    expect(Date.now() - started).toBeLessThan(30_000);
    expect((await countsOf([...first, ...second].map((r) => r.id))).size).toBe(5);
    // Once the mark is reached, the batch delay holds again: a record appended now waits.
    const later = usageRecordRows(1);
    await spool.append(later);
    await new Promise((r) => setTimeout(r, 300));
    expect(spool.rowCount()).toBe(1);
    await writer.stop();
    await spool.close();
  });

  it("resolves false after its timeout while the store is down, and false when the writer stops; nothing is lost", async () => {
    const { store, up } = storeDown();
    const spool = await openUsageSpool({ dir, maxBytes: 1 << 24 });
    const writer = new UsageWriter(spool, store, new CollectorMetrics(), { maxBatchDelayMs: 60_000, initialRetryDelayMs: 5, maxRetryDelayMs: 20 });
    const batch = usageRecordRows(4);
    await spool.append(batch);
    expect(await writer.waitUntilStored(1_000)).toBe(false); // not started
    writer.start();
    const started = Date.now();
    expect(await writer.waitUntilStored(200)).toBe(false);
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    const waiting = writer.waitUntilStored(60_000);
    await writer.stop();
    expect(await waiting).toBe(false);
    expect(spool.rowCount()).toBe(4);
    up();
    const again = new UsageWriter(spool, store, new CollectorMetrics(), { maxBatchDelayMs: 60_000 });
    again.start();
    expect(await again.waitUntilStored(30_000)).toBe(true);
    await again.stop();
    await spool.close();
    expect((await countsOf(batch.map((r) => r.id))).size).toBe(4);
  });
});
