/**
 * ClickHouse's Native format (a stream of column-oriented blocks), for the column types the
 * collector writes: String, LowCardinality(String), UInt8, UInt16, UInt32, UInt64, DateTime64(9, 'UTC') and
 * Map(LowCardinality(String), String). Native is what the engine parses fastest (its own memory
 * layout: no per-value text parsing), and both chDB (file() table function) and a server
 * (`INSERT ... FORMAT Native`) read it. Blocks are self-contained: two encodings back to back are a
 * valid stream.
 *
 * Layout of a block: varUInt column count, varUInt row count, then per column its name, its type
 * name and its data. A String is varUInt byte length + UTF-8 bytes; numbers are little-endian.
 * LowCardinality(String) is a dictionary column: a UInt64 serialization version (1) in the column's
 * prefix, then a UInt64 index type with flag bits, the dictionary (its first key is the default ''),
 * the row count and one index per row. Map(K, V) is Array(Tuple(K, V)): K's prefix, cumulative
 * UInt64 offsets per row, every key, every value.
 */

const HEX_DIGITS = Buffer.from("0123456789abcdef", "latin1");

/** The LowCardinality serialization version with additional keys (the only one the engine writes). */
const LC_SHARED_DICTIONARIES_WITH_ADDITIONAL_KEYS = 1n;
/** LowCardinality index flags: the keys come with the block, and replace any previous dictionary. */
const LC_HAS_ADDITIONAL_KEYS = 1 << 9;
const LC_NEED_UPDATE_DICTIONARY = 1 << 10;
const LC_INDEX_TYPE_MASK = 0xff;

/** A growable output buffer with the Native format's primitives. */
export class NativeWriter {
  #buf: Buffer;
  #pos = 0;

  constructor(initialBytes = 64 * 1024) {
    this.#buf = Buffer.allocUnsafe(initialBytes);
  }

  /** Empties the writer, keeping its buffer for reuse (unless it grew past `keepBytes`). */
  reset(keepBytes = 16 * 1024 * 1024): void {
    this.#pos = 0;
    if (this.#buf.length > keepBytes) this.#buf = Buffer.allocUnsafe(64 * 1024);
  }

  /** Makes room for `bytes` more. */
  ensure(bytes: number): void {
    if (this.#pos + bytes <= this.#buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.#buf.length * 2, this.#pos + bytes));
    this.#buf.copy(grown, 0, 0, this.#pos);
    this.#buf = grown;
  }

  varUInt(value: number): void {
    this.ensure(10);
    let v = value;
    while (v >= 0x80) {
      this.#buf[this.#pos++] = (v & 0x7f) | 0x80;
      v = Math.floor(v / 128);
    }
    this.#buf[this.#pos++] = v;
  }

  /** A String value: byte length, then UTF-8 (lone surrogates become U+FFFD, as in any UTF-8 encoding). */
  string(value: string): void {
    const len = value.length;
    if (len < 128) {
      // Short ASCII (ids, names, most attribute values) is copied by a plain loop: cheaper than a
      // native encoder call per value. The first non-ASCII unit falls back to the encoder.
      this.ensure(1 + len * 3);
      const buf = this.#buf;
      const at = this.#pos + 1;
      let i = 0;
      for (; i < len; i++) {
        const c = value.charCodeAt(i);
        if (c >= 0x80) break;
        buf[at + i] = c;
      }
      if (i === len) {
        buf[this.#pos] = len;
        this.#pos = at + len;
        return;
      }
      if (len <= 42) {
        // At most 126 UTF-8 bytes: the length still fits one byte.
        const n = buf.write(value, at, "utf8");
        buf[this.#pos] = n;
        this.#pos = at + n;
        return;
      }
    }
    const n = Buffer.byteLength(value, "utf8");
    this.varUInt(n);
    this.ensure(n);
    this.#pos += this.#buf.write(value, this.#pos, n, "utf8");
  }

  /** Bytes `data[start, end)` as they are (no length prefix). */
  rawBytes(data: Uint8Array, start: number, end: number): void {
    const length = end - start;
    this.ensure(length);
    const buf = this.#buf;
    if (length <= 64) for (let i = start, pos = this.#pos; i < end; i++, pos++) buf[pos] = data[i]!;
    else buf.set(data.subarray(start, end), this.#pos);
    this.#pos += length;
  }

  /** Bytes as they are (e.g. a string column encoded earlier). */
  bytes(value: Uint8Array): void {
    this.ensure(value.length);
    this.#buf.set(value, this.#pos);
    this.#pos += value.length;
  }

  /**
   * A String value from UTF-8 bytes `data[start, end)`: copied as they are when ASCII; otherwise
   * decoded and re-encoded, so invalid sequences become U+FFFD exactly as `string()` of the decoded text.
   * Returns whether the bytes were ASCII (and so copied).
   */
  stringFromUtf8(data: Uint8Array, start: number, end: number): boolean {
    const len = end - start;
    let i = start;
    while (i < end && data[i]! < 0x80) i++;
    if (i < end) {
      this.string(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("utf8", start, end));
      return false;
    }
    this.varUInt(len);
    this.ensure(len);
    const buf = this.#buf;
    let pos = this.#pos;
    if (len <= 64) for (let j = start; j < end; j++) buf[pos++] = data[j]!;
    else {
      buf.set(data.subarray(start, end), pos);
      pos += len;
    }
    this.#pos = pos;
    return true;
  }

  /** A String value: the lowercase hex of bytes `data[start, start + length)` (as Buffer#toString("hex")). */
  hexString(data: Uint8Array, start: number, length: number): void {
    this.ensure(1 + length * 2 + 9);
    this.varUInt(length * 2);
    const buf = this.#buf;
    let pos = this.#pos;
    for (let j = start; j < start + length; j++) {
      const b = data[j]!;
      buf[pos++] = HEX_DIGITS[b >> 4]!;
      buf[pos++] = HEX_DIGITS[b & 15]!;
    }
    this.#pos = pos;
  }

  /** A String value: the decimal text of a safe integer, exactly as `String(value)` (no string made). */
  integerText(value: number): void {
    if (!Number.isSafeInteger(value)) {
      this.string(String(value));
      return;
    }
    this.ensure(22);
    const buf = this.#buf;
    const at = this.#pos + 1;
    let pos = at;
    let v = value;
    if (v < 0) {
      buf[pos++] = 45; // "-"
      v = -v;
    }
    let digits = 1;
    for (let rest = Math.floor(v / 10); rest > 0; rest = Math.floor(rest / 10)) digits++;
    pos += digits;
    for (let i = pos - 1; i >= pos - digits; i--) {
      buf[i] = 48 + (v % 10);
      v = Math.floor(v / 10);
    }
    buf[this.#pos] = pos - at;
    this.#pos = pos;
  }

  /** A 64-bit value from its 32-bit halves, little-endian. */
  uint32Pair(lo: number, hi: number): void {
    this.ensure(8);
    this.#buf.writeUInt32LE(lo >>> 0, this.#pos);
    this.#buf.writeUInt32LE(hi >>> 0, this.#pos + 4);
    this.#pos += 8;
  }

  /** Bytes written so far. */
  get length(): number {
    return this.#pos;
  }

  /** The bytes written so far (a view, valid until the next write). */
  view(): Buffer {
    return this.#buf.subarray(0, this.#pos);
  }

  uint8(value: number): void {
    this.ensure(1);
    this.#buf[this.#pos++] = value;
  }

  uint16(value: number): void {
    this.ensure(2);
    this.#pos = this.#buf.writeUInt16LE(value, this.#pos);
  }

  uint32(value: number): void {
    this.ensure(4);
    this.#pos = this.#buf.writeUInt32LE(value >>> 0, this.#pos);
  }

  /** A UInt64 from a non-negative safe integer (or any finite number, truncated and clamped at 0). */
  uint64(value: number): void {
    this.ensure(8);
    if (value >= 0 && value < 0x1_0000_0000) {
      // Map offsets and most durations: byte stores, without writeUInt32LE's checks and the division.
      const buf = this.#buf;
      const pos = this.#pos;
      const v = value >>> 0;
      buf[pos] = v;
      buf[pos + 1] = v >>> 8;
      buf[pos + 2] = v >>> 16;
      buf[pos + 3] = v >>> 24;
      buf[pos + 4] = 0;
      buf[pos + 5] = 0;
      buf[pos + 6] = 0;
      buf[pos + 7] = 0;
      this.#pos = pos + 8;
      return;
    }
    const v = value > 0 ? Math.floor(value) : 0;
    this.#buf.writeUInt32LE(v % 0x1_0000_0000, this.#pos);
    this.#buf.writeUInt32LE(Math.min(0xffff_ffff, Math.floor(v / 0x1_0000_0000)), this.#pos + 4);
    this.#pos += 8;
  }

  /** A Float64, little-endian IEEE 754 (the engine's own layout). */
  float64(value: number): void {
    this.ensure(8);
    this.#pos = this.#buf.writeDoubleLE(value, this.#pos);
  }

  int64(value: bigint): void {
    this.ensure(8);
    this.#pos = this.#buf.writeBigInt64LE(value, this.#pos);
  }

  /** A column header: its name and its ClickHouse type name. */
  column(name: string, type: string): void {
    this.string(name);
    this.string(type);
  }

  /** The prefix of a LowCardinality column (also the first thing of a Map whose keys are LowCardinality). */
  lowCardinalityPrefix(): void {
    this.int64(LC_SHARED_DICTIONARIES_WITH_ADDITIONAL_KEYS);
  }

  /** The data of a LowCardinality(String) column (after its prefix) from its dictionary and the first `count` indexes. */
  lowCardinalityIndexes(dictionary: LowCardinalityDictionary, indexes: Uint32Array, count: number): void {
    const size = dictionary.size;
    const indexType = size <= 0x100 ? 0 : size <= 0x1_0000 ? 1 : 2;
    this.uint64(indexType | LC_HAS_ADDITIONAL_KEYS | LC_NEED_UPDATE_DICTIONARY);
    this.uint64(size);
    for (const key of dictionary.keys()) this.string(key);
    this.uint64(count);
    this.ensure(count << indexType);
    if (indexType === 0) for (let i = 0; i < count; i++) this.#buf[this.#pos++] = indexes[i]!;
    else if (indexType === 1) for (let i = 0; i < count; i++) this.#pos = this.#buf.writeUInt16LE(indexes[i]!, this.#pos);
    else for (let i = 0; i < count; i++) this.#pos = this.#buf.writeUInt32LE(indexes[i]!, this.#pos);
  }

  /** What was written: a copy when much of the buffer is unused, so a kept block holds no slack memory. */
  finish(): Buffer {
    const used = this.#buf.subarray(0, this.#pos);
    return this.#pos * 4 < this.#buf.length * 3 ? Buffer.from(used) : used;
  }
}

/** The distinct values of a LowCardinality column, numbered in order of first use after the default ''. */
export class LowCardinalityDictionary {
  readonly #index = new Map<string, number>([["", 0]]);

  /** Back to just the default ''. */
  clear(): void {
    this.#index.clear();
    this.#index.set("", 0);
  }

  get size(): number {
    return this.#index.size;
  }

  indexOf(value: string): number {
    let index = this.#index.get(value);
    if (index === undefined) {
      index = this.#index.size;
      this.#index.set(value, index);
    }
    return index;
  }

  keys(): IterableIterator<string> {
    return this.#index.keys();
  }
}

/** A LowCardinality(String) column being built: one dictionary index per value. */
export class LowCardinalityColumn {
  readonly dictionary = new LowCardinalityDictionary();
  #indexes = new Uint32Array(1024);
  #count = 0;

  get count(): number {
    return this.#count;
  }

  /** Bytes the column's data will take, at most. */
  maxDataBytes(): number {
    let keyBytes = 0;
    for (const key of this.dictionary.keys()) keyBytes += 10 + key.length * 3;
    return 24 + keyBytes + this.#count * 4;
  }

  reset(): void {
    this.dictionary.clear();
    this.#count = 0;
  }

  add(value: string): void {
    this.addIndex(this.dictionary.indexOf(value));
  }

  /** Adds a value by its index in `dictionary`. */
  addIndex(index: number): void {
    if (this.#count === this.#indexes.length) {
      const grown = new Uint32Array(this.#count * 2);
      grown.set(this.#indexes);
      this.#indexes = grown;
    }
    this.#indexes[this.#count++] = index;
  }

  /** Calls `f` with each value's dictionary index, in order. */
  forEachIndex(f: (index: number) => void): void {
    for (let i = 0; i < this.#count; i++) f(this.#indexes[i]!);
  }

  /** Writes the column's data (after its prefix, which a Map writes before its offsets). */
  writeData(w: NativeWriter): void {
    w.lowCardinalityIndexes(this.dictionary, this.#indexes, this.#count);
  }
}

/** A Map(LowCardinality(String), String) column being built: keys and values of each row, then `endRow()`. */
export class LowCardinalityStringMapColumn {
  readonly keys = new LowCardinalityColumn();
  /** The String values, in key order: write each value right after adding its key. */
  readonly values = new NativeWriter();
  readonly #offsets = new NativeWriter();

  /** Ends the current row's map. */
  endRow(): void {
    this.#offsets.uint64(this.keys.count);
  }

  /** Bytes `write` will take, at most. */
  maxBytes(): number {
    return 8 + this.#offsets.length + this.keys.maxDataBytes() + this.values.length;
  }

  reset(): void {
    this.keys.reset();
    this.values.reset();
    this.#offsets.reset();
  }

  write(w: NativeWriter): void {
    w.lowCardinalityPrefix();
    w.bytes(this.#offsets.view());
    if (this.keys.count > 0) this.keys.writeData(w);
    w.bytes(this.values.view());
  }
}

/** A decoded column: its name, type and values (numbers as bigint for 64-bit types). */
export interface NativeColumn {
  name: string;
  type: string;
  values: unknown[];
}

/** A decoded block. */
export interface NativeBlock {
  rowCount: number;
  columns: NativeColumn[];
}

/** Raised for bytes that are not a Native stream of the supported types. */
export class NativeFormatError extends Error {
  override readonly name = "NativeFormatError";
}

/**
 * Decodes a Native stream (one or more blocks) of the supported column types. Throws
 * NativeFormatError on truncated data or an unsupported type; never reads past the buffer.
 */
export function decodeNativeBlocks(data: Buffer): NativeBlock[] {
  const r = new NativeReader(data);
  const blocks: NativeBlock[] = [];
  while (!r.atEnd()) {
    const columnCount = r.varUInt();
    const rowCount = r.varUInt();
    const columns: NativeColumn[] = [];
    for (let c = 0; c < columnCount; c++) {
      const name = r.string();
      const type = r.string();
      columns.push({ name, type, values: readColumn(r, type, rowCount) });
    }
    blocks.push({ rowCount, columns });
  }
  return blocks;
}

function readColumn(r: NativeReader, type: string, rows: number): unknown[] {
  const out = new Array<unknown>(rows);
  switch (type) {
    case "String":
      for (let i = 0; i < rows; i++) out[i] = r.string();
      return out;
    case "UInt8":
      for (let i = 0; i < rows; i++) out[i] = r.uint(1);
      return out;
    case "UInt16":
      for (let i = 0; i < rows; i++) out[i] = r.uint(2);
      return out;
    case "UInt32":
      for (let i = 0; i < rows; i++) out[i] = r.uint(4);
      return out;
    case "UInt64":
      for (let i = 0; i < rows; i++) out[i] = r.bigUInt64();
      return out;
    case "DateTime64(9, 'UTC')":
    case "DateTime64(3, 'UTC')":
      for (let i = 0; i < rows; i++) out[i] = r.bigInt64();
      return out;
    case "Float64":
      for (let i = 0; i < rows; i++) out[i] = r.float64();
      return out;
    case "Bool":
      for (let i = 0; i < rows; i++) out[i] = r.uint(1) !== 0;
      return out;
    case "LowCardinality(String)":
      r.lowCardinalityPrefix();
      return r.lowCardinalityData(rows);
    case "Map(LowCardinality(String), String)": {
      r.lowCardinalityPrefix();
      const ends: number[] = [];
      for (let i = 0; i < rows; i++) ends.push(Number(r.bigUInt64()));
      const total = ends.length === 0 ? 0 : ends[ends.length - 1]!;
      if (ends.some((e, i) => e < (i === 0 ? 0 : ends[i - 1]!))) throw new NativeFormatError("map offsets decrease");
      const keys = total === 0 ? [] : r.lowCardinalityData(total);
      const values: string[] = [];
      for (let i = 0; i < total; i++) values.push(r.string());
      let start = 0;
      for (let i = 0; i < rows; i++) {
        const entries: [string, string][] = [];
        for (let j = start; j < ends[i]!; j++) entries.push([keys[j]!, values[j]!]);
        // fromEntries, not assignment: a key such as "__proto__" stays an own key.
        out[i] = Object.fromEntries(entries);
        start = ends[i]!;
      }
      return out;
    }
    default:
      throw new NativeFormatError(`unsupported column type ${JSON.stringify(type)}`);
  }
}

class NativeReader {
  #pos = 0;
  readonly #data: Buffer;

  constructor(data: Buffer) {
    this.#data = data;
  }

  atEnd(): boolean {
    return this.#pos >= this.#data.length;
  }

  #need(bytes: number): void {
    if (this.#pos + bytes > this.#data.length) throw new NativeFormatError("truncated Native data");
  }

  varUInt(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 9; i++) {
      this.#need(1);
      const b = this.#data[this.#pos++]!;
      result += (b & 0x7f) * scale;
      if (b < 0x80) return result;
      scale *= 128;
    }
    throw new NativeFormatError("varUInt too long");
  }

  string(): string {
    const n = this.varUInt();
    this.#need(n);
    const s = this.#data.toString("utf8", this.#pos, this.#pos + n);
    this.#pos += n;
    return s;
  }

  uint(width: 1 | 2 | 4): number {
    this.#need(width);
    const v = width === 1 ? this.#data[this.#pos]! : width === 2 ? this.#data.readUInt16LE(this.#pos) : this.#data.readUInt32LE(this.#pos);
    this.#pos += width;
    return v;
  }

  bigUInt64(): bigint {
    this.#need(8);
    const v = this.#data.readBigUInt64LE(this.#pos);
    this.#pos += 8;
    return v;
  }

  float64(): number {
    this.#need(8);
    const v = this.#data.readDoubleLE(this.#pos);
    this.#pos += 8;
    return v;
  }

  bigInt64(): bigint {
    this.#need(8);
    const v = this.#data.readBigInt64LE(this.#pos);
    this.#pos += 8;
    return v;
  }

  lowCardinalityPrefix(): void {
    if (this.bigUInt64() !== LC_SHARED_DICTIONARIES_WITH_ADDITIONAL_KEYS) throw new NativeFormatError("unsupported LowCardinality serialization version");
  }

  lowCardinalityData(rows: number): string[] {
    const flags = Number(this.bigUInt64());
    if ((flags & LC_HAS_ADDITIONAL_KEYS) === 0) throw new NativeFormatError("LowCardinality column without its keys");
    const indexType = flags & LC_INDEX_TYPE_MASK;
    if (indexType > 2) throw new NativeFormatError("unsupported LowCardinality index type");
    const dictionarySize = Number(this.bigUInt64());
    const dictionary: string[] = [];
    for (let i = 0; i < dictionarySize; i++) dictionary.push(this.string());
    const count = Number(this.bigUInt64());
    if (count !== rows) throw new NativeFormatError(`LowCardinality column has ${count} rows, expected ${rows}`);
    const out = new Array<string>(count);
    const width = (1 << indexType) as 1 | 2 | 4;
    for (let i = 0; i < count; i++) {
      const value = dictionary[this.uint(width)];
      if (value === undefined) throw new NativeFormatError("LowCardinality index out of its dictionary");
      out[i] = value;
    }
    return out;
  }
}
