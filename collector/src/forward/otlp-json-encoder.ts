import { otlpAnyValue, type AttributeTypes, type OtlpJsonAnyValue, type StoredAttributeType } from "../store/attribute-types.js";
import { decodeSpanEvents, decodeSpanLinks } from "../store/span-events.js";
import { ByteWriter } from "./byte-writer.js";
import { RowAttributeTypes, SpanBlockView, Uint32Arena, type AttributeTypeIndex, type StringColumnView } from "./span-block-view.js";
import { groupResource, groupSpans } from "./span-groups.js";
import { EncodeSlices } from "./encode-slices.js";
import { TypedValueMemo } from "./typed-value-memo.js";

/** What the encoder derives once per block: each attribute key's `{"key":…,"value":` bytes, the types, the last typed values. */
interface BlockKeys {
  keyPrefixes: Buffer[];
  types: AttributeTypeIndex;
  typedValues: TypedValueMemo<Buffer>;
}

/**
 * Encodes span blocks (as the spool holds them) as one OTLP ExportTraceServiceRequest in the
 * OTLP/JSON mapping: ids as hex, int64 (times, int attributes) as decimal strings, enums as numbers,
 * non-finite doubles as the strings OTLP/JSON uses. The same spans, grouping and resource as
 * OtlpProtobufTraceEncoder (span-groups.ts), each value with the AnyValue type it was sent with;
 * text is copied straight from the block's bytes unless it needs escaping. One per sender: the body
 * is lent from its buffer until its next call.
 */
export class OtlpJsonTraceEncoder {
  readonly #w = new ByteWriter(64 * 1024, 32 * 1024 * 1024);
  readonly #arena = new Uint32Arena();
  readonly #rowTypes = new RowAttributeTypes();

  /** The request's bytes, lent from this encoder's buffer until its next `encode`; yields between slices of spans (EncodeSlices). */
  async encode(payloads: readonly Buffer[]): Promise<Buffer> {
    const slices = new EncodeSlices();
    this.#arena.reset();
    const views = payloads.flatMap((p) => SpanBlockView.read(p, this.#arena));
    const w = this.#w;
    const keys = new Map<SpanBlockView, BlockKeys>();
    w.ascii('{"resourceSpans":[');
    let firstGroup = true;
    for (const group of groupSpans(views)) {
      const { attributes, types } = groupResource(group);
      w.utf8(`${firstGroup ? "" : ","}{"resource":{"attributes":${JSON.stringify(keyValues(attributes, types))}},"scopeSpans":[`);
      firstGroup = false;
      let firstScope = true;
      for (const scope of group.scopes.values()) {
        w.utf8(`${firstScope ? "" : ","}{"scope":${JSON.stringify({ name: scope.name, ...(scope.version !== "" ? { version: scope.version } : {}) })},"spans":[`);
        firstScope = false;
        let firstSpan = true;
        for (const { view, rows } of scope.parts) {
          let k = keys.get(view);
          if (k === undefined) keys.set(view, (k = blockKeys(view)));
          for (const row of rows) {
            if (!firstSpan) w.byte(0x2c);
            firstSpan = false;
            this.#span(view, row, k);
            await slices.next();
          }
        }
        w.ascii("]}");
      }
      w.ascii("]}");
    }
    w.ascii("]}");
    return w.lend();
  }

  #span(v: SpanBlockView, row: number, keys: BlockKeys): void {
    const w = this.#w;
    const d = v.data;
    w.ascii('{"traceId":"');
    content(w, d, v.traceId, row);
    w.ascii('","spanId":"');
    content(w, d, v.spanId, row);
    w.byte(0x22);
    if (v.traceState !== undefined && !v.traceState.isEmpty(row)) {
      w.ascii(',"traceState":');
      jsonString(w, d, v.traceState, row);
    }
    if (!v.parentSpanId.isEmpty(row)) {
      w.ascii(',"parentSpanId":"');
      content(w, d, v.parentSpanId, row);
      w.byte(0x22);
    }
    const flags = v.flags(row);
    if (flags !== 0) w.ascii(`,"flags":${flags}`);
    w.ascii(',"name":');
    jsonString(w, d, v.name, row);
    const start = d.readBigUInt64LE(v.startTimeAt + 8 * row);
    const end = BigInt.asUintN(64, start + d.readBigUInt64LE(v.durationAt + 8 * row));
    w.ascii(`,"kind":${v.kind(row)},"startTimeUnixNano":"${start}","endTimeUnixNano":"${end}","attributes":[`);
    const attributes = v.attributes;
    const values = attributes.values;
    const rowTypes = this.#rowTypes;
    rowTypes.load(v, row, keys.types);
    for (let e = attributes.start(row), last = attributes.end(row); e < last; e++) {
      const key = attributes.keys.indexes[e]!;
      const type = rowTypes.of(key);
      if (e > attributes.start(row)) w.byte(0x2c);
      w.copy(keys.keyPrefixes[key]!);
      if (type === undefined || type === "truncated") {
        w.ascii('{"stringValue":');
        jsonString(w, d, values, e);
      } else if (type === "int" && isDecimalInt(d, values.contentStart(d, e), values.bounds[e + 1]!)) {
        w.ascii('{"intValue":"');
        content(w, d, values, e);
        w.byte(0x22);
      } else {
        w.copy(keys.typedValues.get(key, type, d, values.contentStart(d, e), values.bounds[e + 1]!, anyValueJson));
        continue;
      }
      w.ascii("}}");
    }
    w.byte(0x5d);
    if (v.events !== undefined && !v.events.isEmpty(row)) {
      const events = decodeSpanEvents(v.text(v.events, row)).map((e) => ({ timeUnixNano: e.timeUnixNano, name: e.name, attributes: keyValues(e.attributes, e.attributeTypes) }));
      w.utf8(`,"events":${JSON.stringify(events)}`);
    }
    if (v.links !== undefined && !v.links.isEmpty(row)) {
      const links = decodeSpanLinks(v.text(v.links, row)).map((l) => ({
        traceId: l.traceId,
        spanId: l.spanId,
        ...(l.traceState !== "" ? { traceState: l.traceState } : {}),
        attributes: keyValues(l.attributes, l.attributeTypes),
        ...(l.flags !== 0 ? { flags: l.flags } : {}),
      }));
      w.utf8(`,"links":${JSON.stringify(links)}`);
    }
    const code = v.statusCode(row);
    w.ascii(code === 0 ? ',"status":{}}' : `,"status":{"code":${code}}}`);
  }
}

/** `"value":…}` of a typed value: its AnyValue's JSON and the KeyValue's closing brace. */
function anyValueJson(text: string, type: StoredAttributeType): Buffer {
  return Buffer.from(`${JSON.stringify(otlpAnyValue(text, type))}}`, "utf8");
}

function keyValues(attributes: Record<string, string>, types: AttributeTypes): { key: string; value: OtlpJsonAnyValue }[] {
  return Object.keys(attributes).map((key) => ({ key, value: otlpAnyValue(attributes[key]!, types[key]) }));
}

function blockKeys(v: SpanBlockView): BlockKeys {
  const dictionary = v.attributes.keys;
  const keyPrefixes = Array.from({ length: dictionary.size }, (_, k) => Buffer.from(`{"key":${JSON.stringify(dictionary.value(v.data, k))},"value":`, "utf8"));
  return { keyPrefixes, types: v.attributeTypeIndex(), typedValues: new TypedValueMemo() };
}

/** A String value's bytes as they are (hex ids, decimal digits: nothing to escape). */
function content(w: ByteWriter, d: Buffer, column: StringColumnView, i: number): void {
  w.copyRange(d, column.contentStart(d, i), column.bounds[i + 1]!);
}

/** A String value as a JSON string: its UTF-8 bytes as they are unless a character needs escaping. */
function jsonString(w: ByteWriter, d: Buffer, column: StringColumnView, i: number): void {
  const start = column.contentStart(d, i);
  const end = column.bounds[i + 1]!;
  for (let p = start; p < end; p++) {
    const c = d[p]!;
    if (c < 0x20 || c === 0x22 || c === 0x5c) {
      w.utf8(JSON.stringify(d.toString("utf8", start, end)));
      return;
    }
  }
  w.byte(0x22);
  w.copyRange(d, start, end);
  w.byte(0x22);
}

/** Whether `d[start, end)` is an optional minus and 1-20 decimal digits. */
function isDecimalInt(d: Buffer, start: number, end: number): boolean {
  const first = d[start] === 0x2d ? start + 1 : start;
  if (end - first < 1 || end - first > 20) return false;
  for (let p = first; p < end; p++) if (d[p]! < 0x30 || d[p]! > 0x39) return false;
  return true;
}
