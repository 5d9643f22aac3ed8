import { isUtf8 } from "node:buffer";
import { ATTR } from "@troupe/contract";
import { writeScope, writeSpanEvent, writeSpanLink, writeSpanStatus } from "../forward/otlp-protobuf-parts.js";
import { ProtoWriter } from "../forward/proto-writer.js";
import type { StoredAttributeType } from "../store/attribute-types.js";
import type { SpanEvent, SpanLink } from "../store/span-row.js";

const TAG_RESOURCE_SPANS = 0x0a;
const TAG_RESOURCE = 0x0a;
const TAG_RESOURCE_ATTRIBUTE = 0x0a;
const TAG_SCOPE_SPANS = 0x12;
const TAG_SPAN = 0x12;
const STRING_VALUE_TAG = 0x0a;
const BOOL_VALUE_TAG = 0x10;
const INT_VALUE_TAG = 0x18;
const DOUBLE_VALUE_TAG = 0x21;
const ARRAY_VALUE_TAG = 0x2a;
const VALUES_TAG = 0x0a;
const STATUS_CODE_TAG = 0x18;

/**
 * The spans of a protobuf export request the direct decoder accepted, as the OTLP request the
 * forwarder would encode from their block (OtlpProtobufTraceEncoder, less its grouping of equal
 * resources), written from the request's own bytes while the decoder reads them. A span's bytes are
 * copied in runs as they came; what the forwarder does not send is cut out of them (attributes
 * outside the allow-lists, dropped-counts, unknown fields, a status message), and what it sends
 * differently is written anew (each resource with only its kept attributes, a service name and the
 * tenant the collector decided; scopes, events and links from what was stored). Where the copy could
 * not say exactly what the encoder would — a value cut to the cap or stored as text (maps, mixed
 * arrays, empty values), an unusual layout, text that is not UTF-8, a span whose tenant is not its
 * resource's — the decoder abandons it, and the forwarder encodes the block instead. A copy holds
 * bytes the filter kept, never more: its runs begin and end at fields the decoder read and kept.
 */
export class ProtobufForwardCopy {
  readonly #src: Buffer;
  readonly #w: ProtoWriter;
  /** Where the run of kept source bytes not yet copied begins (-1: none open). */
  #from = -1;
  #abandoned = false;

  constructor(source: Buffer) {
    this.#src = source;
    // Its own buffer, handed over whole (no copy): about the request's size, as a copy is a little less but for a few fields written anew.
    this.#w = new ProtoWriter(source.length + 1024, Infinity);
  }

  /** Gives up the copy (the forwarder will encode the block). */
  abandon(): void {
    this.#abandoned = true;
  }

  /** The request's copy, a buffer of its own; undefined when abandoned or empty. */
  take(): Buffer | undefined {
    if (this.#abandoned || this.#w.length === 0) return undefined;
    return this.#w.lend();
  }

  /** Opens a ResourceSpans; returns where it begins, for `endGroup`. */
  beginResourceSpans(): number {
    return this.#beginGroup(TAG_RESOURCE_SPANS);
  }

  /** Opens a ScopeSpans; returns where it begins, for `endGroup`. */
  beginScopeSpans(): number {
    return this.#beginGroup(TAG_SCOPE_SPANS);
  }

  /** Closes a ResourceSpans or ScopeSpans begun at `start`, leaving it out when none of its spans were written. */
  endGroup(start: number, spans: number): void {
    if (spans === 0) this.#w.truncate(start);
    else this.#w.finish(start + 1, 4);
  }

  #beginGroup(tag: number): number {
    const start = this.#w.length;
    this.#w.byte(tag);
    this.#w.reserve(4);
    return start;
  }

  /**
   * The resource as forwarded (forwardedResource): its kept attributes (source ranges of whole
   * KeyValue fields, the tenant's left out), `service.name` when it had none, and the tenant id.
   */
  resource(attributeRanges: readonly number[], missingServiceName: string | undefined, tenantId: string): void {
    const w = this.#w;
    w.byte(TAG_RESOURCE);
    const slot = w.reserve(2);
    for (let i = 0; i < attributeRanges.length; i += 2) w.copyRange(this.#src, attributeRanges[i]!, attributeRanges[i + 1]!);
    if (missingServiceName !== undefined) w.keyValue(TAG_RESOURCE_ATTRIBUTE, "service.name", { stringValue: missingServiceName });
    w.keyValue(TAG_RESOURCE_ATTRIBUTE, ATTR.tenantId, { stringValue: tenantId });
    w.finish(slot, 2);
  }

  scope(name: string, version: string): void {
    writeScope(this.#w, name, version);
  }

  /** Opens a span whose fields begin at `contentStart`; returns its slot for `endSpan`. */
  beginSpan(contentStart: number): number {
    this.#w.byte(TAG_SPAN);
    const slot = this.#w.reserve(2);
    this.#from = contentStart;
    return slot;
  }

  /** Leaves the source bytes `[start, end)` of the open span out of the copy. */
  cut(start: number, end: number): void {
    if (start > this.#from) this.#w.copyRange(this.#src, this.#from, start);
    this.#from = end;
  }

  /** Closes the open span, whose fields end at `end`. */
  endSpan(slot: number, end: number): void {
    if (end > this.#from) this.#w.copyRange(this.#src, this.#from, end);
    this.#from = -1;
    this.#w.finish(slot, 2);
  }

  /** A stored event, link or status, written where the source's was cut out. */
  event(e: SpanEvent): void {
    writeSpanEvent(this.#w, e);
  }

  link(l: SpanLink): void {
    writeSpanLink(this.#w, l);
  }

  status(code: number): void {
    writeSpanStatus(this.#w, code);
  }
}

/** Whether a Status message body says nothing but its code (as the forwarder writes it): copied as it came. */
export function codeOnlyStatus(buf: Buffer, start: number, end: number): boolean {
  return end === start || (end - start === 2 && buf[start] === STATUS_CODE_TAG && buf[start + 1]! < 0x80);
}

/**
 * Whether the AnyValue at `buf[start, end)`, stored with `type`, is copied as it came: one field of
 * the type, laid out as encoders write it, that the encoder would write back the same (a plain
 * UTF-8 string, an int, a bool, a double other than -0, or a list of one of those).
 */
export function copyableValue(buf: Buffer, start: number, end: number, type: StoredAttributeType | undefined): boolean {
  switch (type) {
    case undefined: {
      if (buf[start] !== STRING_VALUE_TAG) return false;
      const textStart = lengthEnd(buf, start + 1, end);
      return textStart >= 0 && textStart + lengthRead === end && utf8Text(buf, textStart, end);
    }
    case "int":
      return buf[start] === INT_VALUE_TAG && varintEnd(buf, start + 1, end) === end;
    case "bool":
      return end - start === 2 && buf[start] === BOOL_VALUE_TAG && buf[start + 1]! <= 1;
    case "double":
      // -0 is stored as "0".
      return end - start === 9 && buf[start] === DOUBLE_VALUE_TAG && !(buf[start + 8] === 0x80 && buf.readUInt32LE(start + 1) === 0 && buf.readUInt16LE(start + 5) === 0 && buf[start + 7] === 0);
    case "string[]":
      return arrayOf(buf, start, end, undefined);
    case "int[]":
      return arrayOf(buf, start, end, "int");
    case "double[]":
      return arrayOf(buf, start, end, "double");
    case "bool[]":
      return arrayOf(buf, start, end, "bool");
    default:
      return false;
  }
}

/** Text the decoder stores byte for byte: ASCII, or else valid UTF-8 (invalid bytes are stored replaced). */
export function utf8Text(buf: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (buf[i]! >= 0x80) return isUtf8(buf.subarray(start, end));
  return true;
}

/** An ArrayValue field whose elements are each a copyable value of `element` and nothing else. */
function arrayOf(buf: Buffer, start: number, end: number, element: "int" | "double" | "bool" | undefined): boolean {
  if (buf[start] !== ARRAY_VALUE_TAG) return false;
  let pos = lengthEnd(buf, start + 1, end);
  if (pos < 0 || pos + lengthRead !== end) return false;
  while (pos < end) {
    if (buf[pos] !== VALUES_TAG) return false;
    const elementStart = lengthEnd(buf, pos + 1, end);
    if (elementStart < 0) return false;
    const elementEnd = elementStart + lengthRead;
    if (elementEnd > end || !copyableValue(buf, elementStart, elementEnd, element)) return false;
    pos = elementEnd;
  }
  return true;
}

/** The length `lengthEnd` read last. */
let lengthRead = 0;

/** Reads a length varint at `pos` (into `lengthRead`) and returns where its bytes start; -1 past `end` or over 5 bytes. */
function lengthEnd(buf: Buffer, pos: number, end: number): number {
  let length = 0;
  for (let shift = 0; shift < 35; shift += 7) {
    if (pos >= end) return -1;
    const b = buf[pos++]!;
    length += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) {
      lengthRead = length;
      return pos;
    }
  }
  return -1;
}

/** Where a varint at `pos` ends; -1 past `end` or over 10 bytes. */
function varintEnd(buf: Buffer, pos: number, end: number): number {
  for (let n = 0; n < 10 && pos < end; n++) if (buf[pos++]! < 0x80) return pos;
  return -1;
}
