import { CollectorError } from "../errors.js";
import type { AttributeType } from "../store/attribute-types.js";
import { arrayType } from "./attribute-filter.js";
import type { IngestLimits } from "./ingest-limits.js";
import type { OtlpAttributeValue, OtlpKeyValue } from "./otlp-traces.js";

/** Protobuf wire types. */
export const VARINT = 0;
export const I64 = 1;
export const LEN = 2;
export const I32 = 5;

/**
 * The protobuf wire-format primitives of the OTLP decoders, over one body: varints, lengths,
 * fixed-width fields, strings, and OTLP's KeyValue and AnyValue. Every read is bounds-checked;
 * failures throw CollectorError bad_request naming the problem and the byte, and nesting past
 * `limits.maxAnyValueDepth` is refused even inside a value that is only walked.
 */
export class WireReader {
  pos = 0;
  readonly #buf: Buffer;
  readonly #limits: IngestLimits;
  readonly #message: string;

  /** `message` names the request type in error messages. */
  constructor(buf: Buffer, limits: IngestLimits, message = "ExportTraceServiceRequest") {
    this.#buf = buf;
    this.#limits = limits;
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

  /** A fixed32 (e.g. span and link flags), unsigned. */
  fixed32(end: number): number {
    if (this.pos + 4 > end) this.fail("truncated fixed32");
    const value = this.#buf.readUInt32LE(this.pos);
    this.pos += 4;
    return value;
  }

  /** Attributes skipped so far (not allow-listed). */
  skipped = 0;

  /** Decodes one KeyValue into `into` (with its type) when its key is allowed, else validates, skips and counts it. */
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
    if (valueStart < 0) {
      into.push({ key, value: null });
      return;
    }
    this.pos = valueStart;
    const value = this.anyValue(valueEnd, depth);
    this.pos = after;
    const type = this.valueType;
    into.push(type === undefined || type === "other" ? { key, value } : { key, value, type });
  }

  /**
   * The OTLP type of the value `anyValue` last returned: undefined for a string, "other" for an
   * empty value, a key-value list or an array whose elements do not share one type (arrayType).
   */
  valueType: AttributeType | "other" | undefined;

  /** An AnyValue (the last of its fields wins, as for any oneof), its type left in `valueType`. */
  anyValue(end: number, depth: number): OtlpAttributeValue {
    let value: OtlpAttributeValue = null;
    let type: AttributeType | "other" | undefined = "other";
    while (this.pos < end) {
      const tag = this.varint32();
      switch (tag >>> 3) {
        case 1:
          this.expect(tag, LEN, "AnyValue.string_value");
          value = this.string(end);
          type = undefined;
          break;
        case 2:
          this.expect(tag, VARINT, "AnyValue.bool_value");
          value = this.varintNumber(false) !== 0;
          type = "bool";
          break;
        case 3: {
          this.expect(tag, VARINT, "AnyValue.int_value");
          value = this.varintNumber(true);
          type = "int";
          break;
        }
        case 4:
          this.expect(tag, I64, "AnyValue.double_value");
          if (this.pos + 8 > end) this.fail("truncated double");
          value = this.#buf.readDoubleLE(this.pos);
          this.pos += 8;
          type = "double";
          break;
        case 5:
        case 6: {
          this.expect(tag, LEN, "AnyValue.array_value/kvlist_value");
          this.checkDepth(depth);
          const listEnd = this.lengthEnd(end, "AnyValue");
          if (tag >>> 3 === 5) {
            const values: OtlpAttributeValue[] = [];
            const elementTypes: (AttributeType | "other" | undefined)[] = [];
            while (this.pos < listEnd) {
              const t = this.varint32();
              if (t >>> 3 === 1) {
                this.expect(t, LEN, "ArrayValue.values");
                values.push(this.anyValue(this.lengthEnd(listEnd, "ArrayValue"), depth + 1));
                // An array of arrays is not a typed array.
                elementTypes.push(this.valueType?.endsWith("]") ? "other" : this.valueType);
              } else this.skip(t, listEnd);
            }
            value = values;
            type = arrayType(elementTypes) ?? "other";
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
            type = "other";
          }
          break;
        }
        case 7: {
          this.expect(tag, LEN, "AnyValue.bytes_value");
          const bytesEnd = this.lengthEnd(end, "AnyValue");
          value = this.#buf.toString("base64", this.pos, bytesEnd);
          this.pos = bytesEnd;
          type = "bytes";
          break;
        }
        default:
          this.skip(tag, end);
      }
    }
    this.valueType = type;
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
