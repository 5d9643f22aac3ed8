import { appendFile, mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { CollectorError } from "../errors.js";
import { decodeSpanBlocks, encodeSpanBlock, spanBlockBytes } from "../store/span-block.js";
import { plainSpanFields, type SpanRow } from "../store/span-row.js";
import { Spool } from "./spool.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "troupe-spool-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function rows(n: number, prefix: string): SpanRow[] {
  return Array.from({ length: n }, (_, i) => ({
    tenantId: "acme",
    traceId: "0".repeat(32),
    spanId: `${prefix}${i}`.padStart(16, "0"),
    parentSpanId: "",
    name: `${prefix}-${i}`,
    kind: 1,
    startTimeUnixNano: "1700000000000000000",
    durationNs: 5,
    statusCode: 0,
    serviceName: "svc",
    attributes: {},
    resourceAttributes: {},
    ...plainSpanFields(),
  }));
}

async function drain(spool: Spool, maxRows = 1000): Promise<{ ids: string[]; names: string[] }> {
  const ids: string[] = [];
  const names: string[] = [];
  for (let next = await spool.nextBatch(maxRows); next; next = await spool.nextBatch(maxRows)) {
    ids.push(next.batchId);
    names.push(...next.rows.map((r) => r.name));
    await spool.commit(next.batch);
  }
  return { ids, names };
}

describe("Spool", () => {
  it("keeps appended batches across a restart and hands them out in order", async () => {
    const a = await Spool.open({ dir, maxBytes: 1 << 20 });
    await Promise.all([a.append(rows(2, "a")), a.append(rows(3, "b"))]);
    await a.append(rows(1, "c"));
    expect(a.recordCount()).toBe(3);
    expect(a.rowCount()).toBe(6);
    await a.close();
    const b = await Spool.open({ dir, maxBytes: 1 << 20 });
    expect(b.id).toBe(a.id);
    expect(b.rowCount()).toBe(6);
    const { names } = await drain(b);
    expect(names).toEqual(["a-0", "a-1", "b-0", "b-1", "b-2", "c-0"]);
    expect(b.bytes()).toBe(0);
    await b.close();
    const c = await Spool.open({ dir, maxBytes: 1 << 20 });
    expect(c.recordCount()).toBe(0);
    await c.close();
  });

  it("prepares the following batch only when it is full, and offers both again after a crash, unchanged", async () => {
    const a = await Spool.open({ dir, maxBytes: 1 << 20 });
    for (const p of ["a", "b", "c"]) await a.append(rows(2, p));
    const first = await a.nextBatch(2); // a
    await a.prepareFollowingBatch(2); // b: full
    await a.append(rows(1, "d")); // after the prepared batch: not part of it
    // Crash before the insert of a resolved.
    const b = await Spool.open({ dir, maxBytes: 1 << 20 });
    const again = await b.nextBatch(1000);
    expect(again!.batchId).toBe(first!.batchId);
    await b.prepareFollowingBatch(1000); // already prepared before the crash: kept as it was
    await b.commit(again!.batch);
    const second = await b.nextBatch(1000);
    expect(second!.rows.map((r) => r.name)).toEqual(["b-0", "b-1"]);
    await b.commit(second!.batch);
    expect((await drain(b)).names).toEqual(["c-0", "c-1", "d-0"]);
    await b.close();
    await a.close();
  });

  it("leaves a following batch that is not full to grow until it is handed out", async () => {
    const s = await Spool.open({ dir, maxBytes: 1 << 20 });
    await s.append(rows(2, "a"));
    await s.append(rows(1, "c"));
    const first = await s.nextBatch(2);
    await s.prepareFollowingBatch(2); // c: 1 row of 2, the last record: not prepared
    await s.append(rows(1, "e"));
    await s.commit(first!.batch);
    expect((await s.nextBatch(2))!.rows.map((r) => r.name)).toEqual(["c-0", "e-0"]);
    await s.close();
  });

  it("offers a batch handed out before a crash again, unchanged and with the same batch id", async () => {
    const a = await Spool.open({ dir, maxBytes: 1 << 20 });
    await a.append(rows(2, "a"));
    await a.append(rows(2, "b"));
    const first = await a.nextBatch(3); // persisted: records a (2 rows); b would exceed 3
    expect(first!.rows.map((r) => r.name)).toEqual(["a-0", "a-1"]);
    await a.append(rows(2, "c"));
    // Crash: no commit, no close. A new process opens the same directory.
    const b = await Spool.open({ dir, maxBytes: 1 << 20 });
    const again = await b.nextBatch(1000);
    expect(again!.batchId).toBe(first!.batchId);
    expect(again!.rows.map((r) => r.name)).toEqual(["a-0", "a-1"]);
    await b.commit(again!.batch);
    expect((await drain(b)).names).toEqual(["b-0", "b-1", "c-0", "c-1"]);
    await b.close();
    await a.close();
  });

  it("truncates a torn tail (a write that was never acknowledged) and keeps every acknowledged record", async () => {
    const a = await Spool.open({ dir, maxBytes: 1 << 20 });
    await a.append(rows(2, "a"));
    await a.close();
    const segments = (await readdir(dir)).filter((f) => f.startsWith("seg-")).sort();
    const last = join(dir, segments[segments.length - 1]!);
    const sizeBefore = (await stat(last)).size;
    await appendFile(last, Buffer.from([0x50, 0x53, 0x52, 0x54, 9, 9, 9]));
    const b = await Spool.open({ dir, maxBytes: 1 << 20 });
    expect((await stat(last)).size).toBe(sizeBefore);
    await b.append(rows(1, "b"));
    expect((await drain(b)).names).toEqual(["a-0", "a-1", "b-0"]);
    await b.close();
  });

  it("rolls segments and deletes them only once consumed", async () => {
    const s = await Spool.open({ dir, maxBytes: 1 << 20, segmentBytes: 2048 });
    for (let i = 0; i < 20; i++) await s.append(rows(3, `r${i}-`));
    const before = (await readdir(dir)).filter((f) => f.startsWith("seg-"));
    expect(before.length).toBeGreaterThan(3);
    const { names, ids } = await drain(s, 4);
    expect(names).toHaveLength(60);
    expect(new Set(ids).size).toBe(ids.length);
    const after = (await readdir(dir)).filter((f) => f.startsWith("seg-"));
    expect(after.length).toBe(1); // only the active segment remains
    await s.close();
  });

  it("refuses appends past its byte bound with overloaded and a retry hint", async () => {
    const s = await Spool.open({ dir, maxBytes: 4096 });
    let refused: unknown;
    for (let i = 0; i < 100 && !refused; i++) await s.append(rows(5, `x${i}`)).catch((err: unknown) => (refused = err));
    expect(refused).toBeInstanceOf(CollectorError);
    expect((refused as CollectorError).code).toBe("overloaded");
    expect((refused as CollectorError).retryAfterS).toBeGreaterThan(0);
    expect(s.bytes()).toBeLessThanOrEqual(4096);
    await drain(s);
    await s.append(rows(5, "after"));
    await s.close();
  });

  it("reads records back from disk when they did not fit the memory budget", async () => {
    const s = await Spool.open({ dir, maxBytes: 1 << 20, memoryBytes: 1 });
    await s.append(rows(4, "disk"));
    expect((await drain(s)).names).toEqual(["disk-0", "disk-1", "disk-2", "disk-3"]);
    await s.close();
  });
});

describe("Spool with span blocks", () => {
  const blockOf = (r: SpanRow[]) => ({ payload: encodeSpanBlock(r, () => 30), rowCount: r.length });

  it("hands out a batch of block records as one payload to insert as is, in memory and after a restart", async () => {
    const a = await Spool.open({ dir, maxBytes: 1 << 20 });
    const x = rows(2, "x");
    const y = rows(3, "y");
    await Promise.all([a.append(blockOf(x)), a.append(blockOf(y))]);
    expect(a.rowCount()).toBe(5);
    const first = await a.nextBatch(1000);
    expect(first!.block!.rowCount).toBe(5);
    expect(decodeSpanBlocks(first!.block!.payload).map((r) => r.name)).toEqual(["x-0", "x-1", "y-0", "y-1", "y-2"]);
    expect(first!.rows.map((r) => r.name)).toEqual(["x-0", "x-1", "y-0", "y-1", "y-2"]);
    // Crash before commit: the same batch, same id, same bytes, read back from disk.
    const b = await Spool.open({ dir, maxBytes: 1 << 20 });
    const again = await b.nextBatch(1000);
    expect(again!.batchId).toBe(first!.batchId);
    expect(spanBlockBytes(again!.block!.payload).equals(spanBlockBytes(first!.block!.payload))).toBe(true);
    await b.commit(again!.batch);
    expect(b.rowCount()).toBe(0);
    await b.close();
    await a.close();
  });

  it("reads block records back from disk past the memory budget", async () => {
    const s = await Spool.open({ dir, maxBytes: 1 << 20, memoryBytes: 1 });
    const d = rows(4, "disk");
    await s.append(blockOf(d));
    const next = await s.nextBatch(1000);
    expect(next!.block!.rowCount).toBe(4);
    expect(next!.rows).toEqual(d);
    await s.commit(next!.batch);
    await s.close();
  });

  it("a batch mixing JSON-rows and block records is offered as rows only, in order", async () => {
    const s = await Spool.open({ dir, maxBytes: 1 << 20 });
    const l = rows(2, "l");
    await s.append(rows(1, "j"));
    await s.append(blockOf(l));
    const next = await s.nextBatch(1000);
    expect(next!.block).toBeUndefined();
    expect(next!.rows.map((r) => r.name)).toEqual(["j-0", "l-0", "l-1"]);
    await s.close();
  });

  it("counts block records against the byte bound", async () => {
    const s = await Spool.open({ dir, maxBytes: 4096 });
    let refused: unknown;
    for (let i = 0; i < 100 && !refused; i++) {
      const r = rows(5, `x${i}`);
      await s.append(blockOf(r)).catch((err: unknown) => (refused = err));
    }
    expect((refused as CollectorError).code).toBe("overloaded");
    expect(s.bytes()).toBeLessThanOrEqual(4096);
    await s.close();
  });
});
