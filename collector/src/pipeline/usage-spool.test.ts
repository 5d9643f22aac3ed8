import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { UsageRecordRow } from "../store/usage-record-row.js";
import { usageRecordRows } from "../store/usage-row.test-helper.js";
import { Spool } from "./spool.js";
import { openUsageSpool } from "./usage-spool.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "troupe-usage-spool-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Every row left in the spool, batch by batch, committing each. */
async function drain(spool: Spool<UsageRecordRow>): Promise<UsageRecordRow[]> {
  const out: UsageRecordRow[] = [];
  for (let next = await spool.nextBatch(1_000); next; next = await spool.nextBatch(1_000)) {
    out.push(...next.rows);
    await spool.commit(next.batch);
  }
  return out;
}

/** The spool's segment files, concatenated. */
async function segmentBytes(): Promise<Buffer> {
  const files = (await readdir(dir)).filter((f) => f.startsWith("seg-")).sort();
  return Buffer.concat(await Promise.all(files.map((f) => readFile(join(dir, f)))));
}

describe("usage spool", () => {
  it("spools records as usage blocks and gives them back exactly, from memory, after a restart, and past its memory budget", async () => {
    const first = usageRecordRows(3, { model: "modèle-✓", costUsd: 0.1 + 0.2 });
    const second = usageRecordRows(2, { tenant: "globex", usageExact: false, outcome: "error", ledgerId: "ledger-7" });
    const spool = await openUsageSpool({ dir, maxBytes: 1 << 20 });
    await spool.append(first);
    await spool.append(second);
    // Frames of encoded rows ("TRSE"), not JSON.
    const bytes = await segmentBytes();
    expect(bytes.readUInt32LE(0)).toBe(0x54525345);
    expect(bytes.includes(Buffer.from('"inputTokens"'))).toBe(false);
    const inMemory = await spool.nextBatch(1_000);
    expect(inMemory!.rows).toEqual([...first, ...second]);
    await spool.close();

    // A restart reads them from disk (decoded); so does a spool that keeps nothing in memory.
    const reopened = await openUsageSpool({ dir, maxBytes: 1 << 20, memoryBytes: 0 });
    const read = await reopened.nextBatch(1_000);
    expect(read!.recovered).toBe(true);
    expect(read!.rows).toEqual([...first, ...second]);
    await reopened.commit(read!.batch);
    const more = usageRecordRows(4);
    await reopened.append(more);
    expect(await drain(reopened)).toEqual(more);
    await reopened.close();
  });

  it("takes about a third of the bytes of the same records as JSON, in a request's worth of them", async () => {
    const spool = await openUsageSpool({ dir, maxBytes: 1 << 24 });
    const records = usageRecordRows(512, { traceId: "4bf92f3577b34da6a3ce929d0e0e4736", spanId: "00f067aa0ba902b7" });
    await spool.append(records);
    await spool.close();
    expect((await segmentBytes()).length).toBeLessThan(JSON.stringify(records).length / 2.5);
  });

  it("replays records an earlier collector spooled as JSON, in order with the new ones", async () => {
    const old = await Spool.open<UsageRecordRow>({ dir, maxBytes: 1 << 20 });
    const before = usageRecordRows(3);
    await old.append(before);
    await old.close();
    expect((await segmentBytes()).readUInt32LE(0)).toBe(0x54525350); // JSON rows ("TRSP")

    const spool = await openUsageSpool({ dir, maxBytes: 1 << 20 });
    const after = usageRecordRows(2, { tenant: "globex" });
    await spool.append(after);
    expect(await drain(spool)).toEqual([...before, ...after]);
    await spool.close();
  });

  it("a spool without the usage encoding refuses its records with an error that says so, rather than misreading them", async () => {
    const spool = await openUsageSpool({ dir, maxBytes: 1 << 20 });
    await spool.append(usageRecordRows(2));
    await spool.close();
    const plain = await Spool.open<UsageRecordRow>({ dir, maxBytes: 1 << 20 });
    expect(plain.rowCount()).toBe(2);
    await expect(plain.nextBatch(1_000)).rejects.toThrow(/holds encoded rows and this spool has no row codec/);
    await plain.close();
  });
});
