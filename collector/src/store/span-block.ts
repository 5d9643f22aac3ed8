import { LowCardinalityColumn, LowCardinalityStringMapColumn, NativeFormatError, NativeWriter, decodeNativeBlocks } from "./native-block.js";
import { STORED_ATTRIBUTE_TYPES, type AttributeTypes } from "./attribute-types.js";
import { decodeSpanEvents, decodeSpanLinks, encodeSpanEvents, encodeSpanLinks } from "./span-events.js";
import type { SpanRow } from "./span-row.js";

/** The ClickHouse input format of span blocks. */
export const SPAN_BLOCK_FORMAT = "Native";

/** The spans-table columns a span block holds, with their exact table types (derived columns are the table's). */
export const SPAN_BLOCK_COLUMNS: readonly (readonly [name: string, type: string])[] = [
  ["tenant_id", "LowCardinality(String)"],
  ["trace_id", "String"],
  ["span_id", "String"],
  ["parent_span_id", "String"],
  ["name", "String"],
  ["kind", "UInt8"],
  ["start_time", "DateTime64(9, 'UTC')"],
  ["duration_ns", "UInt64"],
  ["status_code", "UInt8"],
  ["service_name", "LowCardinality(String)"],
  ["attributes", "Map(LowCardinality(String), String)"],
  ["resource_attributes", "Map(LowCardinality(String), String)"],
  ["retention_days", "UInt16"],
  // Since schema 7 (a block of only the columns above is a block written before it; see spanBlockColumnNames).
  ["attribute_types", "Map(LowCardinality(String), String)"],
  ["resource_attribute_types", "Map(LowCardinality(String), String)"],
  ["scope_name", "LowCardinality(String)"],
  ["scope_version", "LowCardinality(String)"],
  ["trace_state", "String"],
  ["flags", "UInt32"],
  ["events", "String"],
  ["links", "String"],
];

/** How many columns a span block written before schema 7 holds (the first ones of SPAN_BLOCK_COLUMNS). */
export const SCHEMA_6_SPAN_BLOCK_COLUMNS = 13;

/**
 * The column names a span payload holds, for its INSERT: blocks spooled by an earlier version hold
 * only the first 13 columns (the table fills the rest with their defaults). Throws NativeFormatError
 * on bytes that do not start with a span block.
 */
export function spanBlockColumnNames(payload: Buffer | readonly Buffer[]): readonly string[] {
  const first = Buffer.isBuffer(payload) ? payload : payload[0];
  const count = first === undefined || first.length === 0 ? SPAN_BLOCK_COLUMNS.length : first[0]!;
  if (count === SPAN_BLOCK_COLUMNS.length) return SPAN_BLOCK_COLUMN_NAMES;
  if (count === SCHEMA_6_SPAN_BLOCK_COLUMNS) return SPAN_BLOCK_COLUMN_NAMES.slice(0, SCHEMA_6_SPAN_BLOCK_COLUMNS);
  throw new NativeFormatError(`a span block with ${count} columns (expected ${SPAN_BLOCK_COLUMNS.length} or ${SCHEMA_6_SPAN_BLOCK_COLUMNS})`);
}

const SPAN_BLOCK_COLUMN_NAMES = SPAN_BLOCK_COLUMNS.map(([name]) => name);

/**
 * Encoded spans and how many rows they hold: one span block, or several back to back, given as
 * parts in order (a batch is inserted without first being joined into one buffer).
 */
export interface SpanBlock {
  payload: Buffer | readonly Buffer[];
  rowCount: number;
}

/** The bytes of a block's payload as one buffer. */
export function spanBlockBytes(payload: Buffer | readonly Buffer[]): Buffer {
  return Buffer.isBuffer(payload) ? payload : Buffer.concat(payload);
}

/** Retention is clamped to what the UInt16 column and the TTL accept. */
export function clampRetentionDays(days: number): number {
  return Math.max(1, Math.min(65535, Math.floor(days)));
}

const INT64_MAX = 2n ** 63n - 1n;
const NANOS = /^\d{1,19}$/;

/**
 * Builds one span block column by column: rows added whole (`addRow`), or field by field by a
 * decoder that writes straight from the wire (the public columns; each row must give every column
 * exactly one value, then `endRow`). `finish` stamps each row with its tenant's retention and
 * returns the block. Guarantees (both ways): the bytes insert as they are into the spans table of
 * both engines (no re-encoding; the types are the table's, so nothing is converted), string values
 * are carried exactly as UTF-8 (no escaping to get wrong), and `decodeSpanBlocks` gives the rows back.
 */
export class SpanBlockBuilder {
  readonly tenantId = new LowCardinalityColumn();
  readonly traceId = new NativeWriter();
  readonly spanId = new NativeWriter();
  readonly parentSpanId = new NativeWriter();
  readonly name = new NativeWriter();
  readonly kind = new NativeWriter(1024);
  /** Int64 nanoseconds since the epoch (0 for a start time that does not fit). */
  readonly startTime = new NativeWriter();
  readonly durationNs = new NativeWriter();
  readonly statusCode = new NativeWriter(1024);
  readonly serviceName = new LowCardinalityColumn();
  readonly attributes = new LowCardinalityStringMapColumn();
  readonly resourceAttributes = new LowCardinalityStringMapColumn();
  /** Per row, the types of its attributes that are not plain strings (attribute-types.ts). */
  readonly attributeTypes = new LowCardinalityStringMapColumn();
  readonly resourceAttributeTypes = new LowCardinalityStringMapColumn();
  readonly scopeName = new LowCardinalityColumn();
  readonly scopeVersion = new LowCardinalityColumn();
  readonly traceState = new NativeWriter(4096);
  /** UInt32 per row. */
  readonly flags = new NativeWriter(4096);
  /** The JSON text of encodeSpanEvents per row ("" for none). */
  readonly events = new NativeWriter(4096);
  /** The JSON text of encodeSpanLinks per row ("" for none). */
  readonly links = new NativeWriter(4096);
  #rows = 0;

  /** A builder holding `rows`, added whole in order. */
  static of(rows: readonly SpanRow[]): SpanBlockBuilder {
    const builder = new SpanBlockBuilder();
    for (const row of rows) builder.addRow(row);
    return builder;
  }

  get rowCount(): number {
    return this.#rows;
  }

  /** The distinct tenants of the rows so far. */
  tenantIds(): string[] {
    const used = new Set<number>();
    this.tenantId.forEachIndex((index) => used.add(index));
    return [...this.tenantId.dictionary.keys()].filter((_, index) => used.has(index));
  }

  /** Adds a whole row. A start time that is not a nanosecond count fitting DateTime64 is stored as 0. */
  addRow(row: SpanRow): void {
    this.tenantId.add(row.tenantId);
    this.traceId.string(row.traceId);
    this.spanId.string(row.spanId);
    this.parentSpanId.string(row.parentSpanId);
    this.name.string(row.name);
    this.kind.uint8(row.kind);
    this.startTime.int64(startTimeOf(row.startTimeUnixNano));
    this.durationNs.uint64(row.durationNs);
    this.statusCode.uint8(row.statusCode);
    this.serviceName.add(row.serviceName);
    addMap(this.attributes, row.attributes);
    addMap(this.resourceAttributes, row.resourceAttributes);
    addMap(this.attributeTypes, row.attributeTypes);
    addMap(this.resourceAttributeTypes, row.resourceAttributeTypes);
    this.scopeName.add(row.scopeName);
    this.scopeVersion.add(row.scopeVersion);
    this.traceState.string(row.traceState);
    this.flags.uint32(row.flags);
    this.events.string(encodeSpanEvents(row.events));
    this.links.string(encodeSpanLinks(row.links));
    this.endRow();
  }

  /** Ends a row whose columns were written one by one (this ends the row of the four maps too). */
  endRow(): void {
    this.attributes.endRow();
    this.resourceAttributes.endRow();
    this.attributeTypes.endRow();
    this.resourceAttributeTypes.endRow();
    this.#rows++;
  }

  /** Empties the builder for another block, keeping its buffers. */
  reset(): void {
    for (const c of this.#dictionaryColumns()) c.reset();
    for (const c of this.#maps()) c.reset();
    for (const c of this.#plainColumns()) c.reset();
    for (const c of this.#laterPlainColumns()) c.reset();
    this.#rows = 0;
  }

  #plainColumns(): NativeWriter[] {
    return [this.traceId, this.spanId, this.parentSpanId, this.name, this.kind, this.startTime, this.durationNs, this.statusCode];
  }

  #dictionaryColumns(): LowCardinalityColumn[] {
    return [this.tenantId, this.serviceName, this.scopeName, this.scopeVersion];
  }

  #maps(): LowCardinalityStringMapColumn[] {
    return [this.attributes, this.resourceAttributes, this.attributeTypes, this.resourceAttributeTypes];
  }

  #laterPlainColumns(): NativeWriter[] {
    return [this.traceState, this.flags, this.events, this.links];
  }

  /** The block: every row, each stamped with its tenant's retention (clamped). One buffer of about its exact size. */
  finish(retentionDaysOf: (tenantId: string) => number): SpanBlock {
    let bytes = 64 * SPAN_BLOCK_COLUMNS.length + this.#rows * 2;
    for (const c of this.#dictionaryColumns()) bytes += c.maxDataBytes();
    for (const c of this.#maps()) bytes += c.maxBytes();
    for (const c of this.#plainColumns()) bytes += c.length;
    for (const c of this.#laterPlainColumns()) bytes += c.length;
    const w = new NativeWriter(bytes);
    w.varUInt(SPAN_BLOCK_COLUMNS.length);
    w.varUInt(this.#rows);
    const header = (i: number): void => w.column(...SPAN_BLOCK_COLUMNS[i]!);
    header(0);
    w.lowCardinalityPrefix();
    this.tenantId.writeData(w);
    this.#plainColumns().forEach((column, i) => {
      header(i + 1);
      w.bytes(column.view());
    });
    header(9);
    w.lowCardinalityPrefix();
    this.serviceName.writeData(w);
    header(10);
    this.attributes.write(w);
    header(11);
    this.resourceAttributes.write(w);
    header(12);
    const tenants = [...this.tenantId.dictionary.keys()];
    const days: number[] = [];
    this.tenantId.forEachIndex((index) => w.uint16((days[index] ??= clampRetentionDays(retentionDaysOf(tenants[index]!)))));
    header(13);
    this.attributeTypes.write(w);
    header(14);
    this.resourceAttributeTypes.write(w);
    header(15);
    w.lowCardinalityPrefix();
    this.scopeName.writeData(w);
    header(16);
    w.lowCardinalityPrefix();
    this.scopeVersion.writeData(w);
    this.#laterPlainColumns().forEach((column, i) => {
      header(17 + i);
      w.bytes(column.view());
    });
    return { payload: w.finish(), rowCount: this.#rows };
  }
}

function addMap(column: LowCardinalityStringMapColumn, map: Record<string, string>): void {
  for (const k in map) {
    column.keys.add(k);
    column.values.string(map[k]!);
  }
}

/**
 * Encodes rows as one span block (see SpanBlockBuilder), each row stamped with its tenant's
 * retention. Blocks are self-contained, so the encodings of two batches concatenate into one valid payload.
 */
export function encodeSpanBlock(rows: readonly SpanRow[], retentionDaysOf: (tenantId: string) => number): Buffer {
  return SpanBlockBuilder.of(rows).finish(retentionDaysOf).payload as Buffer;
}

function startTimeOf(unixNano: string): bigint {
  if (!NANOS.test(unixNano)) return 0n;
  const ns = BigInt(unixNano);
  return ns > INT64_MAX ? 0n : ns;
}

/**
 * The rows of one or more span blocks (what `encodeSpanBlock` encoded; retention is not part of a
 * SpanRow and is dropped; a block written before schema 7 gives its rows the new fields' defaults).
 * Throws NativeFormatError on bytes that are not span blocks.
 */
export function decodeSpanBlocks(payload: Buffer | readonly Buffer[]): SpanRow[] {
  const rows: SpanRow[] = [];
  for (const block of decodeNativeBlocks(spanBlockBytes(payload))) {
    const col = (name: string): unknown[] => {
      const c = block.columns.find((x) => x.name === name);
      if (c === undefined) throw new NativeFormatError(`a span block without column ${name}`);
      return c.values;
    };
    const later = (name: string, empty: unknown): unknown[] => block.columns.find((x) => x.name === name)?.values ?? new Array<unknown>(block.rowCount).fill(empty);
    const [tenant, trace, span, parent, name, kind, start, duration, status, service, attributes, resource] = SPAN_BLOCK_COLUMNS.slice(0, 12).map(([c]) => col(c));
    const [types, resourceTypes] = ["attribute_types", "resource_attribute_types"].map((c) => later(c, {}));
    const [scopeName, scopeVersion, traceState, events, links] = ["scope_name", "scope_version", "trace_state", "events", "links"].map((c) => later(c, ""));
    const flags = later("flags", 0);
    for (let i = 0; i < block.rowCount; i++) {
      rows.push({
        tenantId: tenant![i] as string,
        traceId: trace![i] as string,
        spanId: span![i] as string,
        parentSpanId: parent![i] as string,
        name: name![i] as string,
        kind: kind![i] as number,
        startTimeUnixNano: (start![i] as bigint).toString(),
        durationNs: Number(duration![i] as bigint),
        statusCode: status![i] as number,
        serviceName: service![i] as string,
        attributes: attributes![i] as Record<string, string>,
        attributeTypes: storedTypes(types![i] as Record<string, string>),
        resourceAttributes: resource![i] as Record<string, string>,
        resourceAttributeTypes: storedTypes(resourceTypes![i] as Record<string, string>),
        scopeName: scopeName![i] as string,
        scopeVersion: scopeVersion![i] as string,
        traceState: traceState![i] as string,
        flags: flags[i] as number,
        events: decodeSpanEvents(events![i] as string),
        links: decodeSpanLinks(links![i] as string),
      });
    }
  }
  return rows;
}

/** A stored types map with only the type names attribute-types.ts defines. */
export function storedTypes(map: Record<string, string>): AttributeTypes {
  const out: AttributeTypes = {};
  for (const key in map) if (STORED_ATTRIBUTE_TYPES.has(map[key]!)) out[key] = map[key] as AttributeTypes[string];
  return out;
}
