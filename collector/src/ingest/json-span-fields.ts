import type { NativeWriter } from "../store/native-block.js";
import type { SpanBlockBuilder } from "../store/span-block.js";
import { NOT_TAKEN, type JsonTokens } from "./json-tokens.js";
import { durationNs } from "./otlp-traces.js";

// Readers of a span's scalar fields in OTLP/JSON, for the direct path: each takes exactly what the
// general decoder (decode-json.ts) reads the same way, in the forms the exporters write, and throws
// NOT_TAKEN at anything else (which the general path then reads or refuses).

const QUOTE = 0x22;
const MINUS = 0x2d;
const ZERO = 0x30;
const NINE = 0x39;

/** The classes of hex digit bytes: HEX_ZERO for 0, HEX_LOWER for 1-9 and a-f, HEX_UPPER for A-F (0: not a digit). */
const HEX_ZERO = 1;
const HEX_LOWER = 2;
const HEX_UPPER = 4;
const HEX = new Uint8Array(256);
for (const c of Buffer.from("123456789abcdef")) HEX[c] = HEX_LOWER;
for (const c of Buffer.from("ABCDEF")) HEX[c] = HEX_UPPER;
HEX[ZERO] = HEX_ZERO;

/**
 * Reads a hex id of `length` digits (either case), as a number for writeHexId and isZeroId (where
 * its digits start, times 8, plus their classes); -1 for an empty parent id when `emptyIsNone`.
 */
export function readHexId(t: JsonTokens, length: number, emptyIsNone: boolean): number {
  const buf = t.buf;
  // The string read as t.string() would, from its quote: only hex digits (anything else takes the general path).
  if (t.peek() !== QUOTE) throw NOT_TAKEN;
  const start = t.pos + 1;
  if (emptyIsNone && buf[start] === QUOTE) {
    t.pos = start + 1;
    return -1;
  }
  let classes = 0;
  for (let i = start; i < start + length; i++) {
    const c = HEX[buf[i]!]!;
    if (c === 0) throw NOT_TAKEN;
    classes |= c;
  }
  if (buf[start + length] !== QUOTE) throw NOT_TAKEN;
  t.pos = start + length + 1;
  return start * 8 + classes;
}

/** Whether an id (as readHexId gives it) is all zeros: invalid in OTLP. */
export function isZeroId(id: number): boolean {
  return (id & (HEX_LOWER | HEX_UPPER)) === 0;
}

/** A String value: the id (as readHexId gives it) of `length` digits, lower-cased as the general path does (digits have the 0x20 bit already). */
export function writeHexId(w: NativeWriter, buf: Buffer, id: number, length: number): void {
  const start = Math.floor(id / 8);
  w.uint8(length);
  if ((id & HEX_UPPER) === 0) {
    w.rawBytes(buf, start, start + length);
    return;
  }
  for (let i = 0; i < length; i++) LOWER[i] = buf[start + i]! | 0x20;
  w.rawBytes(LOWER, 0, length);
}

const LOWER = Buffer.alloc(32);

/** A hex id of `length` digits, lower-cased (a link's). */
export function readHexIdText(t: JsonTokens, length: number): string {
  const start = Math.floor(readHexId(t, length, false) / 8);
  return t.buf.toString("latin1", start, start + length).toLowerCase();
}

/** An enum given as a one-digit number up to `max`. */
export function readSmallInt(t: JsonTokens, max: number): number {
  t.number();
  const value = t.buf[t.numberStart]! - ZERO;
  if (!t.integer || t.numberEnd - t.numberStart !== 1 || value > max) throw NOT_TAKEN;
  return value;
}

/** A fixed32 (flags): a number up to 2^32 - 1. */
export function readFixed32(t: JsonTokens): number {
  t.number();
  const buf = t.buf;
  const start = t.numberStart;
  const end = t.numberEnd;
  if (!t.integer || buf[start] === MINUS || end - start > 10) throw NOT_TAKEN;
  let value = 0;
  for (let i = start; i < end; i++) value = value * 10 + buf[i]! - ZERO;
  if (value > 0xffffffff) throw NOT_TAKEN;
  return value;
}

/**
 * A uint64 time: a string of up to 19 digits without leading zeros, or a number of up to 15 digits
 * (past that JSON.parse rounds, and the general path reads the body again); its digits, as a
 * number for the functions below (where they start, times 32, plus how many).
 */
export function readTime(t: JsonTokens): number {
  const buf = t.buf;
  let start: number;
  let end: number;
  if (t.peek() === QUOTE) {
    // The string read as t.string() would, from its quote: only digits (anything else takes the general path).
    start = t.pos + 1;
    end = start;
    while (end < t.end && buf[end]! >= ZERO && buf[end]! <= NINE) end++;
    if (buf[end] !== QUOTE || end === start || end - start > 19 || (buf[start] === ZERO && end - start > 1)) throw NOT_TAKEN;
    t.pos = end + 1;
  } else {
    t.number();
    start = t.numberStart;
    end = t.numberEnd;
    if (!t.integer || buf[start] === MINUS || end - start > 15) throw NOT_TAKEN;
  }
  return start * 32 + (end - start);
}

/** A time's digits as text. */
export function timeText(buf: Buffer, time: number): string {
  const start = Math.floor(time / 32);
  return buf.toString("latin1", start, start + (time % 32));
}

/** Whether a time is within [minText, maxText] (decimal strings without leading zeros), both included. */
export function timeWithin(buf: Buffer, time: number, minText: string, maxText: string): boolean {
  return compareDigits(buf, time, minText) >= 0 && compareDigits(buf, time, maxText) <= 0;
}

function compareDigits(buf: Buffer, time: number, text: string): number {
  const start = Math.floor(time / 32);
  const length = time % 32;
  if (length !== text.length) return length - text.length;
  for (let i = 0; i < length; i++) {
    const d = buf[start + i]! - text.charCodeAt(i);
    if (d !== 0) return d;
  }
  return 0;
}

/**
 * Writes a span's start time (within the window: far below 2^63 ns) and its duration to `end`
 * (-1: none), as SpanBlockBuilder.addRow writes startTimeUnixNano and durationNs (end - start, 0 when
 * negative) from the general path's strings.
 */
export function writeStartAndDuration(b: SpanBlockBuilder, buf: Buffer, start: number, end: number): void {
  decimalHalves(buf, start);
  const startHigh = high;
  const startLow = low;
  // h * 10^9 + l from exact 32-bit halves (h below 2^34, l below 10^9).
  const a = (startHigh % 0x10000) * 1e9 + startLow; // below 2^47
  const c = Math.floor(startHigh / 0x10000) * 1e9; // below 2^48; the sum is c * 2^16 + a
  const lowWord = (a % 0x1_0000_0000) + (c % 0x10000) * 0x10000; // below 2^33
  b.startTime.uint32Pair(lowWord % 0x1_0000_0000, Math.floor(a / 0x1_0000_0000) + Math.floor(c / 0x10000) + Math.floor(lowWord / 0x1_0000_0000));
  let duration = 0;
  if (end >= 0) {
    decimalHalves(buf, end);
    // Exact while the seconds differ by less than 2^23 (then below 2^53 ns); the rest as the general path computes it.
    duration =
      Math.abs(high - startHigh) < 0x800000 ? Math.max(0, (high - startHigh) * 1e9 + (low - startLow)) : durationNs(timeText(buf, start), timeText(buf, end));
  }
  b.durationNs.uint64(duration);
}

/** The halves decimalHalves read last: seconds (all but the last nine digits) and nanoseconds (the last nine). */
let high = 0;
let low = 0;

function decimalHalves(buf: Buffer, time: number): void {
  const start = Math.floor(time / 32);
  const end = start + (time % 32);
  const split = Math.max(start, end - 9);
  let h = 0;
  let l = 0;
  for (let i = start; i < split; i++) h = h * 10 + buf[i]! - ZERO;
  for (let i = split; i < end; i++) l = l * 10 + buf[i]! - ZERO;
  high = h;
  low = l;
}
