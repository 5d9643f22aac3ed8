import { randomUUID } from "node:crypto";
import { mkdir, open, readdir, readFile, rename, unlink, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import { CollectorError } from "../errors.js";
import { decodeSpanBlocks, spanBlockBytes, type SpanBlock } from "../store/span-block.js";
import type { SpanRow } from "../store/span-row.js";

/** Where and how much the spool may hold. */
export interface SpoolOptions<Row = SpanRow> {
  dir: string;
  /** Bound on bytes accepted and not yet consumed; appends past it fail with `overloaded`. */
  maxBytes: number;
  /** A segment file is closed and a new one started past this size. */
  segmentBytes?: number;
  /** Bound on the rows kept in memory for the consumer (beyond, the consumer reads them back from disk). */
  memoryBytes?: number;
  /** Seconds a refused client is told to wait. */
  retryAfterS?: number;
  /** How rows appended as rows are written (default: a JSON array). A spool reads JSON frames whatever its codec. */
  rowCodec?: RowCodec<Row>;
}

/** A binary encoding of a batch of rows, cheaper to write than JSON; `decode` gives back what `encode` was given. */
export interface RowCodec<Row> {
  encode(rows: readonly Row[]): Buffer;
  decode(payload: Buffer): Row[];
}

/** One appended batch of rows, as the consumer sees it. */
export interface SpoolRecord {
  readonly segment: number;
  readonly offset: number;
  readonly end: number;
  readonly rowCount: number;
  readonly bytes: number;
  /** When it was appended (0 for records found on disk at open: they are due at once). */
  readonly appendedAtMs: number;
}

/** A consumer batch: consecutive records of one segment, decided before they are inserted. */
export interface SpoolBatch {
  segment: number;
  start: number;
  end: number;
}

/** What a consumer batch holds: its rows, and the same rows as span blocks when they were spooled so. */
export interface SpoolBatchRead<Row = SpanRow> {
  batch: SpoolBatch;
  batchId: string;
  /** The rows, in spool order (decoded on first access when the batch was spooled as span blocks). */
  readonly rows: Row[];
  /** The batch as span blocks (every record spooled so), to insert as they are; else undefined. */
  readonly block: SpanBlock | undefined;
  /** The rows as the spool's RowCodec wrote them, record by record (every record spooled so); else undefined. */
  readonly encoded: readonly Buffer[] | undefined;
  /**
   * True when some of its records were found on disk at open: a previous run may have inserted part
   * of them before it stopped (a crash in the middle of an insert).
   */
  readonly recovered: boolean;
}

/** A record's content in memory: the rows (JSON or encoded rows frames) or a span block (block frames). */
type RecordContent<Row> = { rows: Row[]; encoded?: Buffer } | { block: Buffer; rowCount: number };

interface RecordEntry<Row> extends SpoolRecord {
  content: RecordContent<Row> | undefined;
}

interface PendingAppend<Row> {
  header: Buffer;
  payload: Buffer;
  content: RecordContent<Row>;
  rowCount: number;
  resolve: () => void;
  reject: (err: unknown) => void;
}

interface SpoolState {
  cursor: { segment: number; offset: number };
  /** Batches handed out or prepared and not committed, in order (at most two). */
  batches?: SpoolBatch[];
  /** The single open batch, as spools written before `batches` recorded it. */
  batch?: SpoolBatch;
}

const MAGIC_JSON_ROWS = 0x54525350; // "TRSP": a JSON array of rows (SpanRows in the span spool)
const MAGIC_SPAN_BLOCK = 0x54525342; // "TRSB": a span block (store/span-block.ts)
const MAGIC_ENCODED_ROWS = 0x54525345; // "TRSE": rows in the spool's RowCodec (usage blocks in the usage spool)
const HEADER_BYTES = 16;
const DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024;
const DEFAULT_MEMORY_BYTES = 64 * 1024 * 1024;
const SEGMENT_PATTERN = /^seg-(\d{12})\.log$/;

/**
 * A durable, bounded, append-only queue of row batches on disk. Guarantees: `append` resolves only
 * after the batch is written and fsynced (concurrent appends share one fsync: group commit); records
 * are consumed in order; a consumer batch is persisted before it is handed out, so after a crash the
 * same batch (same records, same `batchId`) is offered again and a store that deduplicates on
 * `batchId` counts it once. Segment files are deleted only after their records are consumed.
 * Framing: 16-byte header (magic, payload length, row count, CRC-32 of the payload) then the payload:
 * a JSON array of rows (or the rows in the spool's RowCodec, when it has one), or a span block when
 * the appender encoded them (the writer then inserts those bytes as they are, and memory holds them
 * off the JS heap). A torn tail (a crash mid-write, never acknowledged) is truncated at open.
 *
 * `Row` is what a rows frame holds: spans by default; another spool (usage records) keeps its own
 * rows, in its own directory, and never holds span blocks.
 */
export class Spool<Row = SpanRow> {
  /** Stable id of this spool directory; part of every batch id so two collectors never collide. */
  readonly id: string;
  readonly #dir: string;
  readonly #maxBytes: number;
  readonly #segmentBytes: number;
  readonly #memoryBytes: number;
  readonly #retryAfterS: number;
  readonly #rowCodec: RowCodec<Row> | undefined;
  readonly #records: RecordEntry<Row>[] = [];
  #head = 0;
  #cursor: { segment: number; offset: number };
  /** Persisted, uncommitted batches, in order: the one being inserted, and maybe the one after it. */
  #batches: SpoolBatch[];
  /** State writes, one at a time (each writes the state current when it runs). */
  #stateWrites: Promise<void> = Promise.resolve();
  #active: { segment: number; handle: FileHandle; size: number } | undefined;
  #queue: PendingAppend<Row>[] = [];
  #queuedBytes = 0;
  #unconsumedBytes = 0;
  #unconsumedRows = 0;
  /** Records consumed since open: with `recordCount()`, a position that only moves forward (see `consumedCount`). */
  #consumedRecords = 0;
  #cachedBytes = 0;
  #flushing: Promise<void> | undefined;
  #closed = false;
  /** Records found damaged at open (not torn tails): their rows could not be recovered. */
  readonly corruptRecordsAtOpen: number;
  #listeners: (() => void)[] = [];

  private constructor(id: string, options: SpoolOptions<Row>, state: SpoolState, corrupt: number) {
    this.id = id;
    this.#dir = options.dir;
    this.#maxBytes = options.maxBytes;
    this.#segmentBytes = options.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
    this.#memoryBytes = options.memoryBytes ?? DEFAULT_MEMORY_BYTES;
    this.#retryAfterS = options.retryAfterS ?? 2;
    this.#rowCodec = options.rowCodec;
    this.#cursor = state.cursor;
    this.#batches = state.batches ?? (state.batch ? [state.batch] : []);
    this.corruptRecordsAtOpen = corrupt;
  }

  /** Opens (creating when absent) the spool in `options.dir` and finds every unconsumed record. */
  static async open<Row = SpanRow>(options: SpoolOptions<Row>): Promise<Spool<Row>> {
    await mkdir(options.dir, { recursive: true });
    const id = await loadOrCreateId(options.dir);
    const state = await loadState(options.dir);
    const segments = (await readdir(options.dir))
      .map((f) => SEGMENT_PATTERN.exec(f)?.[1])
      .filter((s): s is string => s !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
    const found: RecordEntry<Row>[] = [];
    let corrupt = 0;
    for (const segment of segments) {
      const file = segmentPath(options.dir, segment);
      if (segment < state.cursor.segment) {
        await unlink(file);
        continue;
      }
      const data = await readFile(file);
      let offset = segment === state.cursor.segment ? state.cursor.offset : 0;
      while (offset < data.length) {
        const frame = parseFrame(data, offset);
        if (!frame) break;
        found.push({ segment, offset, end: offset + frame.size, rowCount: frame.rowCount, bytes: frame.size, appendedAtMs: 0, content: undefined });
        offset += frame.size;
      }
      if (offset < data.length) {
        if (segment === segments[segments.length - 1]) {
          // A torn tail: written, never fsynced to completion, never acknowledged.
          const handle = await open(file, "r+");
          await handle.truncate(offset);
          await handle.sync();
          await handle.close();
        } else {
          corrupt++;
        }
      }
    }
    if (state.cursor.segment === 0 || (segments.length > 0 && state.cursor.segment < (segments[0] as number))) {
      state.cursor = { segment: segments[0] ?? 1, offset: 0 };
    }
    const spool = new Spool<Row>(id, options, state, corrupt);
    for (const r of found) {
      spool.#records.push(r);
      spool.#unconsumedBytes += r.bytes;
      spool.#unconsumedRows += r.rowCount;
    }
    const nextSegment = Math.max(state.cursor.segment, ...segments) + 1;
    spool.#active = { segment: nextSegment, handle: await open(segmentPath(options.dir, nextSegment), "a"), size: 0 };
    return spool;
  }

  /**
   * Appends one batch: rows (spooled as JSON, or in the spool's RowCodec), or a span block (spooled
   * as its bytes, which the writer inserts as they are). Resolves once it is on disk (fsynced);
   * rejects with `overloaded` (and a Retry-After) when the spool is at its byte bound.
   */
  append(batch: Row[] | SpanBlock): Promise<void> {
    const rows = Array.isArray(batch) ? batch : undefined;
    const block = Array.isArray(batch) ? undefined : batch;
    if (this.#closed) return Promise.reject(new CollectorError("overloaded", "collector is shutting down", { retryAfterS: this.#retryAfterS }));
    const codec = this.#rowCodec;
    const payload = block ? spanBlockBytes(block.payload) : codec ? codec.encode(rows!) : Buffer.from(JSON.stringify(rows), "utf8");
    const rowCount = block ? block.rowCount : rows!.length;
    const header = Buffer.allocUnsafe(HEADER_BYTES);
    header.writeUInt32LE(block ? MAGIC_SPAN_BLOCK : codec ? MAGIC_ENCODED_ROWS : MAGIC_JSON_ROWS, 0);
    header.writeUInt32LE(payload.length, 4);
    header.writeUInt32LE(rowCount, 8);
    header.writeUInt32LE(crc32(payload), 12);
    const frameBytes = HEADER_BYTES + payload.length;
    if (this.#unconsumedBytes + this.#queuedBytes + frameBytes > this.#maxBytes) {
      return Promise.reject(
        new CollectorError("overloaded", `spool is full (${this.#unconsumedBytes} of ${this.#maxBytes} bytes waiting for the store); retry later`, {
          retryAfterS: this.#retryAfterS,
        }),
      );
    }
    this.#queuedBytes += frameBytes;
    const content: RecordContent<Row> = block ? { block: payload, rowCount } : codec ? { rows: rows!, encoded: payload } : { rows: rows! };
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ header, payload, content, rowCount, resolve, reject });
      if (!this.#flushing) this.#flushing = this.#flushLoop();
    });
  }

  async #flushLoop(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        const group = this.#queue;
        this.#queue = [];
        const groupBytes = group.reduce((n, g) => n + HEADER_BYTES + g.payload.length, 0);
        try {
          const active = await this.#activeSegment();
          await active.handle.writev(group.flatMap((g) => [g.header, g.payload]), active.size);
          await active.handle.datasync();
          let offset = active.size;
          const now = Date.now();
          for (const g of group) {
            const bytes = HEADER_BYTES + g.payload.length;
            const keep = this.#cachedBytes + bytes <= this.#memoryBytes;
            if (keep) this.#cachedBytes += bytes;
            this.#records.push({ segment: active.segment, offset, end: offset + bytes, rowCount: g.rowCount, bytes, appendedAtMs: now, content: keep ? g.content : undefined });
            offset += bytes;
            this.#unconsumedRows += g.rowCount;
          }
          active.size = offset;
          this.#unconsumedBytes += groupBytes;
          this.#queuedBytes -= groupBytes;
          for (const g of group) g.resolve();
          for (const listener of this.#listeners) listener();
        } catch (err) {
          this.#queuedBytes -= groupBytes;
          // The segment may now end in a partial write: continue in a fresh one.
          await this.#rollSegment().catch(() => undefined);
          const failure = new CollectorError("overloaded", `spool write failed: ${(err as Error).message}`, { cause: err, retryAfterS: this.#retryAfterS });
          for (const g of group) g.reject(failure);
        }
      }
    } finally {
      this.#flushing = undefined;
    }
  }

  async #activeSegment(): Promise<{ segment: number; handle: FileHandle; size: number }> {
    if (!this.#active) throw new Error("spool is closed");
    if (this.#active.size >= this.#segmentBytes) await this.#rollSegment();
    return this.#active;
  }

  async #rollSegment(): Promise<void> {
    const previous = this.#active;
    if (!previous) return;
    const segment = previous.segment + 1;
    this.#active = { segment, handle: await open(segmentPath(this.#dir, segment), "a"), size: 0 };
    await previous.handle.close();
  }

  /** Calls `listener` after every durable append (the consumer's wake-up). */
  onAppend(listener: () => void): void {
    this.#listeners.push(listener);
  }

  /** The oldest unconsumed record, if any. */
  peek(): SpoolRecord | undefined {
    return this.#records[this.#head];
  }

  /** When the newest unconsumed record was appended (0 when none, or found on disk at open). */
  lastAppendedAtMs(): number {
    return this.#records.length > this.#head ? (this.#records[this.#records.length - 1] as RecordEntry<Row>).appendedAtMs : 0;
  }

  /** Rows waiting in records of the head record's segment (what one batch may take at most). */
  headSegmentRows(): number {
    const first = this.#records[this.#head];
    if (!first) return 0;
    let rows = 0;
    for (let i = this.#head; i < this.#records.length && (this.#records[i] as RecordEntry<Row>).segment === first.segment; i++) rows += (this.#records[i] as RecordEntry<Row>).rowCount;
    return rows;
  }

  /** True when a batch was persisted and not committed (after a crash: it is offered first, unchanged). */
  hasOpenBatch(): boolean {
    return this.#batches.length > 0;
  }

  /**
   * The next batch: the persisted open batch if there is one, else head records of one segment up to
   * `maxRows` rows (at least one record). Persisted before it is returned. Undefined when empty.
   */
  async nextBatch(maxRows: number): Promise<SpoolBatchRead<Row> | undefined> {
    const first = this.#records[this.#head];
    if (!first) return undefined;
    let batch = this.#batches[0];
    if (!batch || batch.segment !== first.segment || batch.start !== first.offset) {
      batch = this.#formBatch(this.#head, maxRows).batch;
      this.#batches = [batch];
      await this.#saveState();
    }
    const contents: RecordContent<Row>[] = [];
    let recovered = false;
    for (let i = this.#head; i < this.#records.length; i++) {
      const r = this.#records[i] as RecordEntry<Row>;
      if (r.segment !== batch.segment || r.offset >= batch.end) break;
      contents.push(r.content ?? (await this.#readContent(r)));
      if (r.appendedAtMs === 0) recovered = true;
    }
    return batchRead(batch, `${this.id}-${batch.segment}-${batch.start}-${batch.end}`, contents, recovered);
  }

  /**
   * While the head batch is being inserted: when the records after it already fill a batch of
   * `maxRows`, forms and persists that following batch now, so `nextBatch` after the commit hands it
   * out without waiting for a state write. Nothing changes otherwise.
   */
  async prepareFollowingBatch(maxRows: number): Promise<void> {
    const head = this.#batches[0];
    if (!head || this.#batches.length > 1) return;
    let i = this.#head;
    while (i < this.#records.length) {
      const r = this.#records[i] as RecordEntry<Row>;
      if (r.segment !== head.segment || r.offset >= head.end) break;
      i++;
    }
    if (i >= this.#records.length) return;
    const following = this.#formBatch(i, maxRows);
    if (following.rows < maxRows && following.endIndex === this.#records.length - 1) return; // not full: the writer may yet wait for more
    this.#batches = [head, following.batch];
    await this.#saveState();
  }

  /** The batch starting at record `from`: records of its segment up to `maxRows` rows (at least one). */
  #formBatch(from: number, maxRows: number): { batch: SpoolBatch; rows: number; endIndex: number } {
    const first = this.#records[from] as RecordEntry<Row>;
    let end = first.end;
    let rows = first.rowCount;
    let endIndex = from;
    for (let i = from + 1; i < this.#records.length; i++) {
      const r = this.#records[i] as RecordEntry<Row>;
      if (r.segment !== first.segment || rows + r.rowCount > maxRows) break;
      rows += r.rowCount;
      end = r.end;
      endIndex = i;
    }
    return { batch: { segment: first.segment, start: first.offset, end }, rows, endIndex };
  }

  /** Marks a batch consumed (after the store resolved its insert); deletes segments left empty. */
  async commit(batch: SpoolBatch): Promise<void> {
    while (this.#head < this.#records.length) {
      const r = this.#records[this.#head] as RecordEntry<Row>;
      if (r.segment !== batch.segment || r.offset >= batch.end) break;
      this.#unconsumedBytes -= r.bytes;
      this.#unconsumedRows -= r.rowCount;
      if (r.content) this.#cachedBytes -= r.bytes;
      this.#records[this.#head] = undefined as unknown as RecordEntry<Row>;
      this.#head++;
      this.#consumedRecords++;
    }
    if (this.#head > 1024 && this.#head * 2 > this.#records.length) {
      this.#records.splice(0, this.#head);
      this.#head = 0;
    }
    const head = this.#batches[0];
    if (head && head.segment === batch.segment && head.start === batch.start) this.#batches.shift();
    this.#cursor = { segment: batch.segment, offset: batch.end };
    const next = this.#records[this.#head];
    const activeSegment = this.#active?.segment ?? batch.segment;
    const nextSegment = next ? next.segment : activeSegment;
    if (nextSegment > batch.segment) {
      this.#cursor = { segment: nextSegment, offset: 0 };
      await this.#saveState();
      for (let s = batch.segment; s < nextSegment; s++) await unlink(segmentPath(this.#dir, s)).catch(() => undefined);
    }
  }

  /** Bytes accepted and not yet consumed. */
  bytes(): number {
    return this.#unconsumedBytes;
  }

  /** The byte bound. */
  maxBytes(): number {
    return this.#maxBytes;
  }

  /** Records not yet consumed. */
  recordCount(): number {
    return this.#records.length - this.#head;
  }

  /**
   * Records consumed since open, and (`appendedCount`) records held since open, found at open or
   * appended: counts that only grow. Every record appended before `appendedCount()` read n is
   * consumed once `consumedCount()` reaches n, since records are consumed in order.
   */
  consumedCount(): number {
    return this.#consumedRecords;
  }

  appendedCount(): number {
    return this.#consumedRecords + this.recordCount();
  }

  /** Rows not yet consumed. */
  rowCount(): number {
    return this.#unconsumedRows;
  }

  /** Waits for in-flight appends, persists the cursor and closes the files. Unconsumed records stay for the next open. */
  async close(): Promise<void> {
    this.#closed = true;
    while (this.#flushing) await this.#flushing;
    await this.#saveState();
    await this.#active?.handle.close();
    this.#active = undefined;
  }

  async #readContent(r: RecordEntry<Row>): Promise<RecordContent<Row>> {
    const handle = await open(segmentPath(this.#dir, r.segment), "r");
    try {
      const buf = Buffer.allocUnsafe(r.bytes);
      await handle.read(buf, 0, r.bytes, r.offset);
      const frame = parseFrame(buf, 0);
      if (!frame) throw new Error(`spool record ${r.segment}:${r.offset} is damaged`);
      const payload = buf.subarray(HEADER_BYTES, frame.size);
      if (frame.magic === MAGIC_SPAN_BLOCK) return { block: payload, rowCount: frame.rowCount };
      if (frame.magic === MAGIC_ENCODED_ROWS) {
        if (!this.#rowCodec) throw new Error(`spool record ${r.segment}:${r.offset} holds encoded rows and this spool has no row codec`);
        return { rows: this.#rowCodec.decode(payload), encoded: payload };
      }
      return { rows: JSON.parse(payload.toString("utf8")) as Row[] };
    } finally {
      await handle.close();
    }
  }

  #saveState(): Promise<void> {
    const write = this.#stateWrites.catch(() => undefined).then(() => this.#writeState());
    this.#stateWrites = write;
    return write;
  }

  async #writeState(): Promise<void> {
    const state: SpoolState = { cursor: this.#cursor, ...(this.#batches.length > 0 ? { batches: this.#batches } : {}) };
    await writeDurably(this.#dir, "state.json", JSON.stringify(state));
  }
}

function segmentPath(dir: string, segment: number): string {
  return join(dir, `seg-${String(segment).padStart(12, "0")}.log`);
}

/** A batch's contents as the consumer reads them: blocks concatenated when every record has one. */
function batchRead<Row>(batch: SpoolBatch, batchId: string, contents: RecordContent<Row>[], recovered: boolean): SpoolBatchRead<Row> {
  let block: SpanBlock | undefined;
  if (contents.every((c) => "block" in c)) {
    const parts = contents as { block: Buffer; rowCount: number }[];
    block = {
      payload: parts.map((c) => c.block),
      rowCount: parts.reduce((n, c) => n + c.rowCount, 0),
    };
  }
  const encoded = contents.every((c) => "encoded" in c && c.encoded !== undefined) ? contents.map((c) => (c as { encoded: Buffer }).encoded) : undefined;
  let rows: Row[] | undefined;
  return {
    batch,
    batchId,
    block,
    encoded,
    recovered,
    get rows(): Row[] {
      if (!rows) {
        rows = [];
        // Span blocks hold spans: only a span spool (Row = SpanRow) has them.
        for (const c of contents) for (const row of "rows" in c ? c.rows : (decodeSpanBlocks(c.block) as Row[])) rows.push(row);
      }
      return rows;
    },
  };
}

function parseFrame(data: Buffer, offset: number): { size: number; rowCount: number; magic: number } | undefined {
  if (offset + HEADER_BYTES > data.length) return undefined;
  const magic = data.readUInt32LE(offset);
  if (magic !== MAGIC_JSON_ROWS && magic !== MAGIC_SPAN_BLOCK && magic !== MAGIC_ENCODED_ROWS) return undefined;
  const length = data.readUInt32LE(offset + 4);
  const size = HEADER_BYTES + length;
  if (offset + size > data.length) return undefined;
  if (crc32(data.subarray(offset + HEADER_BYTES, offset + size)) !== data.readUInt32LE(offset + 12)) return undefined;
  return { size, rowCount: data.readUInt32LE(offset + 8), magic };
}

async function writeDurably(dir: string, name: string, content: string): Promise<void> {
  const tmp = join(dir, `${name}.tmp`);
  const handle = await open(tmp, "w");
  try {
    await handle.writeFile(content);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tmp, join(dir, name));
  const dirHandle = await open(dir, "r");
  try {
    await dirHandle.sync();
  } finally {
    await dirHandle.close();
  }
}

async function loadOrCreateId(dir: string): Promise<string> {
  try {
    const meta = JSON.parse(await readFile(join(dir, "meta.json"), "utf8")) as { id?: unknown };
    if (typeof meta.id === "string" && /^[0-9a-f-]{36}$/.test(meta.id)) return meta.id;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  const id = randomUUID();
  await writeDurably(dir, "meta.json", JSON.stringify({ id }));
  return id;
}

async function loadState(dir: string): Promise<SpoolState> {
  try {
    const raw = JSON.parse(await readFile(join(dir, "state.json"), "utf8")) as SpoolState;
    if (typeof raw.cursor?.segment === "number" && typeof raw.cursor.offset === "number") return raw;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  return { cursor: { segment: 0, offset: 0 } };
}

