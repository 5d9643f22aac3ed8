import { ATTR, EVENT_ATTRIBUTE_ALLOW_LIST, MAX_ATTRIBUTE_VALUE_LENGTH, RESOURCE_ATTRIBUTE_ALLOW_LIST, SPAN_ATTRIBUTE_ALLOW_LIST } from "@troupe/runtime";
import { CollectorError } from "../errors.js";
import { NativeWriter } from "../store/native-block.js";
import { SpanBlockBuilder } from "../store/span-block.js";
import type { Principal } from "../tenants/principal.js";
import { stringifyAttributeValue } from "./attribute-filter.js";
import { WireReader, spanDurationNs } from "./decode-protobuf-wire.js";
import type { IngestLimits } from "./ingest-limits.js";
import { resolveTenant, startTimeWindow, type StartTimeWindow } from "./span-rows.js";

/** A protobuf export request decoded straight into a span block (every span accepted). */
export interface DirectSpanBlock {
  builder: SpanBlockBuilder;
  spanCount: number;
  droppedAttributes: { span: number; resource: number; event: number };
  truncatedAttributes: number;
}

/**
 * Decodes an `application/x-protobuf` export request straight into a span block: no request
 * object, no rows, no attribute records, and ids, names and ASCII values copied from the wire as
 * bytes. This is the hot path of ingest; it gives exactly what decodeProtobufTracesWire +
 * buildSpanRows + encodeSpanBlock give (a differential test holds them together), but only for the
 * common request: every span accepted (at `nowMs`, as buildSpanRows decides), no attribute key twice
 * in one list, the resource before its spans. For anything else — malformed bodies, rejected spans
 * (zero ids and start times out of the window included), duplicate keys — it returns undefined and
 * the caller takes the general path, which answers with the precise error or partial success.
 */
export function decodeProtobufSpanBlock(body: Buffer, principal: Principal, limits: IngestLimits, nowMs = Date.now()): DirectSpanBlock | undefined {
  const builder = IDLE_BUILDERS.pop() ?? new SpanBlockBuilder();
  try {
    return new DirectDecoder(body, principal, limits, builder, startTimeWindow(nowMs)).decode();
  } catch (err) {
    releaseBuilder(builder);
    if (err === GENERAL_PATH || err instanceof CollectorError) return undefined;
    throw err;
  }
}

/**
 * Gives a decoded block's builder back for reuse once its block is finished (or abandoned): its
 * column buffers then serve the next request instead of being allocated again (which, at tens of
 * megabytes a second, kept the garbage collector busy).
 */
export function releaseSpanBlock(direct: DirectSpanBlock): void {
  releaseBuilder(direct.builder);
}

const IDLE_BUILDERS: SpanBlockBuilder[] = [];
const MAX_IDLE_BUILDERS = 8;

function releaseBuilder(builder: SpanBlockBuilder): void {
  builder.reset();
  if (IDLE_BUILDERS.length < MAX_IDLE_BUILDERS && !IDLE_BUILDERS.includes(builder)) IDLE_BUILDERS.push(builder);
}

/** Thrown inside the decoder when the request needs the general path. */
const GENERAL_PATH = Symbol("general-path");

const LEN = 2;
const STRING_VALUE_TAG = (1 << 3) | LEN;
const INT_VALUE_TAG = 3 << 3; // varint
const KEY_TAG = (1 << 3) | LEN;
const ARRAY_VALUE_TAG = (5 << 3) | LEN;
/** ArrayValue.values. */
const VALUES_TAG = (1 << 3) | LEN;
const VALUE_TAG = (2 << 3) | LEN;

interface ResourceState {
  /** Indexes of the kept keys in the block's resource-attribute dictionary, in order. */
  keyIndexes: number[];
  /** Their values, encoded as the block's String values. */
  values: Buffer;
  serviceName: string;
  tenantClaim: string | undefined;
  attributeCount: number;
}

class DirectDecoder {
  readonly #buf: Buffer;
  readonly #r: WireReader;
  readonly #principal: Principal;
  readonly #limits: IngestLimits;
  readonly #b: SpanBlockBuilder;
  /** The start time window as the halves of fixed64 values: [min high, min low, max high, max low]. */
  readonly #window: [number, number, number, number];
  #spanCount = 0;
  readonly #dropped = { span: 0, resource: 0, event: 0 };
  #truncated = 0;
  /** The last tenant claim decided, and its tenant's index in the block's tenant dictionary (-1: none yet). */
  #resolvedClaim: string | undefined;
  #resolvedIndex = -1;

  constructor(body: Buffer, principal: Principal, limits: IngestLimits, builder: SpanBlockBuilder, window: StartTimeWindow) {
    this.#b = builder;
    this.#window = [Number(window.minNs >> 32n), Number(window.minNs & 0xffffffffn), Number(window.maxNs >> 32n), Number(window.maxNs & 0xffffffffn)];
    this.#buf = body;
    this.#r = new WireReader(body, limits, undefined);
    this.#principal = principal;
    this.#limits = limits;
  }

  decode(): DirectSpanBlock {
    const r = this.#r;
    const end = this.#buf.length;
    while (r.pos < end) {
      const tag = r.varint32();
      if (tag >>> 3 === 1 && (tag & 7) === LEN) this.#resourceSpans(r.lengthEnd(end, "ExportTraceServiceRequest"));
      else r.skip(tag, end);
    }
    return { builder: this.#b, spanCount: this.#spanCount, droppedAttributes: this.#dropped, truncatedAttributes: this.#truncated };
  }

  #resourceSpans(end: number): void {
    const r = this.#r;
    let resource: ResourceState | undefined;
    while (r.pos < end) {
      const tag = r.varint32();
      const field = tag >>> 3;
      if (field === 1) {
        r.expect(tag, LEN, "ResourceSpans.resource");
        if (resource !== undefined) throw GENERAL_PATH; // a second resource, or one after its spans
        resource = this.#resource(r.lengthEnd(end, "ResourceSpans"));
      } else if (field === 2) {
        r.expect(tag, LEN, "ResourceSpans.scope_spans");
        resource ??= this.#resource(r.pos);
        this.#scopeSpans(r.lengthEnd(end, "ResourceSpans"), resource);
      } else r.skip(tag, end);
    }
  }

  #resource(end: number): ResourceState {
    const r = this.#r;
    const keys = this.#b.resourceAttributes.keys.dictionary;
    const state: ResourceState = { keyIndexes: [], values: Buffer.alloc(0), serviceName: "", tenantClaim: undefined, attributeCount: 0 };
    const values = new NativeWriter(256);
    const serial = nextSerial();
    while (r.pos < end) {
      const tag = r.varint32();
      if (tag >>> 3 !== 1) {
        r.skip(tag, end);
        continue;
      }
      r.expect(tag, LEN, "Resource.attributes");
      const kvEnd = r.lengthEnd(end, "Resource");
      this.#keyValue(kvEnd, RESOURCE_HINTS, state.attributeCount);
      const entry = this.#entry;
      const key = entry.key;
      const valueStart = this.#valueStart;
      const valueEnd = this.#valueEnd;
      state.attributeCount++;
      if (!entry.resource) {
        this.#skipValue(valueStart, valueEnd, kvEnd);
        this.#dropped.resource++;
        continue;
      }
      markOnce(entry, serial);
      if (key === ATTR.tenantId) state.tenantClaim = this.#fullText(valueStart, valueEnd, kvEnd);
      if (key === "service.name") state.serviceName = this.#fullText(valueStart, valueEnd, kvEnd).slice(0, MAX_ATTRIBUTE_VALUE_LENGTH);
      state.keyIndexes.push(keys.indexOf(key));
      this.#writeValue(values, valueStart, valueEnd, kvEnd);
    }
    if (state.serviceName === "") state.serviceName = "unknown_service";
    state.values = Buffer.from(values.view());
    return state;
  }

  #scopeSpans(end: number, resource: ResourceState): void {
    const r = this.#r;
    while (r.pos < end) {
      const tag = r.varint32();
      if (tag >>> 3 !== 2) {
        r.skip(tag, end);
        continue;
      }
      r.expect(tag, LEN, "ScopeSpans.spans");
      if (++this.#spanCount > this.#limits.maxSpansPerRequest) throw GENERAL_PATH;
      this.#span(r.lengthEnd(end, "ScopeSpans"), resource);
    }
  }

  #span(end: number, resource: ResourceState): void {
    const r = this.#r;
    const b = this.#b;
    const buf = this.#buf;
    let traceStart = -1;
    let spanStart = -1;
    let parentStart = -1;
    let nameStart = -1;
    let nameEnd = -1;
    let kind = 0;
    let startLo = 0;
    let startHi = 0;
    let endLo = 0;
    let endHi = 0;
    let statusCode = 0;
    let attributeCount = 0;
    let eventCount = 0;
    let tenantClaim: string | undefined;
    /** Allow-listed event attributes: [key, value start, value end, KeyValue end], added after the span's own. */
    let eventAttributes: [KeyEntry, number, number, number][] | undefined;
    const serial = nextSerial();
    const attributes = b.attributes;
    while (r.pos < end) {
      const tag = r.varint32();
      switch (tag >>> 3) {
        case 1:
        case 2:
        case 4: {
          r.expect(tag, LEN, "Span id");
          const idEnd = r.lengthEnd(end, "Span");
          const bytes = idEnd - r.pos;
          const field = tag >>> 3;
          if (field === 1) traceStart = bytes === 16 ? r.pos : -1;
          else if (field === 2) spanStart = bytes === 8 ? r.pos : -1;
          else if (bytes === 8) parentStart = r.pos;
          else if (bytes === 0) parentStart = -1;
          else throw GENERAL_PATH;
          r.pos = idEnd;
          break;
        }
        case 5:
          r.expect(tag, LEN, "Span.name");
          nameEnd = r.lengthEnd(end, "a string");
          nameStart = r.pos;
          r.pos = nameEnd;
          break;
        case 6:
          r.expect(tag, 0, "Span.kind");
          kind = Number(r.varintNumber(true));
          break;
        case 7:
          r.expect(tag, 1, "Span.start_time_unix_nano");
          r.fixed64(end);
          startLo = r.lo;
          startHi = r.hi;
          break;
        case 8:
          r.expect(tag, 1, "Span.end_time_unix_nano");
          r.fixed64(end);
          endLo = r.lo;
          endHi = r.hi;
          break;
        case 9: {
          r.expect(tag, LEN, "Span.attributes");
          const kvEnd = r.lengthEnd(end, "Span");
          this.#keyValue(kvEnd, SPAN_HINTS, attributeCount);
          const entry = this.#entry;
          const valueStart = this.#valueStart;
          const valueEnd = this.#valueEnd;
          attributeCount++;
          if (!entry.span) {
            this.#skipValue(valueStart, valueEnd, kvEnd);
            this.#dropped.span++;
            break;
          }
          markOnce(entry, serial);
          if (entry.key === ATTR.tenantId) tenantClaim = this.#fullText(valueStart, valueEnd, kvEnd);
          attributes.keys.add(entry.key);
          this.#writeValue(attributes.values, valueStart, valueEnd, kvEnd);
          break;
        }
        case 11:
          r.expect(tag, LEN, "Span.events");
          eventCount++;
          eventAttributes = this.#event(r.lengthEnd(end, "Span"), eventAttributes);
          break;
        case 15:
          r.expect(tag, LEN, "Span.status");
          statusCode = r.statusCode(r.lengthEnd(end, "Span"));
          break;
        default:
          r.skip(tag, end);
      }
    }
    if (traceStart < 0 || spanStart < 0) throw GENERAL_PATH;
    // Spans buildSpanRows refuses as unreadable: zero ids, a start outside the window (0 included).
    if (isZero(buf, traceStart, 16) || isZero(buf, spanStart, 8)) throw GENERAL_PATH;
    const [minHi, minLo, maxHi, maxLo] = this.#window;
    if (startHi < minHi || (startHi === minHi && startLo < minLo) || startHi > maxHi || (startHi === maxHi && startLo > maxLo)) throw GENERAL_PATH;
    if (attributeCount > this.#limits.maxAttributesPerSpan || resource.attributeCount > this.#limits.maxAttributesPerSpan) throw GENERAL_PATH;
    if (eventCount > this.#limits.maxEventsPerSpan) throw GENERAL_PATH;
    if (tenantClaim !== undefined && resource.tenantClaim !== undefined && tenantClaim !== resource.tenantClaim) throw GENERAL_PATH;
    const tenantIndex = this.#tenantIndexOf(tenantClaim ?? resource.tenantClaim);

    if (eventAttributes !== undefined) {
      // The span's own attributes win; among events, the first to state a key.
      const after = r.pos;
      for (const [entry, valueStart, valueEnd, kvEnd] of eventAttributes) {
        if (entry.seen === serial) continue;
        entry.seen = serial;
        attributes.keys.add(entry.key);
        this.#writeValue(attributes.values, valueStart, valueEnd, kvEnd);
      }
      r.pos = after;
    }

    b.tenantId.addIndex(tenantIndex);
    b.traceId.hexString(buf, traceStart, 16);
    b.spanId.hexString(buf, spanStart, 8);
    if (parentStart >= 0) b.parentSpanId.hexString(buf, parentStart, 8);
    else b.parentSpanId.varUInt(0);
    if (nameStart >= 0) b.name.stringFromUtf8(buf, nameStart, nameEnd);
    else b.name.varUInt(0);
    b.kind.uint8(kind);
    // In the window, so far below 2^63 ns (DateTime64 is signed).
    b.startTime.uint32Pair(startLo, startHi);
    b.durationNs.uint64(spanDurationNs(startLo, startHi, endLo, endHi));
    b.statusCode.uint8(statusCode);
    b.serviceName.add(resource.serviceName);
    const resourceKeys = b.resourceAttributes.keys;
    for (const index of resource.keyIndexes) resourceKeys.addIndex(index);
    b.resourceAttributes.values.bytes(resource.values);
    b.endRow();
  }

  #event(end: number, into: [KeyEntry, number, number, number][] | undefined): [KeyEntry, number, number, number][] | undefined {
    const r = this.#r;
    let out = into;
    while (r.pos < end) {
      const tag = r.varint32();
      const field = tag >>> 3;
      if (field === 2) {
        r.expect(tag, LEN, "Event.name");
        r.pos = r.lengthEnd(end, "a string");
      } else if (field === 3) {
        r.expect(tag, LEN, "Event.attributes");
        const kvEnd = r.lengthEnd(end, "Event");
        this.#keyValue(kvEnd, undefined, 0);
        const entry = this.#entry;
        const valueStart = this.#valueStart;
        const valueEnd = this.#valueEnd;
        if (!entry.event) {
          this.#skipValue(valueStart, valueEnd, kvEnd);
          this.#dropped.event++;
          continue;
        }
        // Validated now (as the general path does), written at the end of the span if still wanted.
        r.pos = valueStart < 0 ? kvEnd : valueStart;
        if (valueStart >= 0) r.walkAnyValue(valueEnd, 1);
        r.pos = kvEnd;
        (out ??= []).push([entry, valueStart, valueEnd, kvEnd]);
      } else r.skip(tag, end);
    }
    return out;
  }

  /** The last KeyValue read: its key, and where its AnyValue lies (-1: none). */
  #entry: KeyEntry = NO_KEY;
  #valueStart = -1;
  #valueEnd = -1;

  /**
   * Reads a KeyValue into #entry, #valueStart, #valueEnd (the key as the general path decodes it).
   * `hints` holds the key last seen at each position of such lists: checked first, as exporters
   * send their attributes in the same order span after span. Leaves pos at `end`.
   */
  #keyValue(end: number, hints: KeyEntry[] | undefined, position: number): void {
    const r = this.#r;
    const buf = this.#buf;
    // The layout every exporter writes: key (one-byte length), then value (length under 16 KiB), nothing else.
    const start = r.pos;
    if (buf[start] === KEY_TAG && buf[start + 1]! < 0x80) {
      const keyStart = start + 2;
      const keyEnd = keyStart + buf[start + 1]!;
      if (keyEnd + 2 < end && buf[keyEnd] === VALUE_TAG) {
        let valueStart = keyEnd + 2;
        let length = buf[keyEnd + 1]!;
        if (length >= 0x80) {
          length = (length & 0x7f) | (buf[keyEnd + 2]! << 7);
          valueStart++;
        }
        if (length < 0x4000 && valueStart + length === end) {
          const hint = hints?.[position];
          const entry = hint !== undefined && sameBytes(hint.bytes, buf, keyStart, keyEnd - keyStart) ? hint : KEYS.entry(buf, keyStart, keyEnd);
          if (hints !== undefined && position < MAX_HINTS) hints[position] = entry;
          this.#entry = entry;
          this.#valueStart = valueStart;
          this.#valueEnd = end;
          r.pos = end;
          return;
        }
      }
    }
    let entry = NO_KEY;
    let valueStart = -1;
    let valueEnd = -1;
    while (r.pos < end) {
      const tag = r.varint32();
      const field = tag >>> 3;
      if (field === 1) {
        r.expect(tag, LEN, "KeyValue.key");
        const keyEnd = r.lengthEnd(end, "a string");
        const hint = hints?.[position];
        entry = hint !== undefined && sameBytes(hint.bytes, this.#buf, r.pos, keyEnd - r.pos) ? hint : KEYS.entry(this.#buf, r.pos, keyEnd);
        if (hints !== undefined && position < MAX_HINTS) hints[position] = entry;
        r.pos = keyEnd;
      } else if (field === 2) {
        r.expect(tag, LEN, "KeyValue.value");
        valueEnd = r.lengthEnd(end, "KeyValue");
        valueStart = r.pos;
        r.pos = valueEnd;
      } else r.skip(tag, end);
    }
    this.#entry = entry;
    this.#valueStart = valueStart;
    this.#valueEnd = valueEnd;
  }

  /** A dropped attribute's value is still checked (structure, nesting), as the general path does. */
  #skipValue(valueStart: number, valueEnd: number, kvEnd: number): void {
    if (valueStart < 0) return;
    const r = this.#r;
    r.pos = valueStart;
    r.walkAnyValue(valueEnd, 1);
    r.pos = kvEnd;
  }

  /** Writes an attribute's stored form into `values` (capped, counted when cut) and leaves pos at `kvEnd`. */
  #writeValue(values: NativeWriter, valueStart: number, valueEnd: number, kvEnd: number): void {
    const r = this.#r;
    if (valueStart < 0) {
      values.varUInt(0);
      return;
    }
    r.pos = valueStart;
    // The common value: one string_value field holding the whole AnyValue.
    if (valueStart < valueEnd && this.#buf[valueStart] === STRING_VALUE_TAG) {
      r.pos = valueStart + 1;
      const stringEnd = r.lengthEnd(valueEnd, "a string");
      if (stringEnd === valueEnd && valueEnd - r.pos <= MAX_ATTRIBUTE_VALUE_LENGTH) {
        // At most as many UTF-16 units as bytes: never over the cap.
        values.stringFromUtf8(this.#buf, r.pos, stringEnd);
        r.pos = kvEnd;
        return;
      }
      r.pos = valueStart;
    }
    if (this.#buf[valueStart] === INT_VALUE_TAG) {
      // The other common value: one int_value field (token counts). Written as String(n) would be.
      r.pos = valueStart + 1;
      const n = r.varintNumber(true);
      if (r.pos === valueEnd) {
        if (typeof n === "number") values.integerText(n);
        else values.string(n);
        r.pos = kvEnd;
        return;
      }
      r.pos = valueStart;
    }
    if (this.#buf[valueStart] === ARRAY_VALUE_TAG && this.#limits.maxAnyValueDepth > 1 && this.#writeStringArray(values, valueStart, valueEnd)) {
      r.pos = kvEnd;
      return;
    }
    let text = stringifyAttributeValue(r.anyValue(valueEnd, 1));
    if (text.length > MAX_ATTRIBUTE_VALUE_LENGTH) {
      text = text.slice(0, MAX_ATTRIBUTE_VALUE_LENGTH);
      this.#truncated++;
    }
    values.string(text);
    r.pos = kvEnd;
  }

  /**
   * An array of plain strings (e.g. gen_ai.response.finish_reasons) written as the JSON text the
   * general path makes of it, without building the array. False (nothing written) for anything
   * else: other element types, characters JSON would escape, text over the cap, an odd layout.
   */
  #writeStringArray(values: NativeWriter, valueStart: number, valueEnd: number): boolean {
    const buf = this.#buf;
    const arrayStart = shortLength(buf, valueStart + 1, valueEnd);
    if (arrayStart < 0 || arrayStart + lengthRead !== valueEnd) return false;
    // First pass: check and measure. Elements: 0x0a len (0x0a len chars).
    let count = 0;
    let textLength = 2;
    let pos = arrayStart;
    while (pos < valueEnd) {
      if (buf[pos] !== VALUES_TAG) return false;
      const elementStart = shortLength(buf, pos + 1, valueEnd);
      const elementEnd = elementStart + lengthRead;
      if (elementStart < 0 || buf[elementStart] !== STRING_VALUE_TAG) return false;
      const stringStart = shortLength(buf, elementStart + 1, valueEnd);
      const stringEnd = stringStart + lengthRead;
      if (stringStart < 0 || stringEnd !== elementEnd) return false;
      for (let i = stringStart; i < stringEnd; i++) {
        const c = buf[i]!;
        if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return false;
      }
      textLength += stringEnd - stringStart + 2 + (count > 0 ? 1 : 0);
      count++;
      pos = stringEnd;
    }
    if (textLength > MAX_ATTRIBUTE_VALUE_LENGTH) return false;
    // Second pass: ["a","b"].
    values.varUInt(textLength);
    values.uint8(0x5b);
    pos = arrayStart;
    for (let k = 0; k < count; k++) {
      const elementStart = shortLength(buf, pos + 1, valueEnd);
      const stringStart = shortLength(buf, elementStart + 1, valueEnd);
      const stringEnd = stringStart + lengthRead;
      if (k > 0) values.uint8(0x2c);
      values.uint8(0x22);
      values.rawBytes(buf, stringStart, stringEnd);
      values.uint8(0x22);
      pos = stringEnd;
    }
    values.uint8(0x5d);
    return true;
  }

  /** An attribute's full text (uncapped), as the general path compares tenant claims. */
  #fullText(valueStart: number, valueEnd: number, kvEnd: number): string {
    if (valueStart < 0) return "";
    const r = this.#r;
    if (this.#buf[valueStart] === STRING_VALUE_TAG) {
      // A plain string (a tenant id, a service name): repeated in every span, so decoded once.
      r.pos = valueStart + 1;
      const stringEnd = r.lengthEnd(valueEnd, "a string");
      if (stringEnd === valueEnd) {
        const text = TEXTS.entry(this.#buf, r.pos, stringEnd).key;
        r.pos = kvEnd;
        return text;
      }
    }
    r.pos = valueStart;
    const text = stringifyAttributeValue(r.anyValue(valueEnd, 1));
    r.pos = kvEnd;
    return text;
  }

  /** The index (in the block's tenant dictionary) of the row's tenant as buildSpanRows decides it; anything it would reject takes the general path. */
  #tenantIndexOf(claimed: string | undefined): number {
    // Spans of a request mostly claim the same tenant: decided once per run of the same claim.
    if (this.#resolvedIndex >= 0 && claimed === this.#resolvedClaim) return this.#resolvedIndex;
    const tenant = resolveTenant(this.#principal, claimed, () => undefined);
    if (tenant === null) throw GENERAL_PATH;
    this.#resolvedClaim = claimed;
    this.#resolvedIndex = this.#b.tenantId.dictionary.indexOf(tenant);
    return this.#resolvedIndex;
  }
}

/** A decoded key (or short value), with what the allow-lists say of it and the list it was last seen in. */
interface KeyEntry {
  readonly bytes: Buffer;
  readonly key: string;
  readonly span: boolean;
  readonly resource: boolean;
  readonly event: boolean;
  /** The serial of the attribute list that last named this key (to spot a key given twice). */
  seen: number;
}

function keyEntry(bytes: Buffer, key: string): KeyEntry {
  return { bytes, key, span: SPAN_ATTRIBUTE_ALLOW_LIST.has(key), resource: RESOURCE_ATTRIBUTE_ALLOW_LIST.has(key), event: EVENT_ATTRIBUTE_ALLOW_LIST.has(key), seen: 0 };
}

const NO_KEY = keyEntry(Buffer.alloc(0), "");

/** Attribute lists are numbered so a key's `seen` tells whether the current list named it already. */
let serials = 0;
function nextSerial(): number {
  serials = (serials + 1) | 0;
  return serials;
}

/**
 * Short strings (attribute keys, tenant ids) decoded once: the same few arrive in every span, so
 * their bytes are matched against the strings seen before (bucketed by length and three sampled
 * bytes, then compared byte by byte) instead of decoding a new string each time. Bounded; strings
 * past the bound are decoded every time. Gives exactly what `toString("utf8")` gives. Every
 * allow-listed key is entered first, so it is always found (and a key given twice in one list is
 * always seen as the same entry), whatever else fills the cache.
 */
class KeyCache {
  readonly #buckets = new Map<number, KeyEntry[]>();
  #size = 0;

  constructor(seed: Iterable<string> = []) {
    for (const key of seed) {
      const bytes = Buffer.from(key, "utf8");
      if (bytes.length > 0 && bytes.length <= 128) this.#add(hashOf(bytes, 0, bytes.length), keyEntry(bytes, key), true);
    }
  }

  entry(buf: Buffer, start: number, end: number): KeyEntry {
    const length = end - start;
    if (length === 0) return NO_KEY;
    if (length > 128) return keyEntry(Buffer.alloc(0), buf.toString("utf8", start, end));
    const h = hashOf(buf, start, end);
    const bucket = this.#buckets.get(h);
    if (bucket !== undefined) {
      for (const entry of bucket) if (sameBytes(entry.bytes, buf, start, length)) return entry;
    }
    const entry = keyEntry(Buffer.from(buf.subarray(start, end)), buf.toString("utf8", start, end));
    this.#add(h, entry, false);
    return entry;
  }

  #add(h: number, entry: KeyEntry, always: boolean): void {
    const bucket = this.#buckets.get(h);
    if (!always && (this.#size >= 4096 || (bucket !== undefined && bucket.length >= 4))) return;
    if (bucket === undefined) this.#buckets.set(h, [entry]);
    else bucket.push(entry);
    this.#size++;
  }
}

function hashOf(buf: Uint8Array, start: number, end: number): number {
  const length = end - start;
  return (length << 24) ^ (buf[start]! << 16) ^ (buf[start + (length >> 1)]! << 8) ^ buf[end - 1]!;
}

function markOnce(entry: KeyEntry, serial: number): void {
  // A key given twice in one list takes the general path (which keeps the last value at the first place).
  if (entry.seen === serial) throw GENERAL_PATH;
  entry.seen = serial;
}

/** The length `shortLength` read last. */
let lengthRead = 0;

/**
 * A length prefix of one or two bytes at `pos`: where the bytes start (the length in `lengthRead`),
 * or -1 when the prefix is longer or runs past `end`.
 */
function shortLength(buf: Buffer, pos: number, end: number): number {
  if (pos >= end) return -1;
  const b0 = buf[pos]!;
  if (b0 < 0x80) {
    lengthRead = b0;
    return pos + 1;
  }
  if (pos + 1 >= end || buf[pos + 1]! >= 0x80) return -1;
  lengthRead = (b0 & 0x7f) | (buf[pos + 1]! << 7);
  return pos + 2;
}

function isZero(buf: Buffer, start: number, length: number): boolean {
  for (let i = start; i < start + length; i++) if (buf[i] !== 0) return false;
  return true;
}

function sameBytes(a: Buffer, b: Buffer, start: number, length: number): boolean {
  if (a.length !== length) return false;
  for (let i = 0; i < length; i++) if (a[i] !== b[start + i]) return false;
  return true;
}

const KEYS = new KeyCache([...SPAN_ATTRIBUTE_ALLOW_LIST, ...RESOURCE_ATTRIBUTE_ALLOW_LIST, ...EVENT_ATTRIBUTE_ALLOW_LIST]);
/** Short values that repeat in every span (tenant ids, service names). */
const TEXTS = new KeyCache();
/** The key last seen at each position of span and resource attribute lists. */
const MAX_HINTS = 64;
const SPAN_HINTS: KeyEntry[] = [];
const RESOURCE_HINTS: KeyEntry[] = [];
