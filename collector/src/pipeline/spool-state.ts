import { constants } from "node:fs";
import { open, readFile, unlink, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { crc32 } from "node:zlib";

/** A span of records of one segment handed out (or prepared) as one insert. */
export interface SpoolBatch {
  segment: number;
  /** Byte offsets in the segment: [start, end). */
  start: number;
  end: number;
}

/** Where consumption stands: what the spool persists before every batch it hands out and after every commit. */
export interface SpoolState {
  cursor: { segment: number; offset: number };
  /** Batches handed out or prepared and not committed, in order (at most two). */
  batches?: SpoolBatch[];
  /** The single open batch, as spools written before `batches` recorded it. */
  batch?: SpoolBatch;
}

const MAGIC = 0x53535254; // "TRSS"
const HEADER_BYTES = 20;
const SLOTS = ["state-0.bin", "state-1.bin"] as const;
/** Where spools before the two slots kept their state (read when no slot holds one). */
const LEGACY_FILE = "state.json";

/**
 * The spool's state on disk, in two slot files written in turn, each in place: the newest write
 * goes over the older of the two (a length, a CRC-32 and a sequence number before the JSON), so a
 * write torn by a crash leaves the other slot, the state before it, to be read. Each write is one
 * positioned write and one fdatasync of a file that already exists: no file is created, renamed or
 * deleted per write (creating a file per state write made ext4 search its inode bitmaps past the
 * many files just deleted, several milliseconds of system time each under ingest load).
 */
export class SpoolStateFile {
  readonly #dir: string;
  /** The slots' open files; undefined once closed (a late write then opens its slot for itself). */
  #handles: readonly [FileHandle, FileHandle] | undefined;
  #seq: number;
  #legacy: string | undefined;

  private constructor(dir: string, handles: [FileHandle, FileHandle], seq: number, legacy: string | undefined) {
    this.#dir = dir;
    this.#handles = handles;
    this.#seq = seq;
    this.#legacy = legacy;
  }

  /** Opens (creating when absent) the slots in `dir`; the state last written, if any. */
  static async open(dir: string): Promise<{ file: SpoolStateFile; state: SpoolState | undefined }> {
    let best: { seq: number; state: SpoolState } | undefined;
    const handles: FileHandle[] = [];
    let created = false;
    for (const name of SLOTS) {
      const path = join(dir, name);
      const existed = await exists(path);
      const handle = await open(path, constants.O_RDWR | constants.O_CREAT, 0o644);
      handles.push(handle);
      created ||= !existed;
      const slot = existed ? readSlot(await handle.readFile()) : undefined;
      if (slot && (!best || slot.seq > best.seq)) best = slot;
    }
    if (created) await syncDir(dir);
    const legacyPath = join(dir, LEGACY_FILE);
    const legacy = best ? undefined : await readLegacy(legacyPath);
    const file = new SpoolStateFile(dir, handles as [FileHandle, FileHandle], best?.seq ?? 0, legacy ? legacyPath : undefined);
    return { file, state: best?.state ?? legacy };
  }

  /** Writes `state` durably (resolves once it is on disk). One write at a time. */
  async write(state: SpoolState): Promise<void> {
    const seq = this.#seq + 1;
    const json = Buffer.from(JSON.stringify(state), "utf8");
    const buf = Buffer.allocUnsafe(HEADER_BYTES + json.length);
    buf.writeUInt32LE(MAGIC, 0);
    buf.writeUInt32LE(json.length, 4);
    buf.writeDoubleLE(seq, 12);
    json.copy(buf, HEADER_BYTES);
    buf.writeUInt32LE(crc32(buf.subarray(12)), 8);
    const handle = this.#handles?.[seq % 2] ?? (await open(join(this.#dir, SLOTS[seq % 2]!), constants.O_RDWR));
    try {
      await handle.write(buf, 0, buf.length, 0);
      await handle.datasync();
    } finally {
      if (this.#handles === undefined) await handle.close();
    }
    this.#seq = seq;
    if (this.#legacy !== undefined) {
      // The slots hold the state now: the old file would only mislead.
      await unlink(this.#legacy).catch(() => undefined);
      this.#legacy = undefined;
    }
  }

  async close(): Promise<void> {
    const handles = this.#handles;
    this.#handles = undefined;
    await Promise.all((handles ?? []).map((h) => h.close()));
  }
}

function readSlot(data: Buffer): { seq: number; state: SpoolState } | undefined {
  if (data.length < HEADER_BYTES || data.readUInt32LE(0) !== MAGIC) return undefined;
  const length = data.readUInt32LE(4);
  if (HEADER_BYTES + length > data.length) return undefined;
  if (crc32(data.subarray(12, HEADER_BYTES + length)) !== data.readUInt32LE(8)) return undefined;
  const state = validState(JSON.parse(data.toString("utf8", HEADER_BYTES, HEADER_BYTES + length)));
  return state && { seq: data.readDoubleLE(12), state };
}

async function readLegacy(path: string): Promise<SpoolState | undefined> {
  try {
    return validState(JSON.parse(await readFile(path, "utf8")));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

function validState(raw: unknown): SpoolState | undefined {
  const s = raw as SpoolState;
  return typeof s?.cursor?.segment === "number" && typeof s.cursor.offset === "number" ? s : undefined;
}

async function exists(path: string): Promise<boolean> {
  try {
    await (await open(path, "r")).close();
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw err;
  }
}

/** Makes the files just created in `dir` durable (their directory entries). */
export async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
