import { CollectorError } from "../errors.js";
import type { IngestLimits } from "./ingest-limits.js";
import type { OtlpAttributeValue, OtlpEvent, OtlpKeyValue, OtlpResourceSpans, OtlpSpan, OtlpTraceRequest } from "./otlp-traces.js";

/** Attribute keys worth decoding; other attributes are skipped (validated, not materialized) and counted. */
export interface AttributeAllowLists {
  span: ReadonlySet<string>;
  resource: ReadonlySet<string>;
  event: ReadonlySet<string>;
}

const VARINT = 0;
const I64 = 1;
const LEN = 2;
const I32 = 5;

/**
 * Decodes an `application/x-protobuf` ExportTraceServiceRequest straight from the wire format of
 * the official OTLP .proto (field numbers in ./proto), without building intermediate messages, and
 * decodes only attributes named in `allow` (the rest are walked for validity, skipped and counted).
 * Same result as the protobufjs decoder (decode-protobuf.ts) for the attributes it keeps — a
 * differential test holds them together — at several times its speed (see bench/ingest.bench.ts).
 * Throws CollectorError bad_request naming the problem (truncation, wrong wire type, bad id length,
 * nesting too deep) and payload_too_large past the span bound.
 */
export function decodeProtobufTracesWire(body: Buffer, limits: IngestLimits, allow?: AttributeAllowLists): OtlpTraceRequest {
  const r = new WireReader(body, limits, allow);
  const resourceSpans: OtlpResourceSpans[] = [];
  const end = body.length;
  while (r.pos < end) {
    const tag = r.varint32();
    if (tag >>> 3 === 1 && (tag & 7) === LEN) resourceSpans.push(r.resourceSpans(r.lengthEnd(end, "ExportTraceServiceRequest"), resourceSpans.length));
    else r.skip(tag, end);
  }
  return { resourceSpans, spanCount: r.spanCount };
}

/** The wire-format primitives of the decoders (bounds-checked; failures throw CollectorError bad_request naming the byte). */
export class WireReader {
  pos = 0;
  spanCount = 0;
  readonly #buf: Buffer;
  readonly #limits: IngestLimits;
  readonly #allow: AttributeAllowLists | undefined;
  readonly #message: string;

  /** `message` names the request type in error messages. */
  constructor(buf: Buffer, limits: IngestLimits, allow: AttributeAllowLists | undefined, message = "ExportTraceServiceRequest") {
    this.#buf = buf;
    this.#limits = limits;
    this.#allow = allow;
    this.#message = message;
  }

  fail(what: string): never {
    throw new CollectorError("bad_request", `protobuf body is not a valid ${this.#message}: ${what} at byte ${this.pos}`);
  }

  varint32(): number {
    const buf = this.#buf;
    let result = 0;
    let shift = 0;
    for (;;) {
      if (this.pos >= buf.length) this.fail("truncated varint");
      const b = buf[this.pos++] as number;
      if (shift < 28) result |= (b & 0x7f) << shift;
      else if (shift === 28) result |= (b & 0x0f) << 28;
      if ((b & 0x80) === 0) return result >>> 0;
      shift += 7;
      if (shift > 63) this.fail("varint longer than 10 bytes");
    }
  }

  /** A 64-bit varint as a number when exactly representable, else as a decimal string (two's complement when `signed`). */
  varintNumber(signed: boolean): number | string {
    const start = this.pos;
    const buf = this.#buf;
    let lo = 0;
    let hi = 0;
    let shift = 0;
    for (;;) {
      if (this.pos >= buf.length) this.fail("truncated varint");
      const b = buf[this.pos++] as number;
      if (shift < 28) lo |= (b & 0x7f) << shift;
      else if (shift === 28) {
        lo |= (b & 0x0f) << 28;
        hi |= (b & 0x7f) >> 4;
      } else hi |= (b & 0x7f) << (shift - 32);
      if ((b & 0x80) === 0) break;
      shift += 7;
      if (shift > 63) this.fail("varint longer than 10 bytes");
    }
    hi >>>= 0;
    if (hi < 0x200000) return hi * 4294967296 + (lo >>> 0);
    if (signed && hi >= 0xffe00000) return (hi | 0) * 4294967296 + (lo >>> 0);
    this.pos = start;
    const v = this.varint64(signed);
    return v.toString();
  }

  /** A 64-bit varint as a BigInt (two's complement when `signed`). */
  varint64(signed: boolean): bigint {
    const buf = this.#buf;
    let lo = 0;
    let hi = 0;
    let shift = 0;
    for (;;) {
      if (this.pos >= buf.length) this.fail("truncated varint");
      const b = buf[this.pos++] as number;
      if (shift < 28) lo |= (b & 0x7f) << shift;
      else if (shift === 28) {
        lo |= (b & 0x0f) << 28;
        hi |= (b & 0x7f) >> 4;
      } else hi |= (b & 0x7f) << (shift - 32);
      if ((b & 0x80) === 0) break;
      shift += 7;
      if (shift > 63) this.fail("varint longer than 10 bytes");
    }
    const value = (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
    return signed ? BigInt.asIntN(64, value) : value;
  }

  /** Reads a length prefix and returns where the field ends, checked against `end`. */
  lengthEnd(end: number, inside: string): number {
    const length = this.varint32();
    const fieldEnd = this.pos + length;
    if (fieldEnd > end) this.fail(`length ${length} runs past the end of ${inside} (truncated?)`);
    return fieldEnd;
  }

  skip(tag: number, end: number): void {
    if (tag >>> 3 === 0) this.fail("field number 0");
    switch (tag & 7) {
      case VARINT: {
        const buf = this.#buf;
        for (let n = 0; ; n++) {
          if (this.pos >= end) this.fail("truncated varint");
          if (n >= 10) this.fail("varint longer than 10 bytes");
          if (((buf[this.pos++] as number) & 0x80) === 0) return;
        }
      }
      case I64:
        this.pos += 8;
        break;
      case LEN:
        this.pos = this.lengthEnd(end, "a field");
        return;
      case I32:
        this.pos += 4;
        break;
      default:
        this.fail(`unsupported wire type ${tag & 7}`);
    }
    if (this.pos > end) this.fail("truncated fixed-width field");
  }

  expect(tag: number, wireType: number, field: string): void {
    if ((tag & 7) !== wireType) this.fail(`${field} has wire type ${tag & 7}, expected ${wireType}`);
  }

  string(end: number): string {
    const fieldEnd = this.lengthEnd(end, "a string");
    const s = this.#buf.toString("utf8", this.pos, fieldEnd);
    this.pos = fieldEnd;
    return s;
  }

  /** Low and high 32-bit halves of the last fixed64 read. */
  lo = 0;
  hi = 0;

  /** Reads a fixed64 into `lo` and `hi`. */
  fixed64(end: number): void {
    if (this.pos + 8 > end) this.fail("truncated fixed64");
    const buf = this.#buf;
    const p = this.pos;
    this.lo = ((buf[p] as number) | ((buf[p + 1] as number) << 8) | ((buf[p + 2] as number) << 16)) + (buf[p + 3] as number) * 0x1000000;
    this.hi = ((buf[p + 4] as number) | ((buf[p + 5] as number) << 8) | ((buf[p + 6] as number) << 16)) + (buf[p + 7] as number) * 0x1000000;
    this.pos = p + 8;
  }

  resourceSpans(end: number, index: number): OtlpResourceSpans {
    const out: OtlpResourceSpans & { skippedResourceAttributes: number } = { resourceAttributes: [], spans: [], skippedResourceAttributes: 0 };
    let scopeIndex = 0;
    while (this.pos < end) {
      const tag = this.varint32();
      switch (tag >>> 3) {
        case 1: {
          this.expect(tag, LEN, "ResourceSpans.resource");
          const resourceEnd = this.lengthEnd(end, "ResourceSpans");
          while (this.pos < resourceEnd) {
            const t = this.varint32();
            if (t >>> 3 === 1) {
              this.expect(t, LEN, "Resource.attributes");
              const before = this.skipped;
              this.keyValueInto(this.lengthEnd(resourceEnd, "Resource"), out.resourceAttributes, this.#allow?.resource, 1);
              out.skippedResourceAttributes += this.skipped - before;
            } else this.skip(t, resourceEnd);
          }
          break;
        }
        case 2: {
          this.expect(tag, LEN, "ResourceSpans.scope_spans");
          const scopeEnd = this.lengthEnd(end, "ResourceSpans");
          let spanIndex = 0;
          while (this.pos < scopeEnd) {
            const t = this.varint32();
            if (t >>> 3 === 2) {
              this.expect(t, LEN, "ScopeSpans.spans");
              if (++this.spanCount > this.#limits.maxSpansPerRequest) {
                throw new CollectorError(
                  "payload_too_large",
                  `request has more than ${this.#limits.maxSpansPerRequest} spans; at most ${this.#limits.maxSpansPerRequest} are accepted per request (lower the exporter's maxExportBatchSize)`,
                );
              }
              out.spans.push(this.span(this.lengthEnd(scopeEnd, "ScopeSpans"), index, scopeIndex, spanIndex++));
            } else this.skip(t, scopeEnd);
          }
          scopeIndex++;
          break;
        }
        default:
          this.skip(tag, end);
      }
    }
    return out;
  }

  span(end: number, rs: number, ss: number, k: number): OtlpSpan {
    const buf = this.#buf;
    const path = (): string => `resourceSpans[${rs}].scopeSpans[${ss}].spans[${k}]`;
    let traceId = "";
    let traceIdBytes = 0;
    let spanId = "";
    let spanIdBytes = 0;
    let parentSpanId = "";
    let name = "";
    let kind = 0;
    let startLo = 0;
    let startHi = 0;
    let endLo = 0;
    let endHi = 0;
    let statusCode = 0;
    const attributes: OtlpKeyValue[] = [];
    const events: OtlpEvent[] = [];
    const skippedBefore = this.skipped;
    let eventSkipped = 0;
    while (this.pos < end) {
      const tag = this.varint32();
      switch (tag >>> 3) {
        case 1:
        case 2:
        case 4: {
          this.expect(tag, LEN, "Span id");
          const idEnd = this.lengthEnd(end, "Span");
          const bytes = idEnd - this.pos;
          const field = tag >>> 3;
          if (field === 1) {
            traceIdBytes = bytes;
            if (bytes === 16) traceId = buf.toString("hex", this.pos, idEnd);
          } else if (field === 2) {
            spanIdBytes = bytes;
            if (bytes === 8) spanId = buf.toString("hex", this.pos, idEnd);
          } else if (bytes === 0) parentSpanId = "";
          else if (bytes === 8) parentSpanId = buf.toString("hex", this.pos, idEnd);
          else throw new CollectorError("bad_request", `${path()}.parentSpanId: must be 8 bytes; got ${bytes}`);
          this.pos = idEnd;
          break;
        }
        case 5:
          this.expect(tag, LEN, "Span.name");
          name = this.string(end);
          break;
        case 6:
          this.expect(tag, VARINT, "Span.kind");
          kind = Number(this.varintNumber(true));
          break;
        case 7:
          this.expect(tag, I64, "Span.start_time_unix_nano");
          this.fixed64(end);
          startLo = this.lo;
          startHi = this.hi;
          break;
        case 8:
          this.expect(tag, I64, "Span.end_time_unix_nano");
          this.fixed64(end);
          endLo = this.lo;
          endHi = this.hi;
          break;
        case 9:
          this.expect(tag, LEN, "Span.attributes");
          this.keyValueInto(this.lengthEnd(end, "Span"), attributes, this.#allow?.span, 1);
          break;
        case 11:
          this.expect(tag, LEN, "Span.events");
          const event = this.event(this.lengthEnd(end, "Span"));
          eventSkipped += event.skippedAttributes ?? 0;
          events.push(event);
          break;
        case 15:
          this.expect(tag, LEN, "Span.status");
          statusCode = this.statusCode(this.lengthEnd(end, "Span"));
          break;
        default:
          this.skip(tag, end);
      }
    }
    if (traceIdBytes !== 16) throw new CollectorError("bad_request", `${path()}.traceId: must be 16 bytes; got ${traceIdBytes}`);
    if (spanIdBytes !== 8) throw new CollectorError("bad_request", `${path()}.spanId: must be 8 bytes; got ${spanIdBytes}`);
    return {
      traceId,
      spanId,
      parentSpanId,
      name,
      kind,
      startTimeUnixNano: uint64Decimal(startLo, startHi),
      endTimeUnixNano: uint64Decimal(endLo, endHi),
      durationNs: spanDurationNs(startLo, startHi, endLo, endHi),
      attributes,
      skippedAttributes: this.skipped - skippedBefore - eventSkipped,
      events,
      statusCode,
    };
  }

  /** The code of a Status message ending at `end` (0, unset, when absent). */
  statusCode(end: number): number {
    let code = 0;
    while (this.pos < end) {
      const t = this.varint32();
      if (t >>> 3 === 3) {
        this.expect(t, VARINT, "Status.code");
        code = Number(this.varintNumber(true));
      } else this.skip(t, end);
    }
    return code;
  }

  event(end: number): OtlpEvent {
    const event: OtlpEvent & { skippedAttributes: number } = { name: "", attributes: [], skippedAttributes: 0 };
    while (this.pos < end) {
      const tag = this.varint32();
      if (tag >>> 3 === 2) {
        this.expect(tag, LEN, "Event.name");
        event.name = this.string(end);
      } else if (tag >>> 3 === 3) {
        this.expect(tag, LEN, "Event.attributes");
        const before = this.skipped;
        this.keyValueInto(this.lengthEnd(end, "Event"), event.attributes, this.#allow?.event, 1);
        event.skippedAttributes += this.skipped - before;
      } else this.skip(tag, end);
    }
    return event;
  }

  /** Attributes skipped so far (not allow-listed). */
  skipped = 0;

  /** Decodes one KeyValue into `into` when its key is allowed, else validates, skips and counts it. */
  keyValueInto(end: number, into: OtlpKeyValue[], allow: ReadonlySet<string> | undefined, depth: number): void {
    let key = "";
    let valueStart = -1;
    let valueEnd = -1;
    while (this.pos < end) {
      const tag = this.varint32();
      if (tag >>> 3 === 1) {
        this.expect(tag, LEN, "KeyValue.key");
        key = this.string(end);
      } else if (tag >>> 3 === 2) {
        this.expect(tag, LEN, "KeyValue.value");
        valueEnd = this.lengthEnd(end, "KeyValue");
        valueStart = this.pos;
        this.pos = valueEnd;
      } else this.skip(tag, end);
    }
    const after = this.pos;
    if (allow && !allow.has(key)) {
      if (valueStart >= 0) {
        this.pos = valueStart;
        this.walkAnyValue(valueEnd, depth);
        this.pos = after;
      }
      this.skipped++;
      return;
    }
    let value: OtlpAttributeValue = null;
    if (valueStart >= 0) {
      this.pos = valueStart;
      value = this.anyValue(valueEnd, depth);
      this.pos = after;
    }
    into.push({ key, value });
  }

  anyValue(end: number, depth: number): OtlpAttributeValue {
    let value: OtlpAttributeValue = null;
    while (this.pos < end) {
      const tag = this.varint32();
      switch (tag >>> 3) {
        case 1:
          this.expect(tag, LEN, "AnyValue.string_value");
          value = this.string(end);
          break;
        case 2:
          this.expect(tag, VARINT, "AnyValue.bool_value");
          value = this.varintNumber(false) !== 0;
          break;
        case 3: {
          this.expect(tag, VARINT, "AnyValue.int_value");
          value = this.varintNumber(true);
          break;
        }
        case 4:
          this.expect(tag, I64, "AnyValue.double_value");
          if (this.pos + 8 > end) this.fail("truncated double");
          value = this.#buf.readDoubleLE(this.pos);
          this.pos += 8;
          break;
        case 5:
        case 6: {
          this.expect(tag, LEN, "AnyValue.array_value/kvlist_value");
          this.checkDepth(depth);
          const listEnd = this.lengthEnd(end, "AnyValue");
          if (tag >>> 3 === 5) {
            const values: OtlpAttributeValue[] = [];
            while (this.pos < listEnd) {
              const t = this.varint32();
              if (t >>> 3 === 1) {
                this.expect(t, LEN, "ArrayValue.values");
                values.push(this.anyValue(this.lengthEnd(listEnd, "ArrayValue"), depth + 1));
              } else this.skip(t, listEnd);
            }
            value = values;
          } else {
            const entries: OtlpKeyValue[] = [];
            while (this.pos < listEnd) {
              const t = this.varint32();
              if (t >>> 3 === 1) {
                this.expect(t, LEN, "KeyValueList.values");
                this.keyValueInto(this.lengthEnd(listEnd, "KeyValueList"), entries, undefined, depth + 1);
              } else this.skip(t, listEnd);
            }
            const obj = Object.create(null) as { [key: string]: OtlpAttributeValue };
            for (const e of entries) obj[e.key] = e.value;
            value = obj;
          }
          break;
        }
        case 7: {
          this.expect(tag, LEN, "AnyValue.bytes_value");
          const bytesEnd = this.lengthEnd(end, "AnyValue");
          value = this.#buf.toString("base64", this.pos, bytesEnd);
          this.pos = bytesEnd;
          break;
        }
        default:
          this.skip(tag, end);
      }
    }
    return value;
  }

  /** Validates an AnyValue that will be dropped: structure and nesting depth only, nothing built. */
  walkAnyValue(end: number, depth: number): void {
    while (this.pos < end) {
      const tag = this.varint32();
      const field = tag >>> 3;
      if ((field === 5 || field === 6) && (tag & 7) === LEN) {
        this.checkDepth(depth);
        const listEnd = this.lengthEnd(end, "AnyValue");
        while (this.pos < listEnd) {
          const t = this.varint32();
          if (t >>> 3 === 1 && (t & 7) === LEN) {
            const itemEnd = this.lengthEnd(listEnd, "a list");
            if (field === 5) this.walkAnyValue(itemEnd, depth + 1);
            else {
              while (this.pos < itemEnd) {
                const kt = this.varint32();
                if (kt >>> 3 === 2 && (kt & 7) === LEN) this.walkAnyValue(this.lengthEnd(itemEnd, "KeyValue"), depth + 1);
                else this.skip(kt, itemEnd);
              }
            }
          } else this.skip(t, listEnd);
        }
      } else this.skip(tag, end);
    }
  }

  checkDepth(depth: number): void {
    if (depth >= this.#limits.maxAnyValueDepth) {
      throw new CollectorError("bad_request", `attribute value nested deeper than ${this.#limits.maxAnyValueDepth} levels (at byte ${this.pos})`);
    }
  }
}

/**
 * A span's duration in nanoseconds from its start and end times given as 32-bit halves: end minus
 * start, exact while it fits 2^53, and 0 when the end is not after the start.
 */
export function spanDurationNs(startLo: number, startHi: number, endLo: number, endHi: number): number {
  const hiDiff = endHi - startHi;
  const duration =
    hiDiff > -0x200000 && hiDiff < 0x200000
      ? hiDiff * 4294967296 + (endLo - startLo)
      : Number(((BigInt(endHi) << 32n) | BigInt(endLo)) - ((BigInt(startHi) << 32n) | BigInt(startLo)));
  return duration > 0 ? duration : 0;
}

/**
 * The decimal text of an unsigned 64-bit value given as 32-bit halves, exact and without BigInt:
 * hi·2^32 + lo is split into base-10^9 limbs whose intermediate sums stay below 2^53.
 */
export function uint64Decimal(lo: number, hi: number): string {
  if (hi < 0x200000) return String(hi * 4294967296 + lo);
  const hiHigh = hi >>> 16;
  const hiLow = hi & 0xffff;
  // 2^48 = 281474·10^9 + 976710656; 2^32 = 4·10^9 + 294967296
  const low = hiHigh * 976710656 + hiLow * 294967296 + lo;
  const high = hiHigh * 281474 + hiLow * 4 + Math.floor(low / 1e9);
  return String(high) + String(low % 1e9).padStart(9, "0");
}
