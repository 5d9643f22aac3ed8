import { LowCardinalityColumn, LowCardinalityStringMapColumn, NativeFormatError, NativeWriter, decodeNativeBlocks } from "./native-block.js";
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
];

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
  #rows = 0;

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
    this.endRow();
  }

  /** Ends a row whose columns were written one by one (this ends the row of both maps too). */
  endRow(): void {
    this.attributes.endRow();
    this.resourceAttributes.endRow();
    this.#rows++;
  }

  /** Empties the builder for another block, keeping its buffers. */
  reset(): void {
    for (const c of [this.tenantId, this.serviceName, this.attributes, this.resourceAttributes]) c.reset();
    for (const c of this.#plainColumns()) c.reset();
    this.#rows = 0;
  }

  #plainColumns(): NativeWriter[] {
    return [this.traceId, this.spanId, this.parentSpanId, this.name, this.kind, this.startTime, this.durationNs, this.statusCode];
  }

  /** The block: every row, each stamped with its tenant's retention (clamped). One buffer of about its exact size. */
  finish(retentionDaysOf: (tenantId: string) => number): SpanBlock {
    let bytes = 64 * SPAN_BLOCK_COLUMNS.length + this.#rows * 2 + this.tenantId.maxDataBytes() + this.serviceName.maxDataBytes();
    bytes += this.attributes.maxBytes() + this.resourceAttributes.maxBytes();
    for (const c of this.#plainColumns()) bytes += c.length;
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
  const builder = new SpanBlockBuilder();
  for (const r of rows) builder.addRow(r);
  return builder.finish(retentionDaysOf).payload as Buffer;
}

function startTimeOf(unixNano: string): bigint {
  if (!NANOS.test(unixNano)) return 0n;
  const ns = BigInt(unixNano);
  return ns > INT64_MAX ? 0n : ns;
}

/**
 * The rows of one or more span blocks (what `encodeSpanBlock` encoded; retention is not part of a
 * SpanRow and is dropped). Throws NativeFormatError on bytes that are not span blocks.
 */
export function decodeSpanBlocks(payload: Buffer | readonly Buffer[]): SpanRow[] {
  const rows: SpanRow[] = [];
  for (const block of decodeNativeBlocks(spanBlockBytes(payload))) {
    const col = (name: string): unknown[] => {
      const c = block.columns.find((x) => x.name === name);
      if (c === undefined) throw new NativeFormatError(`a span block without column ${name}`);
      return c.values;
    };
    const [tenant, trace, span, parent, name, kind, start, duration, status, service, attributes, resource] = SPAN_BLOCK_COLUMNS.slice(0, 12).map(([c]) => col(c));
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
        resourceAttributes: resource![i] as Record<string, string>,
      });
    }
  }
  return rows;
}
