// Protobuf encoding pieces of the OTLP trace serializer (otlp-protobuf-serializer.ts): varints, hex
// ids decoded as the official decoder does, span flags, length-delimited strings, field tags.

const SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK = 0x100;
const SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK = 0x200;
/** Bounds of an int64 (attribute ints outside them are encoded as doubles, as the official serializer does). */
export const MIN_64_BIT_INT = -(2 ** 63);
export const MAX_64_BIT_INT = 2 ** 63;
/** First size of the serializer's scratch buffer. */
export const INITIAL_BUFFER_BYTES = 64 * 1024;
// One-byte tags (field << 3 | wire type) of the repeated KeyValue fields of each message.
export const TAG_SPAN_ATTRIBUTES = (9 << 3) | 2;
export const TAG_EVENT_ATTRIBUTES = (3 << 3) | 2;
export const TAG_LINK_ATTRIBUTES = (4 << 3) | 2;
export const TAG_RESOURCE_ATTRIBUTES = (1 << 3) | 2;
export const TAG_SCOPE_ATTRIBUTES = (3 << 3) | 2;

/** One encoder for every string. */
export const textEncoder = new TextEncoder();

/** Bytes of `v` as a protobuf varint (v < 2^35). */
export function varintSize(v: number): number {
  return v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x200000 ? 3 : v < 0x10000000 ? 4 : 5;
}

/** The official hex decoder's digit value, kept bug-for-bug (non-hex characters decode the same way). */
function hexDigitSlow(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  return c - 55;
}

const HEX_DIGITS = Int32Array.from({ length: 128 }, (_, c) => hexDigitSlow(c));

/** A hex digit's value (hexDigitSlow, from a table for ASCII). */
export function hexDigit(c: number): number {
  return c < 128 ? HEX_DIGITS[c]! : hexDigitSlow(c);
}

/** The OTLP Span.flags of a span context: W3C trace flags plus whether the parent is remote. */
export function buildSpanFlags(traceFlags: number, isRemote: boolean | undefined): number {
  let flags = (traceFlags & 0xff) | SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK;
  if (isRemote) flags |= SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK;
  return flags;
}

/** `varint(len) utf8(s)`. */
export function encodeLengthDelimitedString(s: string): Uint8Array {
  const utf8 = textEncoder.encode(s);
  const out = new Uint8Array(varintSize(utf8.length) + utf8.length);
  let p = 0;
  let v = utf8.length;
  while (v > 0x7f) {
    out[p++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  out[p++] = v;
  out.set(utf8, p);
  return out;
}

/** `tag varint(len) utf8(s)`. */
export function encodeStringField(tag: number, s: string): Uint8Array {
  const body = encodeLengthDelimitedString(s);
  const out = new Uint8Array(1 + body.length);
  out[0] = tag;
  out.set(body, 1);
  return out;
}
