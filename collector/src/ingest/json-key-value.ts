import { MAX_ATTRIBUTE_VALUE_LENGTH, RESOURCE_ATTRIBUTE_ALLOW_LIST, SPAN_ATTRIBUTE_ALLOW_LIST } from "@troupe/contract";
import type { AttributeType, StoredAttributeType } from "../store/attribute-types.js";
import type { NativeWriter } from "../store/native-block.js";
import type { FilterCounts } from "./attribute-filter.js";
import { BytePattern, PatternMemory } from "./json-byte-pattern.js";
import { END, MemberNames, once } from "./json-member-names.js";
import { NOT_TAKEN, type JsonTokens } from "./json-tokens.js";
import type { OtlpKeyValue } from "./otlp-traces.js";
import { KeyCache, type KeyEntry } from "./wire-key-cache.js";

const KEY_VALUE = new MemberNames({ key: 0, value: 1 });
const ANY_VALUE = new MemberNames({ stringValue: 0, intValue: 1, boolValue: 2, doubleValue: 3, arrayValue: 4, bytesValue: 5 }, [
  "kvlistValue",
  "string_value",
  "int_value",
  "bool_value",
  "double_value",
  "array_value",
  "kvlist_value",
  "bytes_value",
]);
const ARRAY_VALUE = new MemberNames({ values: 0 });

/** What the AnyValue read last is, to be stored: nothing (""), bytes of the body, a decoded text, or a list of strings. */
const EMPTY_VALUE = 0;
const BYTES_VALUE = 1;
const TEXT_VALUE = 2;
/** A list of printable ASCII strings, its elements' bytes in ARRAY_BOUNDS (#count of them). */
const STRING_LIST_VALUE = 3;
const MAX_COMPACT_ELEMENTS = 16;
const ARRAY_BOUNDS = new Int32Array(2 * MAX_COMPACT_ELEMENTS);

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const OPEN_BRACKET = 0x5b;
const COMMA = 0x2c;
const MINUS = 0x2d;
const ZERO = 0x30;
const INT64_MAX_DIGITS = Buffer.from("9223372036854775807");
const INT64_MIN_DIGITS = Buffer.from("9223372036854775808");
const MAX_SAFE_DIGITS = Buffer.from(String(Number.MAX_SAFE_INTEGER));
const NAN = Buffer.from("NaN");
const INFINITY = Buffer.from("Infinity");
const NEGATIVE_INFINITY = Buffer.from("-Infinity");
// The members of a KeyValue as JSON.stringify writes them, and the kinds of value #compact reads.
const KEY_MEMBER = new BytePattern(Buffer.from('{"key":"'));
const VALUE_MEMBER = new BytePattern(Buffer.from('","value":{"'));
const STRING_VALUE_KIND = 0;
const INT_VALUE_KIND = 1;
const STRING_ARRAY_KIND = 2;
const DOUBLE_VALUE_KIND = 3;
const BOOL_VALUE_KIND = 4;
const COMPACT_MEMBERS = ['stringValue":"', 'intValue":', 'arrayValue":{"values":[', 'doubleValue":', 'boolValue":'].map((member) => new BytePattern(Buffer.from(member)));
const STRING_ELEMENT = new BytePattern(Buffer.from('{"stringValue":"'));

/** Attribute keys decoded once: the allow-listed ones first (always found), then whatever else arrives. */
const KEYS = new KeyCache([...SPAN_ATTRIBUTE_ALLOW_LIST, ...RESOURCE_ATTRIBUTE_ALLOW_LIST]);
/** Short values that repeat in every span (tenant ids). */
const TEXTS = new KeyCache();

/**
 * What was read lately at each position of one kind of attribute list (span attributes, say): each
 * KeyValue's bytes up to its value, with the key's entry and the kind of value. One per kind of list.
 */
export class KeyHints extends PatternMemory<{ entry: KeyEntry; kind: number }> {
  constructor() {
    super(64);
  }
}

/**
 * Reads OTLP/JSON KeyValues (attributes) for the direct path: the key's entry in the key cache,
 * and the value as the general path stores it — its text (attributeText) and its OTLP type — held
 * until the next read, to be written into a block's map (`write`) or taken as text. Takes every
 * AnyValue but key-value lists and arrays holding arrays or lists, in any spelling JSON allows
 * (escapes, members in any order, unknown members skipped); throws NOT_TAKEN at those, at values the
 * general path refuses or reads otherwise (ints past int64, leading zeros, numbers past 10^15 where
 * JSON.parse rounds, non-finite literals), and at snake_case names.
 */
export class JsonKeyValueReader {
  readonly #t: JsonTokens;
  readonly #buf: Buffer;
  readonly #maxDepth: number;
  // The AnyValue read last: what it is, where its bytes lie or its text, its OTLP type, whether it was a stringValue.
  #kind = EMPTY_VALUE;
  #start = 0;
  #end = 0;
  #ascii = true;
  #decoded = "";
  #type: AttributeType | undefined;
  #isString = false;
  /** Whether the int read last is one the general path holds as a number (else as its decimal string). */
  #safeInt = true;
  #count = 0;

  /** `maxAnyValueDepth`: IngestLimits.maxAnyValueDepth. */
  constructor(t: JsonTokens, maxAnyValueDepth: number) {
    this.#t = t;
    this.#buf = t.buf;
    this.#maxDepth = maxAnyValueDepth;
  }

  /** The OTLP type of the value read last (undefined: a string, an empty value, or a mixed array). */
  get type(): AttributeType | undefined {
    return this.#type;
  }

  /**
   * Reads a KeyValue: its key's entry; its value (empty when it has none) is then the one `text`,
   * `claim`, `write` and `type` give. `hints` (kept by the caller, one per kind of list) holds what
   * was read lately at each `position` of such lists, checked first: exporters send their
   * attributes in one order or a few, span after span.
   */
  read(hints?: KeyHints, position = 0): KeyEntry {
    const compact = this.#compact(hints, position);
    if (compact !== undefined) return compact;
    const t = this.#t;
    let entry: KeyEntry | undefined;
    let seen = 0;
    this.#kind = EMPTY_VALUE;
    this.#type = undefined;
    this.#isString = false;
    for (let id = KEY_VALUE.first(t), member = 1; id !== END; id = KEY_VALUE.next(t, member++)) {
      if (id < 0) {
        t.skipValue();
        continue;
      }
      seen = once(seen, id);
      if (id === 0) {
        t.string();
        if (!t.escaped) entry = KEYS.entry(this.#buf, t.stringStart, t.stringEnd);
        else {
          const bytes = Buffer.from(t.text(), "utf8");
          entry = KEYS.entry(bytes, 0, bytes.length);
        }
      } else this.#anyValue(1);
    }
    if (entry === undefined) throw NOT_TAKEN;
    return entry;
  }

  /**
   * Reads a KeyValue written as JSON.stringify writes the exporters' ones, byte for byte —
   * {"key":"k","value":{"stringValue":"v"}}, the same with intValue, doubleValue or boolValue, or a
   * list of printable ASCII strings {"key":"k","value":{"arrayValue":{"values":[{"stringValue":"v"},…]}}}
   * — as `read` would, only sooner; undefined (nothing read) for any other layout, which `read`
   * then reads.
   */
  #compact(hints: KeyHints | undefined, position: number): KeyEntry | undefined {
    const t = this.#t;
    const buf = this.#buf;
    const end = buf.length;
    const start = t.pos;
    // Keys read lately at this position, with values of these kinds: their bytes up to the value, one comparison each.
    const hint = hints?.match(t, start, position);
    let entry: KeyEntry | undefined;
    let keyEnd = -1;
    let kind: number;
    let valueStart: number;
    if (hint !== undefined) {
      entry = hint.value.entry;
      kind = hint.value.kind;
      valueStart = start + hint.pattern.length;
    } else {
      if (!KEY_MEMBER.at(t, start)) return undefined;
      keyEnd = start + KEY_MEMBER.length;
      for (; keyEnd < end && buf[keyEnd] !== QUOTE; keyEnd++) if (buf[keyEnd]! < 0x20 || buf[keyEnd] === BACKSLASH) return undefined;
      if (!VALUE_MEMBER.at(t, keyEnd)) return undefined;
      const field = keyEnd + VALUE_MEMBER.length;
      kind = COMPACT_MEMBERS.findIndex((member) => member.at(t, field));
      if (kind < 0) return undefined;
      valueStart = field + COMPACT_MEMBERS[kind]!.length;
    }
    let after: number;
    if (kind === STRING_VALUE_KIND) {
      let ascii = true;
      let j = valueStart;
      for (; j < end && buf[j] !== QUOTE; j++) {
        const c = buf[j]!;
        if (c < 0x20 || c === BACKSLASH) return undefined;
        if (c >= 0x80) ascii = false;
      }
      if (j >= end) return undefined;
      this.#setBytes(valueStart, j, ascii, undefined);
      this.#isString = true;
      after = j + 1;
    } else if (kind === STRING_ARRAY_KIND) {
      if (this.#maxDepth <= 1) return undefined;
      after = this.#compactStringList(valueStart);
      if (after < 0) return undefined;
    } else {
      // A number or a boolean, read as #anyValue reads it (which throws NOT_TAKEN where it would).
      t.pos = valueStart;
      this.#isString = false;
      if (kind === INT_VALUE_KIND) this.#int();
      else if (kind === DOUBLE_VALUE_KIND) this.#double();
      else if (kind === BOOL_VALUE_KIND) this.#setText(t.boolean() ? "true" : "false", "bool");
      after = t.pos;
      t.pos = start;
    }
    if (buf[after] !== CLOSE_BRACE || buf[after + 1] !== CLOSE_BRACE) return undefined;
    t.pos = after + 2;
    if (entry !== undefined) return entry;
    const keyStart = start + KEY_MEMBER.length;
    entry = KEYS.entry(buf, keyStart, keyEnd);
    // Keys past the cache's bound are decoded anew each time (their entries are not kept): no hint.
    if (hints !== undefined && entry.bytes.length === keyEnd - keyStart) hints.remember(position, buf.subarray(start, valueStart), { entry, kind });
    return entry;
  }

  /**
   * The elements of a list of strings from `pos` (after its `[`), each {"stringValue":"v"} with v
   * printable ASCII without escapes, into ARRAY_BOUNDS (the value then the list's stored text, as
   * #array gives it); where the list's object ends, or -1 for anything else (nothing set).
   */
  #compactStringList(pos: number): number {
    const buf = this.#buf;
    const end = buf.length;
    let p = pos;
    let count = 0;
    if (buf[p] !== CLOSE_BRACKET) {
      for (;;) {
        if (!STRING_ELEMENT.at(this.#t, p) || count === MAX_COMPACT_ELEMENTS) return -1;
        const s = p + STRING_ELEMENT.length;
        let e = s;
        for (; e < end && buf[e] !== QUOTE; e++) if (buf[e]! < 0x20 || buf[e]! >= 0x80 || buf[e] === BACKSLASH) return -1;
        if (buf[e + 1] !== CLOSE_BRACE) return -1;
        ARRAY_BOUNDS[2 * count] = s;
        ARRAY_BOUNDS[2 * count + 1] = e;
        count++;
        p = e + 2;
        if (buf[p] === CLOSE_BRACKET) break;
        if (buf[p] !== COMMA) return -1;
        p++;
      }
    }
    if (buf[p + 1] !== CLOSE_BRACE) return -1;
    this.#kind = STRING_LIST_VALUE;
    this.#count = count;
    this.#type = "string[]";
    this.#isString = false;
    return p + 2;
  }

  /** Reads an AnyValue (nested `depth` deep) into the #value fields. */
  #anyValue(depth: number): void {
    const t = this.#t;
    this.#kind = EMPTY_VALUE;
    this.#type = undefined;
    this.#isString = false;
    let found = false;
    for (let id = ANY_VALUE.first(t), member = 1; id !== END; id = ANY_VALUE.next(t, member++)) {
      if (id < 0) {
        t.skipValue();
        continue;
      }
      // Two kinds in one value: the general path takes the first in its own order.
      if (found) throw NOT_TAKEN;
      found = true;
      switch (id) {
        case 0:
          t.string();
          this.#isString = true;
          if (t.escaped) this.#setText(t.text(), undefined);
          else this.#setBytes(t.stringStart, t.stringEnd, t.ascii, undefined);
          break;
        case 1:
          this.#int();
          break;
        case 2:
          this.#setText(t.boolean() ? "true" : "false", "bool");
          break;
        case 3:
          this.#double();
          break;
        case 4:
          if (depth >= this.#maxDepth) throw NOT_TAKEN;
          this.#array(depth);
          break;
        default:
          t.string();
          if (t.escaped || !isBase64(this.#buf, t.stringStart, t.stringEnd)) throw NOT_TAKEN;
          this.#setBytes(t.stringStart, t.stringEnd, true, "bytes");
      }
    }
  }

  /**
   * An intValue: a string of up to 19 digits within int64, or a number of up to 15 digits, kept as
   * its digits (which are what String(n) gives); #safeInt tells whether the general path holds
   * it as a number (else as its decimal string).
   */
  #int(): void {
    const t = this.#t;
    const buf = this.#buf;
    let start: number;
    let end: number;
    if (t.peek() === QUOTE) {
      t.string();
      if (t.escaped) throw NOT_TAKEN;
      start = t.stringStart;
      end = t.stringEnd;
      const negative = buf[start] === MINUS;
      const digits = start + (negative ? 1 : 0);
      const count = end - digits;
      if (count < 1 || count > 19) throw NOT_TAKEN;
      for (let i = digits; i < end; i++) if (buf[i]! < ZERO || buf[i]! > ZERO + 9) throw NOT_TAKEN;
      // Leading zeros and -0 are read as numbers by the general path, which then writes them otherwise.
      if (buf[digits] === ZERO && (count > 1 || negative)) throw NOT_TAKEN;
      if (count === 19 && compareBytes(buf, digits, negative ? INT64_MIN_DIGITS : INT64_MAX_DIGITS) > 0) throw NOT_TAKEN;
      this.#safeInt = count < 16 || (count === 16 && compareBytes(buf, digits, MAX_SAFE_DIGITS) <= 0);
    } else {
      t.number();
      start = t.numberStart;
      end = t.numberEnd;
      const negative = buf[start] === MINUS;
      if (!t.integer || end - start - (negative ? 1 : 0) > 15 || (negative && buf[start + 1] === ZERO)) throw NOT_TAKEN;
      this.#safeInt = true;
    }
    this.#setBytes(start, end, true, "int");
  }

  /** A doubleValue: a finite number (stored as String(n)) or one of OTLP/JSON's strings for the non-finite ones. */
  #double(): void {
    const t = this.#t;
    const buf = this.#buf;
    if (t.peek() === QUOTE) {
      t.string();
      if (!(t.stringIs(NAN) || t.stringIs(INFINITY) || t.stringIs(NEGATIVE_INFINITY))) throw NOT_TAKEN;
      this.#setBytes(t.stringStart, t.stringEnd, true, "double");
      return;
    }
    t.number();
    const start = t.numberStart;
    const end = t.numberEnd;
    // A short integer literal is its own String(n) (but -0 is "0").
    if (t.integer && end - start <= 15 && !(buf[start] === MINUS && buf[start + 1] === ZERO)) {
      this.#setBytes(start, end, true, "double");
      return;
    }
    const n = Number(buf.toString("latin1", start, end));
    // A literal past the double range (1e400): an Infinity number, which the general path writes otherwise in arrays.
    if (!Number.isFinite(n)) throw NOT_TAKEN;
    this.#setText(String(n), "double");
  }

  /**
   * An arrayValue of primitive values, stored as attributeText writes it: a typed array's text when
   * all its elements have one type (string, bool, int or double), else the JSON of the values as
   * the general path holds them (ints past 2^53 as strings, empty values as null). Arrays holding
   * arrays or key-value lists are left to the general path.
   */
  #array(depth: number): void {
    const t = this.#t;
    let seen = 0;
    let typed = "[";
    let plain = "[";
    let count = 0;
    /** The elements' kind while they share one: "string", an AttributeType, "empty"; "mixed" once they differ. */
    let kind = "";
    for (let id = ARRAY_VALUE.first(t), member = 1; id !== END; id = ARRAY_VALUE.next(t, member++)) {
      if (id < 0) {
        t.skipValue();
        continue;
      }
      seen = once(seen, id);
      if (!t.arrayStart()) continue;
      do {
        this.#anyValue(depth + 1);
        // Only an array (of mixed values) has neither a type nor a string.
        const elementKind = this.#isString ? "string" : this.#kind === EMPTY_VALUE ? "empty" : (this.#type ?? "[]");
        if (elementKind.endsWith("]")) throw NOT_TAKEN;
        kind = count === 0 || kind === elementKind ? elementKind : "mixed";
        if (count++ > 0) {
          typed += ",";
          plain += ",";
        }
        const json = this.#elementJson();
        typed += json;
        plain += elementKind === "int" && !this.#safeInt ? `"${json}"` : json;
      } while (t.nextElement());
    }
    this.#isString = false;
    if (count === 0 || kind === "string") this.#setText(typed + "]", "string[]");
    else if (kind === "int" || kind === "double" || kind === "bool") this.#setText(typed + "]", `${kind}[]`);
    else this.#setText(plain + "]", undefined);
  }

  /** The AnyValue read last as an element of an array's stored text. */
  #elementJson(): string {
    if (this.#kind === EMPTY_VALUE) return "null";
    if (this.#isString) {
      // Printable ASCII without escapes is its own JSON.
      if (this.#kind === BYTES_VALUE && this.#ascii) return `"${this.#buf.toString("latin1", this.#start, this.#end)}"`;
      return JSON.stringify(this.text());
    }
    const text = this.text();
    if (this.#type === "bytes") return `"${text}"`;
    return this.#type === "double" && (text === "NaN" || text === "Infinity" || text === "-Infinity") ? `"${text}"` : text;
  }

  #setBytes(start: number, end: number, ascii: boolean, type: AttributeType | undefined): void {
    this.#kind = BYTES_VALUE;
    this.#start = start;
    this.#end = end;
    this.#ascii = ascii;
    this.#type = type;
  }

  #setText(text: string, type: AttributeType | undefined): void {
    this.#kind = TEXT_VALUE;
    this.#decoded = text;
    this.#type = type;
  }

  /** The full (uncapped) stored text of the AnyValue read last. */
  text(): string {
    if (this.#kind === EMPTY_VALUE) return "";
    if (this.#kind === TEXT_VALUE) return this.#decoded;
    if (this.#kind === STRING_LIST_VALUE) {
      let text = "[";
      for (let i = 0; i < this.#count; i++) text += `${i > 0 ? "," : ""}"${this.#buf.toString("latin1", ARRAY_BOUNDS[2 * i], ARRAY_BOUNDS[2 * i + 1])}"`;
      return text + "]";
    }
    return this.#buf.toString(this.#ascii ? "latin1" : "utf8", this.#start, this.#end);
  }

  /** The tenant an attribute read last claims (a string value; any other kind is left to the general path). */
  claim(): string {
    if (!this.#isString) throw NOT_TAKEN;
    return this.#kind === BYTES_VALUE ? TEXTS.entry(this.#buf, this.#start, this.#end).key : this.#decoded;
  }

  /**
   * Writes the AnyValue read last into `values` as its stored text, capped to
   * MAX_ATTRIBUTE_VALUE_LENGTH characters (a cut counted in `counts`), and returns its stored type
   * (undefined: a plain string or an empty value).
   */
  write(values: NativeWriter, counts: FilterCounts): StoredAttributeType | undefined {
    if (this.#kind === BYTES_VALUE) {
      const length = this.#end - this.#start;
      // UTF-8 never has fewer bytes than UTF-16 units: within the cap, whatever the text.
      if (length <= MAX_ATTRIBUTE_VALUE_LENGTH) {
        if (this.#ascii) {
          values.varUInt(length);
          values.rawBytes(this.#buf, this.#start, this.#end);
        } else values.stringFromUtf8(this.#buf, this.#start, this.#end);
        return this.#type;
      }
      if (this.#ascii) {
        values.varUInt(MAX_ATTRIBUTE_VALUE_LENGTH);
        values.rawBytes(this.#buf, this.#start, this.#start + MAX_ATTRIBUTE_VALUE_LENGTH);
        counts.truncated++;
        return "truncated";
      }
    } else if (this.#kind === STRING_LIST_VALUE) {
      // ["a","b"]: the elements' bytes, each quoted.
      const count = this.#count;
      let length = count === 0 ? 2 : count + 1;
      for (let i = 0; i < count; i++) length += ARRAY_BOUNDS[2 * i + 1]! - ARRAY_BOUNDS[2 * i]! + 2;
      if (length <= MAX_ATTRIBUTE_VALUE_LENGTH) {
        values.varUInt(length);
        values.uint8(OPEN_BRACKET);
        for (let i = 0; i < count; i++) {
          if (i > 0) values.uint8(COMMA);
          values.uint8(QUOTE);
          values.rawBytes(this.#buf, ARRAY_BOUNDS[2 * i]!, ARRAY_BOUNDS[2 * i + 1]!);
          values.uint8(QUOTE);
        }
        values.uint8(CLOSE_BRACKET);
        return "string[]";
      }
    }
    const text = this.text();
    if (text.length <= MAX_ATTRIBUTE_VALUE_LENGTH) {
      values.string(text);
      return this.#type;
    }
    values.string(text.slice(0, MAX_ATTRIBUTE_VALUE_LENGTH));
    counts.truncated++;
    return "truncated";
  }

  /** A KeyValue with its value as the text it is stored as (which attributeText gives back as it is). */
  readAsText(): OtlpKeyValue {
    const entry = this.read();
    const text = this.text();
    return this.#type === undefined ? { key: entry.key, value: text } : { key: entry.key, value: text, type: this.#type };
  }
}

/** Orders `buf[start, start + digits.length)` and `digits`, byte by byte. */
function compareBytes(buf: Buffer, start: number, digits: Buffer): number {
  for (let i = 0; i < digits.length; i++) {
    const d = buf[start + i]! - digits[i]!;
    if (d !== 0) return d;
  }
  return 0;
}

/** Whether `buf[start, end)` is what the general path takes for bytes: /^[A-Za-z0-9+/]*={0,2}$/. */
function isBase64(buf: Buffer, start: number, end: number): boolean {
  let i = start;
  while (i < end && BASE64[buf[i]!] === 1) i++;
  let padding = 0;
  while (i < end && buf[i] === 0x3d && padding < 2) {
    i++;
    padding++;
  }
  return i === end;
}

const BASE64 = new Uint8Array(256);
for (const c of Buffer.from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")) BASE64[c] = 1;


