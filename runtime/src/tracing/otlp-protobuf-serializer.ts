/**
 * A fast OTLP/protobuf encoder of trace export requests, a drop-in for
 * `@opentelemetry/otlp-transformer`'s `ProtobufTraceSerializer`: for any batch of spans it produces
 * the same bytes (tested property), in one pass instead of a size pass plus a write pass, and
 * without encoding the same attribute keys and low-cardinality values to UTF-8 again and again.
 *
 * How: one growable scratch buffer; nested messages reserve a length prefix of their usual size
 * and patch it when done (shifting the body in the rare case the length needs another byte count);
 * attribute keys and their string values are cached as encoded bytes in bounded maps (a key whose
 * values turn out to be unique per span — ids, keys — stops being cached); trace and span ids are
 * decoded from hex straight into the buffer.
 */
import type { Attributes, AttributeValue, HrTime, Link, SpanStatus } from "@opentelemetry/api";
import { ProtobufTraceSerializer } from "@opentelemetry/otlp-transformer";
import type { IExportTraceServiceResponse, ISerializer } from "@opentelemetry/otlp-transformer";
import type { ReadableSpan, TimedEvent } from "@opentelemetry/sdk-trace-base";
import {
  MIN_64_BIT_INT,
  MAX_64_BIT_INT,
  INITIAL_BUFFER_BYTES,
  TAG_SPAN_ATTRIBUTES,
  TAG_EVENT_ATTRIBUTES,
  TAG_LINK_ATTRIBUTES,
  TAG_RESOURCE_ATTRIBUTES,
  TAG_SCOPE_ATTRIBUTES,
  textEncoder,
  varintSize,
  hexDigit,
  buildSpanFlags,
  encodeLengthDelimitedString,
  encodeStringField,
} from "./otlp-protobuf-encoding.js";

/** Bounds of the encoded-string caches of an OtlpProtobufTraceSerializer. */
export interface OtlpProtobufTraceSerializerOptions {
  /** Attribute keys kept encoded; past it, new keys are encoded each time. Default 1024. */
  maxCachedKeys?: number;
  /** String values kept per key; a key that exceeds it is treated as high-cardinality (values no longer cached). Default 64. */
  maxCachedValuesPerKey?: number;
  /** Strings longer than this (in UTF-16 units) are never cached. Default 128. */
  maxCachedStringLength?: number;
  /** Span names kept encoded. Default 1024. */
  maxCachedNames?: number;
  /** The scratch buffer is dropped after a request larger than this many bytes (memory stays bounded). Default 8 MiB. */
  maxRetainedBufferBytes?: number;
}

/** Counters of the caches of an OtlpProtobufTraceSerializer. */
export interface OtlpProtobufTraceSerializerStats {
  cachedKeys: number;
  cachedValues: number;
  cachedNames: number;
  /** Keys whose values stopped being cached because they exceeded `maxCachedValuesPerKey`. */
  highCardinalityKeys: number;
  /** Attribute keys and span/event names not cached because their cache was full or the string too long. */
  uncachedStrings: number;
}

interface KeyEntry {
  /** `0x0A varint(len) utf8(key)`: the KeyValue.key field. */
  readonly prefix: Uint8Array;
  /** Whole KeyValues (`varint(len) key value`) by value (strings, booleans, safe integers); undefined once high-cardinality. */
  values: Map<string | number | boolean, Uint8Array> | undefined;
}

/**
 * Serializes spans to an OTLP `ExportTraceServiceRequest` (protobuf), byte-for-byte as
 * `ProtobufTraceSerializer` does, and deserializes the collector's response with it. Spans are
 * grouped by resource and instrumentation scope (object identity, first-seen order), as the official
 * serializer groups them. Not safe for concurrent use from several threads (one instance per
 * exporter); its caches and scratch buffer are bounded by its options.
 */
export class OtlpProtobufTraceSerializer implements ISerializer<ReadableSpan[], IExportTraceServiceResponse> {
  #buf: Uint8Array;
  #view: DataView;
  #pos = 0;
  readonly #keys = new Map<string, KeyEntry>();
  readonly #names = new Map<string, Uint8Array>();
  readonly #maxCachedKeys: number;
  readonly #maxCachedValuesPerKey: number;
  readonly #maxCachedStringLength: number;
  readonly #maxCachedNames: number;
  readonly #maxRetainedBufferBytes: number;
  #cachedValues = 0;
  #highCardinalityKeys = 0;
  #uncachedStrings = 0;

  constructor(options: OtlpProtobufTraceSerializerOptions = {}) {
    this.#maxCachedKeys = options.maxCachedKeys ?? 1024;
    this.#maxCachedValuesPerKey = options.maxCachedValuesPerKey ?? 64;
    this.#maxCachedStringLength = options.maxCachedStringLength ?? 128;
    this.#maxCachedNames = options.maxCachedNames ?? 1024;
    this.#maxRetainedBufferBytes = options.maxRetainedBufferBytes ?? 8 * 1024 * 1024;
    this.#buf = new Uint8Array(INITIAL_BUFFER_BYTES);
    this.#view = new DataView(this.#buf.buffer);
  }

  /** The request's bytes: a fresh array the caller owns (compress it, send it, keep it). */
  serializeRequest(spans: ReadableSpan[]): Uint8Array {
    // Group by resource, then scope, by identity and in first-seen order (as the official serializer).
    const resources = new Map<ReadableSpan["resource"], Map<ReadableSpan["instrumentationScope"], ReadableSpan[]>>();
    for (const span of spans) {
      let scopes = resources.get(span.resource);
      if (scopes === undefined) {
        scopes = new Map();
        resources.set(span.resource, scopes);
      }
      let list = scopes.get(span.instrumentationScope);
      if (list === undefined) {
        list = [];
        scopes.set(span.instrumentationScope, list);
      }
      list.push(span);
    }
    this.#pos = 0;
    try {
      for (const [resource, scopes] of resources) {
        this.#ensure(8);
        this.#buf[this.#pos++] = (1 << 3) | 2; // resource_spans
        const rsSlot = this.#reserve(3);
        this.#writeResource(resource);
        for (const list of scopes.values()) {
          this.#ensure(8);
          this.#buf[this.#pos++] = (2 << 3) | 2; // scope_spans
          const ssSlot = this.#reserve(3);
          const scope = list[0]!.instrumentationScope;
          this.#writeScope(scope);
          for (const span of list) this.#writeSpan(span);
          if (scope.schemaUrl) this.#writeStringField((3 << 3) | 2, scope.schemaUrl);
          this.#finish(ssSlot, 3);
        }
        if (resource.schemaUrl) this.#writeStringField((3 << 3) | 2, resource.schemaUrl);
        this.#finish(rsSlot, 3);
      }
      return this.#buf.slice(0, this.#pos);
    } finally {
      if (this.#buf.length > this.#maxRetainedBufferBytes) {
        this.#buf = new Uint8Array(INITIAL_BUFFER_BYTES);
        this.#view = new DataView(this.#buf.buffer);
      }
    }
  }

  /** Parses the collector's `ExportTraceServiceResponse` (delegates to the official parser). */
  deserializeResponse(data: Uint8Array): IExportTraceServiceResponse {
    return ProtobufTraceSerializer.deserializeResponse(data);
  }

  /** Current sizes of the bounded caches. */
  stats(): OtlpProtobufTraceSerializerStats {
    return {
      cachedKeys: this.#keys.size,
      cachedValues: this.#cachedValues,
      cachedNames: this.#names.size,
      highCardinalityKeys: this.#highCardinalityKeys,
      uncachedStrings: this.#uncachedStrings,
    };
  }

  // ----------------------------------------------------------------------------------------------
  // Messages

  #writeResource(resource: ReadableSpan["resource"]): void {
    this.#ensure(8);
    this.#buf[this.#pos++] = (1 << 3) | 2;
    const slot = this.#reserve(2);
    if (resource.attributes) this.#writeAttributes(resource.attributes, TAG_RESOURCE_ATTRIBUTES);
    this.#ensure(4);
    this.#buf[this.#pos++] = (2 << 3) | 0; // dropped_attributes_count, always 0 as the official serializer
    this.#buf[this.#pos++] = 0;
    this.#finish(slot, 2);
  }

  #writeScope(scope: ReadableSpan["instrumentationScope"] & { attributes?: Attributes; droppedAttributesCount?: number }): void {
    this.#ensure(8);
    this.#buf[this.#pos++] = (1 << 3) | 2;
    const slot = this.#reserve(1);
    this.#writeStringField((1 << 3) | 2, scope.name);
    if (scope.version) this.#writeStringField((2 << 3) | 2, scope.version);
    if (scope.attributes) this.#writeAttributes(scope.attributes, TAG_SCOPE_ATTRIBUTES);
    if (scope.droppedAttributesCount) {
      this.#ensure(16);
      this.#buf[this.#pos++] = (4 << 3) | 0;
      this.#writeVarint(scope.droppedAttributesCount);
    }
    this.#finish(slot, 1);
  }

  #writeSpan(span: ReadableSpan): void {
    const ctx = span.spanContext();
    this.#ensure(96);
    const buf = this.#buf;
    buf[this.#pos++] = (2 << 3) | 2; // ScopeSpans.spans
    const slot = this.#reserve(2);
    buf[this.#pos++] = (1 << 3) | 2;
    this.#writeHexBytes(ctx.traceId);
    this.#ensure(48);
    this.#buf[this.#pos++] = (2 << 3) | 2;
    this.#writeHexBytes(ctx.spanId);
    const traceState = ctx.traceState?.serialize();
    if (traceState) this.#writeStringField((3 << 3) | 2, traceState);
    const parentSpanId = span.parentSpanContext?.spanId;
    if (parentSpanId) {
      this.#ensure(8);
      this.#buf[this.#pos++] = (4 << 3) | 2;
      this.#writeHexBytes(parentSpanId);
    }
    this.#writeName((5 << 3) | 2, span.name);
    this.#ensure(48);
    const kind = span.kind == null ? 0 : span.kind + 1;
    if (kind !== 0) {
      this.#buf[this.#pos++] = (6 << 3) | 0;
      this.#writeVarint(kind);
    }
    this.#buf[this.#pos++] = (7 << 3) | 1;
    this.#writeHrTime(span.startTime);
    this.#buf[this.#pos++] = (8 << 3) | 1;
    this.#writeHrTime(span.endTime);
    if (span.attributes) this.#writeAttributes(span.attributes, TAG_SPAN_ATTRIBUTES);
    this.#ensure(16);
    this.#buf[this.#pos++] = (10 << 3) | 0;
    this.#writeVarint(span.droppedAttributesCount);
    for (const event of span.events) this.#writeEvent(event);
    this.#ensure(16);
    this.#buf[this.#pos++] = (12 << 3) | 0;
    this.#writeVarint(span.droppedEventsCount);
    for (const link of span.links) this.#writeLink(link);
    this.#ensure(16);
    this.#buf[this.#pos++] = (14 << 3) | 0;
    this.#writeVarint(span.droppedLinksCount);
    this.#writeStatus(span.status);
    this.#ensure(8);
    this.#buf[this.#pos++] = 0x85; // field 16, wire type 5: the two-byte tag varint(133)
    this.#buf[this.#pos++] = 0x01;
    this.#writeFixed32(buildSpanFlags(ctx.traceFlags, span.parentSpanContext?.isRemote));
    this.#finish(slot, 2);
  }

  #writeStatus(status: SpanStatus): void {
    this.#ensure(8);
    this.#buf[this.#pos++] = (15 << 3) | 2;
    const slot = this.#reserve(1);
    if (status.message) this.#writeStringField((2 << 3) | 2, status.message);
    this.#ensure(16);
    this.#buf[this.#pos++] = (3 << 3) | 0;
    this.#writeVarint(status.code);
    this.#finish(slot, 1);
  }

  #writeEvent(event: TimedEvent): void {
    this.#ensure(24);
    this.#buf[this.#pos++] = (11 << 3) | 2;
    const slot = this.#reserve(1);
    this.#buf[this.#pos++] = (1 << 3) | 1;
    this.#writeHrTime(event.time);
    this.#writeName((2 << 3) | 2, event.name);
    if (event.attributes) this.#writeAttributes(event.attributes, TAG_EVENT_ATTRIBUTES);
    this.#ensure(16);
    this.#buf[this.#pos++] = (4 << 3) | 0;
    this.#writeVarint(event.droppedAttributesCount || 0);
    this.#finish(slot, 1);
  }

  #writeLink(link: Link): void {
    const ctx = link.context;
    this.#ensure(48);
    this.#buf[this.#pos++] = (13 << 3) | 2;
    const slot = this.#reserve(1);
    this.#buf[this.#pos++] = (1 << 3) | 2;
    this.#writeHexBytes(ctx.traceId);
    this.#ensure(8);
    this.#buf[this.#pos++] = (2 << 3) | 2;
    this.#writeHexBytes(ctx.spanId);
    const traceState = ctx.traceState?.serialize();
    if (traceState) this.#writeStringField((3 << 3) | 2, traceState);
    if (link.attributes) this.#writeAttributes(link.attributes, TAG_LINK_ATTRIBUTES);
    this.#ensure(24);
    this.#buf[this.#pos++] = (5 << 3) | 0;
    this.#writeVarint(link.droppedAttributesCount || 0);
    this.#buf[this.#pos++] = (6 << 3) | 5;
    this.#writeFixed32(buildSpanFlags(ctx.traceFlags, ctx.isRemote));
    this.#finish(slot, 1);
  }

  /**
   * Repeated KeyValue under a one-byte `tag`, in `for…in` own-key order (as the official serializer).
   * A KeyValue of a cached key with a string, boolean or safe-integer value is copied whole from the
   * cache (its length prefix included); any other is encoded, and cached when its key is low-cardinality.
   */
  #writeAttributes(attributes: Attributes, tag: number): void {
    for (const key in attributes) {
      if (!Object.prototype.hasOwnProperty.call(attributes, key)) continue;
      const value = attributes[key];
      const entry = this.#keyEntry(key);
      const values = entry?.values;
      const cacheable = values !== undefined && (typeof value === "string" ? value.length <= this.#maxCachedStringLength : typeof value === "boolean" || Number.isSafeInteger(value));
      if (cacheable) {
        const cached = values.get(value as string | number | boolean);
        if (cached !== undefined) {
          this.#ensure(1 + cached.length);
          this.#buf[this.#pos++] = tag;
          this.#copy(cached);
          continue;
        }
      }
      this.#ensure(8);
      this.#buf[this.#pos++] = tag;
      const kvSlot = this.#reserve(1);
      if (entry !== undefined) this.#copy(entry.prefix);
      else this.#writeStringField((1 << 3) | 2, key);
      this.#ensure(4);
      this.#buf[this.#pos++] = (2 << 3) | 2;
      const valueSlot = this.#reserve(1);
      this.#writeAnyValue(value);
      this.#finish(valueSlot, 1);
      this.#finish(kvSlot, 1);
      if (cacheable) this.#cacheKeyValue(entry!, value as string | number | boolean, kvSlot);
    }
  }

  #writeAnyValue(value: AttributeValue | Attributes | null | undefined): void {
    if (typeof value === "string") {
      this.#writeStringField((1 << 3) | 2, value);
    } else if (typeof value === "boolean") {
      this.#ensure(2);
      this.#buf[this.#pos++] = (2 << 3) | 0;
      this.#buf[this.#pos++] = value ? 1 : 0;
    } else if (typeof value === "number") {
      this.#ensure(11);
      // int_value when an integer within the int64 range (as the official serializer), else double_value.
      if (Number.isInteger(value) && value >= MIN_64_BIT_INT && value < MAX_64_BIT_INT) {
        this.#buf[this.#pos++] = (3 << 3) | 0;
        this.#writeVarint(value);
      } else {
        this.#buf[this.#pos++] = (4 << 3) | 1;
        this.#view.setFloat64(this.#pos, value, true);
        this.#pos += 8;
      }
    } else if (value instanceof Uint8Array) {
      this.#ensure(6 + value.length);
      this.#buf[this.#pos++] = (7 << 3) | 2;
      this.#writeVarint(value.length);
      this.#copy(value);
    } else if (Array.isArray(value)) {
      this.#ensure(2);
      this.#buf[this.#pos++] = (5 << 3) | 2;
      const arraySlot = this.#reserve(1);
      for (const item of value as unknown[]) {
        this.#ensure(2);
        this.#buf[this.#pos++] = (1 << 3) | 2;
        const itemSlot = this.#reserve(1);
        this.#writeAnyValue(item as AttributeValue);
        this.#finish(itemSlot, 1);
      }
      this.#finish(arraySlot, 1);
    } else if (typeof value === "object" && value != null) {
      this.#ensure(2);
      this.#buf[this.#pos++] = (6 << 3) | 2;
      const listSlot = this.#reserve(1);
      const obj = value as Record<string, unknown>;
      for (const k in obj) {
        if (!Object.prototype.hasOwnProperty.call(obj, k)) continue;
        this.#ensure(2);
        this.#buf[this.#pos++] = (1 << 3) | 2;
        const kvSlot = this.#reserve(1);
        this.#writeStringField((1 << 3) | 2, k);
        this.#ensure(2);
        this.#buf[this.#pos++] = (2 << 3) | 2;
        const valueSlot = this.#reserve(1);
        this.#writeAnyValue(obj[k] as AttributeValue);
        this.#finish(valueSlot, 1);
        this.#finish(kvSlot, 1);
      }
      this.#finish(listSlot, 1);
    }
    // Anything else (undefined, null, bigint, function): an empty AnyValue, as the official serializer.
  }

  // ----------------------------------------------------------------------------------------------
  // Caches

  #keyEntry(key: string): KeyEntry | undefined {
    let entry = this.#keys.get(key);
    if (entry === undefined) {
      if (this.#keys.size >= this.#maxCachedKeys || key.length > this.#maxCachedStringLength) {
        this.#uncachedStrings++;
        return undefined;
      }
      entry = { prefix: encodeStringField((1 << 3) | 2, key), values: new Map() };
      this.#keys.set(key, entry);
    }
    return entry;
  }

  /** Keeps the KeyValue just written at `kvSlot` (length prefix and body) for `value`, unless the key turned high-cardinality. */
  #cacheKeyValue(entry: KeyEntry, value: string | number | boolean, kvSlot: number): void {
    const values = entry.values!;
    if (values.size >= this.#maxCachedValuesPerKey) {
      // High cardinality (ids, keys, timings): stop looking values of this key up.
      this.#cachedValues -= values.size;
      entry.values = undefined;
      this.#highCardinalityKeys++;
      return;
    }
    values.set(value, this.#buf.slice(kvSlot, this.#pos));
    this.#cachedValues++;
  }

  /** Span.name (field 5) or Event.name (field 2) under `tag`; the cache holds `varint(len) utf8` without the tag. */
  #writeName(tag: number, name: string): void {
    let bytes = this.#names.get(name);
    if (bytes === undefined && this.#names.size < this.#maxCachedNames && name.length <= this.#maxCachedStringLength) {
      bytes = encodeLengthDelimitedString(name);
      this.#names.set(name, bytes);
    }
    this.#ensure(2);
    this.#buf[this.#pos++] = tag;
    if (bytes !== undefined) this.#copy(bytes);
    else {
      this.#uncachedStrings++;
      this.#writeString(name);
    }
  }

  // ----------------------------------------------------------------------------------------------
  // Primitives

  #ensure(n: number): void {
    if (this.#pos + n > this.#buf.length) this.#grow(n);
  }

  #grow(n: number): void {
    let size = this.#buf.length * 2;
    while (size < this.#pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.#buf.subarray(0, this.#pos));
    this.#buf = next;
    this.#view = new DataView(next.buffer);
  }

  /** Reserves `n` bytes for a length prefix; returns where they start. */
  #reserve(n: number): number {
    this.#ensure(n);
    const slot = this.#pos;
    this.#pos += n;
    return slot;
  }

  /** Writes the length of what follows the `reserved` bytes at `slot`, moving the body if the varint has another size. */
  #finish(slot: number, reserved: number): void {
    const bodyStart = slot + reserved;
    const length = this.#pos - bodyStart;
    const size = varintSize(length);
    if (size !== reserved) {
      if (size > reserved) this.#ensure(size - reserved);
      this.#buf.copyWithin(slot + size, bodyStart, this.#pos);
      this.#pos += size - reserved;
    }
    const buf = this.#buf;
    let p = slot;
    let v = length;
    while (v > 0x7f) {
      buf[p++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    buf[p] = v;
  }

  #copy(bytes: Uint8Array): void {
    const n = bytes.length;
    this.#ensure(n);
    const buf = this.#buf;
    let p = this.#pos;
    if (n <= 32) {
      for (let i = 0; i < n; i++) buf[p++] = bytes[i]!;
    } else {
      buf.set(bytes, p);
      p += n;
    }
    this.#pos = p;
  }

  #writeStringField(tag: number, s: string): void {
    this.#ensure(1);
    this.#buf[this.#pos++] = tag;
    this.#writeString(s);
  }

  /** `varint(utf8 length) utf8(s)`; ASCII is copied straight in, anything else goes through TextEncoder. */
  #writeString(s: string): void {
    const n = s.length;
    const lengthSize = varintSize(n);
    this.#ensure(lengthSize + n);
    const buf = this.#buf;
    let p = this.#pos + lengthSize;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c > 0x7f) {
        const utf8 = textEncoder.encode(s);
        this.#writeVarint(utf8.length);
        this.#copy(utf8);
        return;
      }
      buf[p++] = c;
    }
    let q = this.#pos;
    let v = n;
    while (v > 0x7f) {
      buf[q++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    buf[q] = v;
    this.#pos = p;
  }

  /** Hex id decoded into a length-delimited bytes field, as the official `hexToBinary` decodes it. */
  #writeHexBytes(hex: string): void {
    const n = hex.length >>> 1;
    this.#ensure(n + 5);
    const buf = this.#buf;
    let p = this.#pos;
    if (n < 0x80) buf[p++] = n;
    else {
      this.#writeVarint(n);
      p = this.#pos;
    }
    for (let i = 0; i < n; i++) {
      buf[p++] = (hexDigit(hex.charCodeAt(2 * i)) << 4) | hexDigit(hex.charCodeAt(2 * i + 1));
    }
    this.#pos = p;
  }

  #writeFixed32(value: number): void {
    const buf = this.#buf;
    const v = value >>> 0;
    buf[this.#pos++] = v & 0xff;
    buf[this.#pos++] = (v >>> 8) & 0xff;
    buf[this.#pos++] = (v >>> 16) & 0xff;
    buf[this.#pos++] = (v >>> 24) & 0xff;
  }

  /** HrTime as fixed64 nanoseconds, exactly as the official serializer computes it (no precision loss). */
  #writeHrTime(hrTime: HrTime): void {
    const seconds = hrTime[0];
    const nanos = hrTime[1];
    const nanosPerSecond = 1_000_000_000;
    const fromLower = (seconds & 0xffff) * nanosPerSecond;
    const fromUpper = ((seconds / 0x10000) >>> 0) * nanosPerSecond;
    const lowWithCarry = (fromLower >>> 0) + (((fromUpper & 0xffff) * 0x10000) >>> 0) + nanos;
    const low = lowWithCarry >>> 0;
    const high = (Math.floor(fromLower / 0x100000000) + ((fromUpper / 0x10000) >>> 0) + Math.floor(lowWithCarry / 0x100000000)) >>> 0;
    const buf = this.#buf;
    let p = this.#pos;
    buf[p++] = low & 0xff;
    buf[p++] = (low >>> 8) & 0xff;
    buf[p++] = (low >>> 16) & 0xff;
    buf[p++] = (low >>> 24) & 0xff;
    buf[p++] = high & 0xff;
    buf[p++] = (high >>> 8) & 0xff;
    buf[p++] = (high >>> 16) & 0xff;
    buf[p++] = (high >>> 24) & 0xff;
    this.#pos = p;
  }

  /** A varint with the official writer's semantics (32-bit fast path; 64-bit two's complement for negatives and large values). Needs 10 bytes of room. */
  #writeVarint(value: number): void {
    this.#ensure(10);
    const buf = this.#buf;
    if (value >= 0 && value <= 0xffffffff) {
      let v = value >>> 0;
      while (v > 0x7f) {
        buf[this.#pos++] = (v & 0x7f) | 0x80;
        v >>>= 7;
      }
      buf[this.#pos++] = v;
      return;
    }
    let low: number;
    let high: number;
    if (value >= 0) {
      low = value >>> 0;
      high = (value / 0x100000000) >>> 0;
    } else {
      const abs = Math.abs(value);
      low = ~(abs >>> 0) >>> 0;
      high = ~((abs / 0x100000000) >>> 0) >>> 0;
      low = (low + 1) >>> 0;
      if (low === 0) high = (high + 1) >>> 0;
    }
    while (high > 0 || low > 0x7f) {
      buf[this.#pos++] = (low & 0x7f) | 0x80;
      low = ((low >>> 7) | (high << 25)) >>> 0;
      high >>>= 7;
    }
    buf[this.#pos++] = low & 0x7f;
  }
}
