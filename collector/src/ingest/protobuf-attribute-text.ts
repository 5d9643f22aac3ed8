import { MAX_ATTRIBUTE_VALUE_LENGTH } from "@troupe/contract";
import { STORED_ATTRIBUTE_TYPES, type StoredAttributeType } from "../store/attribute-types.js";
import type { NativeWriter } from "../store/native-block.js";
import { attributeText, type FilterCounts } from "./attribute-filter.js";
import type { WireReader } from "./protobuf-wire-reader.js";

const LEN = 2;
const STRING_VALUE_TAG = (1 << 3) | LEN;
const INT_VALUE_TAG = 3 << 3; // varint
const ARRAY_VALUE_TAG = (5 << 3) | LEN;
/** ArrayValue.values. */
const VALUES_TAG = (1 << 3) | LEN;

/** Each stored type name as a block's String value (length byte, ASCII), to copy into a types map. */
export const STORED_TYPE_TEXT: Readonly<Record<StoredAttributeType, Buffer>> = Object.fromEntries(
  [...STORED_ATTRIBUTE_TYPES].map((type) => [type, Buffer.from([type.length, ...Buffer.from(type, "latin1")])]),
) as Record<StoredAttributeType, Buffer>;

/** How writeAttributeText found a value. */
export interface WrittenValue {
  /**
   * Whether the AnyValue was one field laid out as exporters write it, holding ASCII text, an int or
   * a list of printable ASCII strings: what its stored text says, those bytes say (false: not known).
   */
  asSent: boolean;
}

/**
 * Writes the stored text of the AnyValue at `buf[valueStart, valueEnd)` (-1: no value) into
 * `values` as one String value, exactly as the general path stores it (attributeText, capped to
 * MAX_ATTRIBUTE_VALUE_LENGTH, a cut counted in `cuts`), and returns its stored type (undefined: a
 * plain string or a value without a type). The common values — a short string, an int (token
 * counts), a list of plain strings (finish reasons) — are written from the bytes without decoding
 * them; the rest through `r`, which it leaves anywhere.
 */
export function writeAttributeText(
  r: WireReader,
  buf: Buffer,
  values: NativeWriter,
  valueStart: number,
  valueEnd: number,
  maxAnyValueDepth: number,
  cuts: FilterCounts,
  written: WrittenValue,
): StoredAttributeType | undefined {
  written.asSent = false;
  if (valueStart < 0 || valueStart === valueEnd) {
    // No value, or an empty one: stored as "".
    values.varUInt(0);
    return undefined;
  }
  // The common value: one string_value field holding the whole AnyValue.
  if (buf[valueStart] === STRING_VALUE_TAG) {
    r.pos = valueStart + 1;
    const stringEnd = r.lengthEnd(valueEnd, "a string");
    if (stringEnd === valueEnd && valueEnd - r.pos <= MAX_ATTRIBUTE_VALUE_LENGTH) {
      // At most as many UTF-16 units as bytes: never over the cap.
      written.asSent = values.stringFromUtf8(buf, r.pos, stringEnd);
      return undefined;
    }
  }
  if (buf[valueStart] === INT_VALUE_TAG) {
    // The other common value: one int_value field. Written as String(n) would be.
    r.pos = valueStart + 1;
    const n = r.varintNumber(true);
    if (r.pos === valueEnd) {
      if (typeof n === "number") values.integerText(n);
      else values.string(n);
      written.asSent = true;
      return "int";
    }
  }
  if (buf[valueStart] === ARRAY_VALUE_TAG && maxAnyValueDepth > 1 && writeStringArray(buf, values, valueStart, valueEnd)) {
    written.asSent = true;
    return "string[]";
  }
  r.pos = valueStart;
  const value = r.anyValue(valueEnd, 1);
  const type = r.valueType === "other" ? undefined : r.valueType;
  const text = attributeText(value, type);
  if (text.length <= MAX_ATTRIBUTE_VALUE_LENGTH) {
    values.string(text);
    return type;
  }
  cuts.truncated++;
  values.string(text.slice(0, MAX_ATTRIBUTE_VALUE_LENGTH));
  return "truncated";
}

/**
 * An array of plain strings (e.g. gen_ai.response.finish_reasons) written as the JSON text the
 * general path makes of it, without building the array. False (nothing written) for anything
 * else: other element types, characters JSON would escape, text over the cap, an odd layout.
 */
function writeStringArray(buf: Buffer, values: NativeWriter, valueStart: number, valueEnd: number): boolean {
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
