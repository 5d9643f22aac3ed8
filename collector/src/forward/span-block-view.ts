import { STORED_ATTRIBUTE_TYPES, type StoredAttributeType } from "../store/attribute-types.js";
import { NativeFormatError } from "../store/native-block.js";
import { SPAN_BLOCK_COLUMNS } from "../store/span-block.js";

/** For each entry of a block's `attribute_types` map: the index (in the attributes' key dictionary) of the key it types (-1: none), and the type. */
export interface AttributeTypeIndex {
  entryKey: Int32Array;
  entryType: (StoredAttributeType | undefined)[];
}

/**
 * A span block (store/span-block.ts: ClickHouse Native, as the spool and the store hold it) read in
 * place: where each row's values lie in the payload, without making a string or an object per
 * value. The forwarder's encoder copies values from here straight into OTLP (a Native String and a
 * protobuf string are both `varint(length) utf8`). Blocks written before schema 7 (13 columns) read
 * with the later columns empty. Throws NativeFormatError on bytes that are not span blocks; never
 * reads past the payload.
 */
export class SpanBlockView {
  readonly data: Buffer;
  readonly rowCount: number;
  readonly tenant: DictionaryColumnView;
  readonly traceId: StringColumnView;
  readonly spanId: StringColumnView;
  readonly parentSpanId: StringColumnView;
  readonly name: StringColumnView;
  /** Byte offset of the UInt8 kinds, the Int64 start times, the UInt64 durations, the UInt8 status codes. */
  readonly kindAt: number;
  readonly startTimeAt: number;
  readonly durationAt: number;
  readonly statusCodeAt: number;
  readonly serviceName: DictionaryColumnView;
  readonly attributes: MapColumnView;
  readonly resourceAttributes: MapColumnView;
  readonly attributeTypes: MapColumnView | undefined;
  readonly resourceAttributeTypes: MapColumnView | undefined;
  readonly scopeName: DictionaryColumnView | undefined;
  readonly scopeVersion: DictionaryColumnView | undefined;
  readonly traceState: StringColumnView | undefined;
  /** Byte offset of the UInt32 flags (-1: a block without them). */
  readonly flagsAt: number;
  readonly events: StringColumnView | undefined;
  readonly links: StringColumnView | undefined;
  #typeIndex: AttributeTypeIndex | undefined;

  private constructor(data: Buffer, rowCount: number, columns: Map<string, unknown>) {
    this.data = data;
    this.rowCount = rowCount;
    const need = <T>(name: string): T => {
      const c = columns.get(name);
      if (c === undefined) throw new NativeFormatError(`a span block without column ${name}`);
      return c as T;
    };
    this.tenant = need("tenant_id");
    this.traceId = need("trace_id");
    this.spanId = need("span_id");
    this.parentSpanId = need("parent_span_id");
    this.name = need("name");
    this.kindAt = need("kind");
    this.startTimeAt = need("start_time");
    this.durationAt = need("duration_ns");
    this.statusCodeAt = need("status_code");
    this.serviceName = need("service_name");
    this.attributes = need("attributes");
    this.resourceAttributes = need("resource_attributes");
    this.attributeTypes = columns.get("attribute_types") as MapColumnView | undefined;
    this.resourceAttributeTypes = columns.get("resource_attribute_types") as MapColumnView | undefined;
    this.scopeName = columns.get("scope_name") as DictionaryColumnView | undefined;
    this.scopeVersion = columns.get("scope_version") as DictionaryColumnView | undefined;
    this.traceState = columns.get("trace_state") as StringColumnView | undefined;
    this.flagsAt = (columns.get("flags") as number | undefined) ?? -1;
    this.events = columns.get("events") as StringColumnView | undefined;
    this.links = columns.get("links") as StringColumnView | undefined;
  }

  /**
   * The blocks of a span payload (one block, or several back to back). The views' index arrays come
   * from `arena` when given (valid until its next reset), else are allocated.
   */
  static read(payload: Buffer, arena: Uint32Arena = new Uint32Arena()): SpanBlockView[] {
    const r = new Cursor(payload, arena);
    const views: SpanBlockView[] = [];
    while (r.pos < payload.length) {
      const columnCount = r.varUInt();
      const rowCount = r.varUInt();
      const columns = new Map<string, unknown>();
      for (let c = 0; c < columnCount; c++) {
        const name = r.text();
        const type = r.text();
        const expected = SPAN_BLOCK_COLUMNS.find(([n]) => n === name)?.[1];
        if (expected !== type) throw new NativeFormatError(`unexpected span block column ${name} ${type}`);
        columns.set(name, readColumn(r, type, rowCount));
      }
      views.push(new SpanBlockView(payload, rowCount, columns));
    }
    return views;
  }

  kind(row: number): number {
    return this.data[this.kindAt + row]!;
  }

  statusCode(row: number): number {
    return this.data[this.statusCodeAt + row]!;
  }

  flags(row: number): number {
    return this.flagsAt < 0 ? 0 : this.data.readUInt32LE(this.flagsAt + 4 * row);
  }

  /** The row's string value of a String column, decoded (for what is not copied as bytes). */
  text(column: StringColumnView | undefined, row: number): string {
    if (column === undefined) return "";
    return this.data.toString("utf8", column.contentStart(this.data, row), column.bounds[row + 1]!);
  }

  /** The attribute types in the attributes' key numbering (computed once per block). */
  attributeTypeIndex(): AttributeTypeIndex {
    if (this.#typeIndex !== undefined) return this.#typeIndex;
    const types = this.attributeTypes;
    const count = types === undefined || this.rowCount === 0 ? 0 : types.end(this.rowCount - 1);
    const index: AttributeTypeIndex = { entryKey: new Int32Array(count), entryType: new Array<StoredAttributeType | undefined>(count) };
    if (types !== undefined && count > 0) {
      const keys = this.attributes.keys;
      const keyIndexOf = new Map<string, number>();
      for (let k = 0; k < keys.size; k++) keyIndexOf.set(keys.value(this.data, k), k);
      const attributeKeyOf = Array.from({ length: types.keys.size }, (_, k) => keyIndexOf.get(types.keys.value(this.data, k)) ?? -1);
      const bounds = types.values.bounds;
      for (let t = 0; t < count; t++) {
        index.entryKey[t] = attributeKeyOf[types.keys.indexes[t]!]!;
        index.entryType[t] = typeNamed(this.data, bounds[t]!, bounds[t + 1]!);
      }
    }
    return (this.#typeIndex = index);
  }

  /** A row's map as an object of texts (resource attributes and types, once per group). */
  map(column: MapColumnView | undefined, row: number): Record<string, string> {
    const out: Record<string, string> = {};
    if (column === undefined) return out;
    for (let e = column.start(row), end = column.end(row); e < end; e++) {
      Object.defineProperty(out, column.keys.value(this.data, column.keys.indexes[e]!), {
        value: this.data.toString("utf8", column.values.contentStart(this.data, e), column.values.bounds[e + 1]!),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return out;
  }
}

/** A String column: value i is `varint(length) utf8` at `data[bounds[i], bounds[i + 1])`. */
export class StringColumnView {
  constructor(readonly bounds: Uint32Array) {}

  /** Where value i's UTF-8 starts (after its length prefix). */
  contentStart(data: Buffer, i: number): number {
    let p = this.bounds[i]!;
    while (data[p]! >= 0x80) p++;
    return p + 1;
  }

  /** Whether value i is the empty string. */
  isEmpty(i: number): boolean {
    return this.bounds[i + 1]! - this.bounds[i]! === 1;
  }
}

/** A LowCardinality(String) column: a dictionary of `varint(length) utf8` ranges and one index per value. */
export class DictionaryColumnView {
  readonly #texts: (string | undefined)[] = [];

  constructor(
    /** Dictionary entry k is at `data[entryBounds[k], entryBounds[k + 1])`. */
    readonly entryBounds: Uint32Array,
    /** The dictionary index of each value. */
    readonly indexes: Uint32Array,
  ) {}

  get size(): number {
    return this.entryBounds.length - 1;
  }

  /** Dictionary entry k, decoded (once). */
  value(data: Buffer, k: number): string {
    let text = this.#texts[k];
    if (text === undefined) {
      let p = this.entryBounds[k]!;
      while (data[p]! >= 0x80) p++;
      text = data.toString("utf8", p + 1, this.entryBounds[k + 1]!);
      this.#texts[k] = text;
    }
    return text;
  }

  /** The value of row i. */
  at(data: Buffer, i: number): string {
    return this.value(data, this.indexes[i]!);
  }
}

/** A Map(LowCardinality(String), String) column: a row's entries are `[ends[row - 1], ends[row])`, each a key index and a String value. */
export class MapColumnView {
  constructor(
    readonly data: Buffer,
    /** Cumulative entry counts per row. */
    readonly ends: Uint32Array,
    readonly keys: DictionaryColumnView,
    readonly values: StringColumnView,
  ) {}

  start(row: number): number {
    return row === 0 ? 0 : this.ends[row - 1]!;
  }

  end(row: number): number {
    return this.ends[row]!;
  }

  /** Whether two rows hold the same entries (same keys in the same order, same value bytes). */
  sameRows(a: number, b: number): boolean {
    const as = this.start(a);
    const bs = this.start(b);
    const n = this.ends[a]! - as;
    if (this.ends[b]! - bs !== n) return false;
    const keys = this.keys.indexes;
    for (let i = 0; i < n; i++) if (keys[as + i] !== keys[bs + i]) return false;
    if (n === 0) return true;
    const bounds = this.values.bounds;
    const aStart = bounds[as]!;
    const length = bounds[as + n]! - aStart;
    const bStart = bounds[bs]!;
    if (bounds[bs + n]! - bStart !== length) return false;
    return sameBytes(this.data, aStart, this.data, bStart, length);
  }
}

/** One row's attribute types by key index (in the attributes' key dictionary), loaded row after row (reused, nothing allocated per row). */
export class RowAttributeTypes {
  readonly #byKey: (StoredAttributeType | undefined)[] = [];
  readonly #loaded: number[] = [];

  /** Loads the types of `row` of `v` (its block's `index`), forgetting the row before. */
  load(v: SpanBlockView, row: number, index: AttributeTypeIndex): void {
    for (const key of this.#loaded) this.#byKey[key] = undefined;
    this.#loaded.length = 0;
    const types = v.attributeTypes;
    if (types === undefined) return;
    for (let t = types.start(row), end = types.end(row); t < end; t++) {
      const key = index.entryKey[t]!;
      if (key < 0) continue;
      this.#byKey[key] = index.entryType[t];
      this.#loaded.push(key);
    }
  }

  /** The loaded row's type of the attribute with key index `key`; undefined: a plain string. */
  of(key: number): StoredAttributeType | undefined {
    return this.#byKey[key];
  }
}

/** Whether `a[aStart, aStart + length)` and `b[bStart, bStart + length)` hold the same bytes (a loop: cheaper than Buffer#compare's call for the short ranges compared here). */
export function sameBytes(a: Buffer, aStart: number, b: Buffer, bStart: number, length: number): boolean {
  for (let i = 0; i < length; i++) if (a[aStart + i] !== b[bStart + i]) return false;
  return true;
}

/** The stored type names as bytes, to recognize a stored `varint(length) name` String without making a string. */
const TYPE_NAMES = [...STORED_ATTRIBUTE_TYPES].map((name) => ({ type: name as StoredAttributeType, bytes: Buffer.from(name, "latin1") }));

/** The stored type a `varint(length) name` String names (undefined for a name that is none). */
function typeNamed(d: Buffer, start: number, end: number): StoredAttributeType | undefined {
  const length = end - start - 1;
  for (const { type, bytes } of TYPE_NAMES) if (bytes.length === length && sameBytes(d, start + 1, bytes, 0, length)) return type;
  return undefined;
}

/**
 * Uint32 arrays carved from one reused backing array, so reading a block allocates no index arrays
 * (they were a quarter megabyte per 4,096 spans, outside the V8 heap, which V8 counts toward its
 * next full collection). Everything taken is valid until `reset`; the backing array keeps the
 * largest size used, up to `maxKeptElements`.
 */
export class Uint32Arena {
  #backing: Uint32Array;
  #used = 0;
  readonly #maxKeptElements: number;

  constructor(initialElements = 0, maxKeptElements = 4 * 1024 * 1024) {
    this.#backing = new Uint32Array(initialElements);
    this.#maxKeptElements = maxKeptElements;
  }

  /** `length` elements (their contents undefined until written). */
  take(length: number): Uint32Array {
    if (this.#used + length > this.#backing.length) {
      // A larger backing array for what follows; arrays taken earlier keep the old one alive until they go.
      this.#backing = new Uint32Array(Math.max(2 * this.#backing.length, length, 1024));
      this.#used = 0;
    }
    const taken = this.#backing.subarray(this.#used, this.#used + length);
    this.#used += length;
    return taken;
  }

  /** Takes back everything taken. */
  reset(): void {
    this.#used = 0;
    if (this.#backing.length > this.#maxKeptElements) this.#backing = new Uint32Array(0);
  }
}

const LC_VERSION = 1n;
const LC_HAS_ADDITIONAL_KEYS = 1 << 9;

function readColumn(r: Cursor, type: string, rows: number): unknown {
  switch (type) {
    case "String":
      return new StringColumnView(r.strings(rows));
    case "UInt8":
      return r.skip(rows);
    case "UInt16":
      return r.skip(2 * rows);
    case "UInt32":
      return r.skip(4 * rows);
    case "UInt64":
    case "DateTime64(9, 'UTC')":
      return r.skip(8 * rows);
    case "LowCardinality(String)":
      r.lowCardinalityPrefix();
      return r.dictionary(rows);
    case "Map(LowCardinality(String), String)": {
      r.lowCardinalityPrefix();
      const offsetsAt = r.skip(8 * rows);
      const ends = r.arena.take(rows);
      for (let i = 0; i < rows; i++) {
        const end = r.data.readUInt32LE(offsetsAt + 8 * i);
        if (r.data.readUInt32LE(offsetsAt + 8 * i + 4) !== 0 || end < (i === 0 ? 0 : ends[i - 1]!)) throw new NativeFormatError("map offsets out of order");
        ends[i] = end;
      }
      const total = rows === 0 ? 0 : ends[rows - 1]!;
      const keys = total === 0 ? new DictionaryColumnView(r.arena.take(1), r.arena.take(0)) : r.dictionary(total);
      return new MapColumnView(r.data, ends, keys, new StringColumnView(r.strings(total)));
    }
    default:
      throw new NativeFormatError(`unsupported column type ${JSON.stringify(type)}`);
  }
}

class Cursor {
  pos = 0;
  constructor(
    readonly data: Buffer,
    readonly arena: Uint32Arena,
  ) {}

  #need(bytes: number): void {
    if (this.pos + bytes > this.data.length) throw new NativeFormatError("truncated Native data");
  }

  varUInt(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 9; i++) {
      this.#need(1);
      const b = this.data[this.pos++]!;
      result += (b & 0x7f) * scale;
      if (b < 0x80) return result;
      scale *= 128;
    }
    throw new NativeFormatError("varUInt too long");
  }

  text(): string {
    const n = this.varUInt();
    this.#need(n);
    this.pos += n;
    return this.data.toString("utf8", this.pos - n, this.pos);
  }

  /** Skips `bytes`, returning where they start. */
  skip(bytes: number): number {
    this.#need(bytes);
    const at = this.pos;
    this.pos += bytes;
    return at;
  }

  /** The bounds of `count` consecutive Strings. */
  strings(count: number): Uint32Array {
    const bounds = this.arena.take(count + 1);
    const data = this.data;
    let p = this.pos;
    for (let i = 0; i < count; i++) {
      bounds[i] = p;
      let n: number;
      const b = data[p];
      if (b !== undefined && b < 0x80) {
        // One-byte length: almost every value.
        n = b;
        p++;
      } else {
        this.pos = p;
        n = this.varUInt();
        p = this.pos;
      }
      p += n;
      if (p > data.length) throw new NativeFormatError("truncated Native data");
    }
    bounds[count] = p;
    this.pos = p;
    return bounds;
  }

  lowCardinalityPrefix(): void {
    this.#need(8);
    if (this.data.readBigUInt64LE(this.pos) !== LC_VERSION) throw new NativeFormatError("unsupported LowCardinality serialization version");
    this.pos += 8;
  }

  dictionary(rows: number): DictionaryColumnView {
    this.#need(16);
    const flags = Number(this.data.readBigUInt64LE(this.pos));
    const size = Number(this.data.readBigUInt64LE(this.pos + 8));
    this.pos += 16;
    if ((flags & LC_HAS_ADDITIONAL_KEYS) === 0) throw new NativeFormatError("LowCardinality column without its keys");
    const indexType = flags & 0xff;
    if (indexType > 2) throw new NativeFormatError("unsupported LowCardinality index type");
    if (size < 1 || size > this.data.length) throw new NativeFormatError("LowCardinality dictionary size out of range");
    const entryBounds = this.strings(size);
    this.#need(8);
    const count = Number(this.data.readBigUInt64LE(this.pos));
    this.pos += 8;
    if (count !== rows) throw new NativeFormatError(`LowCardinality column has ${count} rows, expected ${rows}`);
    const width = 1 << indexType;
    const at = this.skip(width * count);
    const indexes = this.arena.take(count);
    const d = this.data;
    for (let i = 0; i < count; i++) {
      // Every index must name an entry: the encoder reads entries by index without checking again.
      const index = width === 1 ? d[at + i]! : width === 2 ? d.readUInt16LE(at + 2 * i) : d.readUInt32LE(at + 4 * i);
      if (index >= size) throw new NativeFormatError("LowCardinality index out of its dictionary");
      indexes[i] = index;
    }
    const view = new DictionaryColumnView(entryBounds, indexes);
    return view;
  }
}
