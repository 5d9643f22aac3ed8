import { mkdtemp, readFile, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { SpoolStateFile, type SpoolState } from "./spool-state.js";

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "troupe-spool-state-"));
  dirs.push(dir);
  return dir;
}

/** The state a spool opening `dir` would find. */
async function stateIn(dir: string): Promise<SpoolState | undefined> {
  const { file, state } = await SpoolStateFile.open(dir);
  await file.close();
  return state;
}

const state = (offset: number): SpoolState => ({ cursor: { segment: 3, offset }, batches: [{ segment: 3, start: offset, end: offset + 100 }] });

describe("SpoolStateFile", () => {
  it("reads back the last state written, across reopening; each write goes over a file in place, creating none", async () => {
    const dir = await tempDir();
    const first = await SpoolStateFile.open(dir);
    expect(first.state).toBeUndefined();
    const inodes = async () => Promise.all(["state-0.bin", "state-1.bin"].map(async (f) => (await stat(join(dir, f))).ino));
    const before = await inodes();
    for (let i = 1; i <= 5; i++) await first.file.write(state(i * 10));
    expect(await inodes()).toEqual(before);
    expect((await readdir(dir)).sort()).toEqual(["state-0.bin", "state-1.bin"]);
    await first.file.close();
    const again = await SpoolStateFile.open(dir);
    expect(again.state).toEqual(state(50));
    // A shorter state over a longer one: the length prefix, not the file's size, says where it ends.
    await again.file.write({ cursor: { segment: 4, offset: 0 } });
    await again.file.write({ cursor: { segment: 4, offset: 1 } });
    await again.file.close();
    expect((await stateIn(dir))).toEqual({ cursor: { segment: 4, offset: 1 } });
  });

  it("reads the state before a write torn by a crash (the other slot)", async () => {
    const dir = await tempDir();
    const { file } = await SpoolStateFile.open(dir);
    await file.write(state(10)); // slot 1
    await file.write(state(20)); // slot 0
    await file.close();
    // Slot 0 (the newest) half written: its CRC no longer matches.
    const torn = await readFile(join(dir, "state-0.bin"));
    torn.fill(0, torn.length - 8);
    await writeFile(join(dir, "state-0.bin"), torn);
    const reopened = await SpoolStateFile.open(dir);
    expect(reopened.state).toEqual(state(10));
    // The next write goes over the torn slot, never over the good one.
    await reopened.file.write(state(30));
    await reopened.file.close();
    expect((await stateIn(dir))).toEqual(state(30));
    expect((await readFile(join(dir, "state-1.bin"))).includes(Buffer.from('"offset":10'))).toBe(true);
  });

  it("reads a spool's state.json from before the slots, and removes it once the slots hold the state", async () => {
    const dir = await tempDir();
    await writeFile(join(dir, "state.json"), JSON.stringify({ cursor: { segment: 7, offset: 42 }, batch: { segment: 7, start: 42, end: 99 } }));
    const { file, state: legacy } = await SpoolStateFile.open(dir);
    expect(legacy).toEqual({ cursor: { segment: 7, offset: 42 }, batch: { segment: 7, start: 42, end: 99 } });
    await file.write({ cursor: { segment: 7, offset: 99 } });
    expect(await readdir(dir)).not.toContain("state.json");
    // Written after close (a late commit): still durable.
    await file.close();
    await file.write({ cursor: { segment: 8, offset: 0 } });
    expect((await stateIn(dir))).toEqual({ cursor: { segment: 8, offset: 0 } });
  });
});
