import type { OtlpJsonAnyValue } from "../store/attribute-types.js";
import { ByteWriter, copyBytes } from "./byte-writer.js";

function hexValue(c: number): number {
  return c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : 0;
}

/** The byte two hex digits spell, by (first << 8 | second): one lookup per byte of an id. */
const HEX_PAIR = new Uint8Array(65536);
for (let a = 0; a < 256; a++) for (let b = 0; b < 256; b++) HEX_PAIR[(a << 8) | b] = (hexValue(a) << 4) | hexValue(b);

const DECIMAL_INT = /^-?\d{1,20}$/;
const TWO_64 = 1n << 64n;

/** Bytes a varint of a non-negative 32-bit value takes. */
export function varintSize(value: number): number {
  return value < 0x80 ? 1 : value < 0x4000 ? 2 : value < 0x20_0000 ? 3 : value < 0x1000_0000 ? 4 : 5;
}

/**
 * Protobuf on a ByteWriter: tags, varints, fixed-width numbers, length-delimited fields and bytes
 * copied from other buffers. Nested messages reserve a length prefix of their usual size
 * and patch it when done (shifting the body in the rare case the length needs another byte count),
 * so a message is written in one pass. Int64 values are written exactly (from decimal text when past 2^53).
 */
export class ProtoWriter extends ByteWriter {
  /** A varint of a non-negative value below 2^32. */
  varint32(value: number): void {
    this.ensure(5);
    const buf = this.buf;
    let v = value >>> 0;
    while (v > 0x7f) {
      buf[this.pos++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    buf[this.pos++] = v;
  }

  /** A varint of a 64-bit value given as its 32-bit halves (two's complement for negative int64). */
  varint64(lo: number, hi: number): void {
    this.ensure(10);
    const buf = this.buf;
    let l = lo >>> 0;
    let h = hi >>> 0;
    while (h > 0 || l > 0x7f) {
      buf[this.pos++] = (l & 0x7f) | 0x80;
      l = ((l >>> 7) | (h << 25)) >>> 0;
      h >>>= 7;
    }
    buf[this.pos++] = l;
  }

  fixed32(value: number): void {
    this.ensure(4);
    this.pos = this.buf.writeUInt32LE(value >>> 0, this.pos);
  }

  fixed64(lo: number, hi: number): void {
    this.ensure(8);
    this.buf.writeUInt32LE(lo >>> 0, this.pos);
    this.buf.writeUInt32LE(hi >>> 0, this.pos + 4);
    this.pos += 8;
  }

  /** A fixed64 from decimal text of an unsigned nanosecond count (0 when it is not one). */
  fixed64Decimal(text: string): void {
    const v = /^\d{1,20}$/.test(text) ? BigInt.asUintN(64, BigInt(text)) : 0n;
    this.fixed64(Number(v & 0xffff_ffffn), Number(v >> 32n));
  }

  double(value: number): void {
    this.ensure(8);
    this.pos = this.buf.writeDoubleLE(value, this.pos);
  }

  /**
   * A KeyValue field under `tag` whose value is a string: `keyField` is its whole key field (tag,
   * length, UTF-8) and `source[start, end)` the value as `varint(length) utf8` (a Native String).
   */
  stringKeyValue(tag: number, keyField: Buffer, source: Buffer, start: number, end: number): void {
    const valueBytes = end - start;
    const anyValueLength = 1 + valueBytes;
    const kvLength = keyField.length + 1 + varintSize(anyValueLength) + anyValueLength;
    this.ensure(16 + kvLength);
    const buf = this.buf;
    let p = this.pos;
    buf[p++] = tag;
    for (let v = kvLength; ; v >>>= 7) {
      if (v <= 0x7f) {
        buf[p++] = v;
        break;
      }
      buf[p++] = (v & 0x7f) | 0x80;
    }
    buf.set(keyField, p);
    p += keyField.length;
    buf[p++] = (2 << 3) | 2;
    for (let v = anyValueLength; ; v >>>= 7) {
      if (v <= 0x7f) {
        buf[p++] = v;
        break;
      }
      buf[p++] = (v & 0x7f) | 0x80;
    }
    buf[p++] = (1 << 3) | 2;
    this.pos = copyBytes(source, start, end, buf, p);
  }

  /** `varint(length) bytes` of the bytes that `hexLength` hex digits at `source[start]` spell. */
  hexAsBytes(source: Uint8Array, start: number, hexLength: number): void {
    const n = hexLength >>> 1;
    this.varint32(n);
    this.ensure(n);
    const buf = this.buf;
    let p = this.pos;
    for (let i = start, end = start + 2 * n; i < end; i += 2) buf[p++] = HEX_PAIR[(source[i]! << 8) | source[i + 1]!]!;
    this.pos = p;
  }

  /** `varint(length) bytes` of a hex string's bytes. */
  hexStringAsBytes(hex: string): void {
    this.hexAsBytes(Buffer.from(hex, "latin1"), 0, hex.length);
  }

  /** `tag varint(length) utf8`. */
  stringField(tag: number, value: string): void {
    const n = Buffer.byteLength(value, "utf8");
    this.ensure(6 + n);
    this.buf[this.pos++] = tag;
    this.varint32(n);
    this.pos += this.buf.write(value, this.pos, n, "utf8");
  }

  /** Reserves `bytes` for the length prefix of a nested message; give the slot to `finish`. */
  reserve(bytes: number): number {
    this.ensure(bytes);
    const slot = this.pos;
    this.pos += bytes;
    return slot;
  }

  /** Writes the length of what followed the `reserved` bytes at `slot`, moving it when the varint has another size. */
  finish(slot: number, reserved: number): void {
    const bodyStart = slot + reserved;
    const length = this.pos - bodyStart;
    const size = varintSize(length);
    if (size !== reserved) {
      if (size > reserved) this.ensure(size - reserved);
      this.buf.copyWithin(slot + size, bodyStart, this.pos);
      this.pos += size - reserved;
    }
    const buf = this.buf;
    let p = slot;
    let v = length;
    while (v > 0x7f) {
      buf[p++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    buf[p] = v;
  }

  /** An int64 AnyValue body (`int_value`) from its exact decimal text; false (nothing written) when the text is not an int64. */
  intValueDecimal(text: string): boolean {
    if (!DECIMAL_INT.test(text)) return false;
    if (text.length <= 15) {
      this.#intValueSafe(Number(text));
      return true;
    }
    const big = BigInt(text);
    if (big < -(1n << 63n) || big >= 1n << 63n) return false;
    const u = big < 0n ? big + TWO_64 : big;
    this.byte((3 << 3) | 0);
    this.varint64(Number(u & 0xffff_ffffn), Number(u >> 32n));
    return true;
  }

  /** `intValueDecimal` of the ASCII text `source[start, end)`, making no string when it has at most 15 digits. */
  intValueAscii(source: Buffer, start: number, end: number): boolean {
    const negative = source[start] === 45;
    const first = negative ? start + 1 : start;
    if (end - first < 1 || end - first > 15) return end - first > 15 && this.intValueDecimal(source.toString("latin1", start, end));
    let n = 0;
    for (let i = first; i < end; i++) {
      const digit = source[i]! - 48;
      if (digit < 0 || digit > 9) return false;
      n = n * 10 + digit;
    }
    this.#intValueSafe(negative ? -n : n);
    return true;
  }

  /** `int_value` of an integer of magnitude below 2^53. */
  #intValueSafe(n: number): void {
    this.byte((3 << 3) | 0);
    if (n >= 0) {
      this.varint64(n % 0x1_0000_0000, Math.floor(n / 0x1_0000_0000));
      return;
    }
    // Two's complement of -n in 64 bits.
    const abs = -n;
    let lo = ~(abs % 0x1_0000_0000) >>> 0;
    let hi = ~Math.floor(abs / 0x1_0000_0000) >>> 0;
    lo = (lo + 1) >>> 0;
    if (lo === 0) hi = (hi + 1) >>> 0;
    this.varint64(lo, hi);
  }

  /** An AnyValue message body from its OTLP/JSON mapping (int64 exact from its decimal text). */
  anyValue(value: OtlpJsonAnyValue): void {
    if ("stringValue" in value) this.stringField((1 << 3) | 2, value.stringValue);
    else if ("boolValue" in value) {
      this.byte((2 << 3) | 0);
      this.byte(value.boolValue ? 1 : 0);
    } else if ("intValue" in value) {
      if (!this.intValueDecimal(value.intValue)) this.stringField((1 << 3) | 2, value.intValue);
    } else if ("doubleValue" in value) {
      this.byte((4 << 3) | 1);
      this.double(Number(value.doubleValue));
    } else if ("bytesValue" in value) {
      const bytes = Buffer.from(value.bytesValue, "base64");
      this.byte((7 << 3) | 2);
      this.varint32(bytes.length);
      this.copy(bytes);
    } else {
      this.byte((5 << 3) | 2);
      const array = this.reserve(1);
      for (const element of value.arrayValue.values) {
        this.byte((1 << 3) | 2);
        const slot = this.reserve(1);
        this.anyValue(element);
        this.finish(slot, 1);
      }
      this.finish(array, 1);
    }
  }

  /** A KeyValue field under `tag`. */
  keyValue(tag: number, key: string, value: OtlpJsonAnyValue): void {
    this.byte(tag);
    const slot = this.reserve(1);
    this.stringField((1 << 3) | 2, key);
    this.byte((2 << 3) | 2);
    const valueSlot = this.reserve(1);
    this.anyValue(value);
    this.finish(valueSlot, 1);
    this.finish(slot, 1);
  }
}
