import { otlpAnyValue, type StoredAttributeType } from "../store/attribute-types.js";
import { decodeSpanEvents, decodeSpanLinks } from "../store/span-events.js";
import { ProtoWriter } from "./proto-writer.js";
import { RowAttributeTypes, SpanBlockView, Uint32Arena, type AttributeTypeIndex, type StringColumnView } from "./span-block-view.js";
import { groupResource, groupSpans, type ResourceGroup } from "./span-groups.js";
import { EncodeSlices } from "./encode-slices.js";
import { TypedValueMemo } from "./typed-value-memo.js";
import { writeScope, writeSpanEvent, writeSpanLink } from "./otlp-protobuf-parts.js";

// Tags (field << 3 | wire type) of the OTLP trace messages written here.
const TAG_RESOURCE_SPANS = 0x0a;
const TAG_RESOURCE = 0x0a;
const TAG_RESOURCE_ATTRIBUTE = 0x0a;
const TAG_SCOPE_SPANS = 0x12;
const TAG_SPAN = 0x12;
const TAG_SPAN_ATTRIBUTE = 0x4a;

/** What the encoder derives once per block: each attribute key's KeyValue.key field, the types, the last typed values. */
interface BlockKeys {
  keyFields: Buffer[];
  types: AttributeTypeIndex;
  typedValues: TypedValueMemo<Buffer>;
}

/**
 * Encodes span blocks (as the spool holds them) as one OTLP ExportTraceServiceRequest in protobuf,
 * straight from the block's bytes: names, string values and tracestate are copied as they are,
 * hex ids become bytes, times are exact (end = start + duration, in 64 bits). Spans are grouped by
 * tenant and resource (ResourceSpans), then by instrumentation scope (ScopeSpans, the scope as sent:
 * an empty name for spans stored without one), in first-seen order. Attributes, resource
 * attributes, events and links carry the AnyValue type each value was sent with. One instance per
 * sender: it keeps a scratch buffer (bounded) between calls.
 */
export class OtlpProtobufTraceEncoder {
  readonly #w = new ProtoWriter(64 * 1024, 32 * 1024 * 1024);
  readonly #arena = new Uint32Arena();
  readonly #rowTypes = new RowAttributeTypes();

  /**
   * The request's bytes, in this encoder's buffer: valid until its next `encode` (a sender encodes
   * its next request only once the last is settled, so no request's bytes are copied). Yields to the
   * event loop between slices of spans (EncodeSlices); one `encode` at a time.
   */
  async encode(payloads: readonly Buffer[]): Promise<Buffer> {
    const slices = new EncodeSlices();
    this.#arena.reset();
    const views = payloads.flatMap((p) => SpanBlockView.read(p, this.#arena));
    const w = this.#w;
    const keys = new Map<SpanBlockView, BlockKeys>();
    for (const group of groupSpans(views)) {
      w.byte(TAG_RESOURCE_SPANS);
      const resourceSpans = w.reserve(4);
      this.#resource(group);
      for (const scope of group.scopes.values()) {
        w.byte(TAG_SCOPE_SPANS);
        const scopeSpans = w.reserve(4);
        writeScope(w, scope.name, scope.version);
        for (const { view, rows } of scope.parts) {
          let k = keys.get(view);
          if (k === undefined) keys.set(view, (k = blockKeys(view)));
          for (const row of rows) {
            this.#span(view, row, k);
            await slices.next();
          }
        }
        w.finish(scopeSpans, 4);
      }
      w.finish(resourceSpans, 4);
    }
    return w.lend();
  }

  #resource(group: ResourceGroup): void {
    const w = this.#w;
    const { attributes, types } = groupResource(group);
    w.byte(TAG_RESOURCE);
    const slot = w.reserve(2);
    for (const key in attributes) w.keyValue(TAG_RESOURCE_ATTRIBUTE, key, otlpAnyValue(attributes[key]!, types[key]));
    w.finish(slot, 2);
  }

  #span(v: SpanBlockView, row: number, keys: BlockKeys): void {
    const w = this.#w;
    const d = v.data;
    w.byte(TAG_SPAN);
    const slot = w.reserve(2);
    w.byte((1 << 3) | 2);
    hexId(w, d, v.traceId, row);
    w.byte((2 << 3) | 2);
    hexId(w, d, v.spanId, row);
    if (v.traceState !== undefined && !v.traceState.isEmpty(row)) {
      w.byte((3 << 3) | 2);
      w.copyRange(d, v.traceState.bounds[row]!, v.traceState.bounds[row + 1]!);
    }
    if (!v.parentSpanId.isEmpty(row)) {
      w.byte((4 << 3) | 2);
      hexId(w, d, v.parentSpanId, row);
    }
    w.byte((5 << 3) | 2);
    w.copyRange(d, v.name.bounds[row]!, v.name.bounds[row + 1]!);
    const kind = v.kind(row);
    if (kind !== 0) {
      w.byte((6 << 3) | 0);
      w.varint32(kind);
    }
    const startLo = d.readUInt32LE(v.startTimeAt + 8 * row);
    const startHi = d.readUInt32LE(v.startTimeAt + 8 * row + 4);
    const endLo = startLo + d.readUInt32LE(v.durationAt + 8 * row);
    const endHi = startHi + d.readUInt32LE(v.durationAt + 8 * row + 4) + (endLo > 0xffff_ffff ? 1 : 0);
    w.byte((7 << 3) | 1);
    w.fixed64(startLo, startHi);
    w.byte((8 << 3) | 1);
    w.fixed64(endLo, endHi);
    this.#attributes(v, row, keys);
    if (v.events !== undefined && !v.events.isEmpty(row)) for (const e of decodeSpanEvents(v.text(v.events, row))) writeSpanEvent(w, e);
    if (v.links !== undefined && !v.links.isEmpty(row)) for (const l of decodeSpanLinks(v.text(v.links, row))) writeSpanLink(w, l);
    // The status, written here rather than through writeSpanStatus: a call per span cost this loop about 6%.
    const code = v.statusCode(row);
    w.byte((15 << 3) | 2);
    if (code === 0) w.byte(0);
    else {
      w.byte(2);
      w.byte((3 << 3) | 0);
      w.byte(code);
    }
    const flags = v.flags(row);
    if (flags !== 0) {
      // Field 16, wire type 5: a two-byte tag.
      w.byte(0x85);
      w.byte(0x01);
      w.fixed32(flags);
    }
    w.finish(slot, 2);
  }

  /** The row's attributes: a string value is copied as its bytes; a typed one is written as its type. */
  #attributes(v: SpanBlockView, row: number, keys: BlockKeys): void {
    const w = this.#w;
    const d = v.data;
    const attributes = v.attributes;
    const attributeKeys = attributes.keys.indexes;
    const values = attributes.values.bounds;
    const rowTypes = this.#rowTypes;
    rowTypes.load(v, row, keys.types);
    for (let e = attributes.start(row), end = attributes.end(row); e < end; e++) {
      const key = attributeKeys[e]!;
      const type = rowTypes.of(key);
      if (type === undefined || type === "truncated") {
        w.stringKeyValue(TAG_SPAN_ATTRIBUTE, keys.keyFields[key]!, d, values[e]!, values[e + 1]!);
        continue;
      }
      w.byte(TAG_SPAN_ATTRIBUTE);
      const slot = w.reserve(1);
      w.copy(keys.keyFields[key]!);
      w.byte((2 << 3) | 2);
      const textStart = attributes.values.contentStart(d, e);
      const textEnd = values[e + 1]!;
      const valueSlot = w.reserve(1);
      if (type !== "int" || !w.intValueAscii(d, textStart, textEnd)) w.copy(keys.typedValues.get(key, type, d, textStart, textEnd, anyValueBytes));
      w.finish(valueSlot, 1);
      w.finish(slot, 1);
    }
  }
}

/** The AnyValue body of a stored value of a type. */
function anyValueBytes(text: string, type: StoredAttributeType): Buffer {
  const w = new ProtoWriter(64);
  w.anyValue(otlpAnyValue(text, type));
  return w.take();
}

function blockKeys(v: SpanBlockView): BlockKeys {
  const d = v.data;
  const dictionary = v.attributes.keys;
  const keyFields: Buffer[] = [];
  for (let k = 0; k < dictionary.size; k++) {
    const bytes = d.subarray(dictionary.entryBounds[k]!, dictionary.entryBounds[k + 1]!);
    const field = Buffer.allocUnsafe(1 + bytes.length);
    field[0] = (1 << 3) | 2;
    bytes.copy(field, 1);
    keyFields.push(field);
  }
  return { keyFields, types: v.attributeTypeIndex(), typedValues: new TypedValueMemo() };
}

/** A hex id String of the block as a protobuf bytes value. */
function hexId(w: ProtoWriter, d: Buffer, column: StringColumnView, row: number): void {
  const start = column.contentStart(d, row);
  w.hexAsBytes(d, start, column.bounds[row + 1]! - start);
}
