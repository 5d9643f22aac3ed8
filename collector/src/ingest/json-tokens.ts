/**
 * Thrown by JsonTokens (and the decoders built on it) at anything they do not take: invalid JSON,
 * and whatever valid JSON a fast decoder leaves to the general path (JSON.parse and a walk).
 */
export const NOT_TAKEN: unique symbol = Symbol("json-not-taken");

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const MINUS = 0x2d;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;

/** Deepest nesting `skipValue` walks; deeper values are left to JSON.parse. */
const MAX_SKIP_DEPTH = 64;

/**
 * A reader of JSON tokens over UTF-8 bytes (RFC 8259, exactly what JSON.parse accepts), with no
 * allocation on the way: strings and numbers are given as byte ranges of the body, to be copied or
 * decoded by the caller only when it keeps them. Every method throws NOT_TAKEN at bytes that are
 * not the JSON it expects, so a caller never takes a body JSON.parse would refuse.
 */
export class JsonTokens {
  readonly buf: Buffer;
  /** The same bytes, for BytePattern. */
  readonly view: DataView;
  readonly end: number;
  pos = 0;
  /** The last string read: its bytes between the quotes, whether it holds escapes, whether all its bytes are ASCII. */
  stringStart = 0;
  stringEnd = 0;
  escaped = false;
  ascii = true;
  /** The last number read: its bytes, and whether it is an integer literal (no fraction, no exponent). */
  numberStart = 0;
  numberEnd = 0;
  integer = true;

  constructor(buf: Buffer) {
    this.buf = buf;
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.end = buf.length;
  }

  /** Skips whitespace; the next byte (-1 at the end). */
  peek(): number {
    const buf = this.buf;
    let pos = this.pos;
    let c = pos < this.end ? buf[pos]! : -1;
    while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = ++pos < this.end ? buf[pos]! : -1;
    this.pos = pos;
    return c;
  }

  /** Nothing but whitespace left. */
  finish(): void {
    if (this.peek() !== -1) throw NOT_TAKEN;
  }

  /**
   * Enters an object: true when it has a member, whose key is then the last string read (the colon
   * consumed, the reader at its value); false for `{}`.
   */
  objectStart(): boolean {
    if (this.peek() !== OPEN_BRACE) throw NOT_TAKEN;
    this.pos++;
    if (this.peek() === CLOSE_BRACE) {
      this.pos++;
      return false;
    }
    this.#key();
    return true;
  }

  /** After a member's value: true when another member follows (its key read, as in objectStart); false at the object's end. */
  nextMember(): boolean {
    const c = this.peek();
    this.pos++;
    if (c === COMMA) {
      this.#key();
      return true;
    }
    if (c !== CLOSE_BRACE) throw NOT_TAKEN;
    return false;
  }

  #key(): void {
    this.string();
    if (this.peek() !== COLON) throw NOT_TAKEN;
    this.pos++;
  }

  /** Enters an array: true when it has an element (the reader then at it); false for `[]`. */
  arrayStart(): boolean {
    if (this.peek() !== OPEN_BRACKET) throw NOT_TAKEN;
    this.pos++;
    if (this.peek() === CLOSE_BRACKET) {
      this.pos++;
      return false;
    }
    return true;
  }

  /** After an element: true when another follows; false at the array's end. */
  nextElement(): boolean {
    const c = this.peek();
    this.pos++;
    if (c === COMMA) return true;
    if (c !== CLOSE_BRACKET) throw NOT_TAKEN;
    return false;
  }

  /** Whether the last string read is exactly `name` (ASCII, no escapes). */
  stringIs(name: Uint8Array): boolean {
    const start = this.stringStart;
    if (this.stringEnd - start !== name.length || this.escaped) return false;
    const buf = this.buf;
    for (let i = 0; i < name.length; i++) if (buf[start + i] !== name[i]) return false;
    return true;
  }

  /** Reads a string (into stringStart, stringEnd, escaped, ascii). */
  string(): void {
    if (this.peek() !== QUOTE) throw NOT_TAKEN;
    const buf = this.buf;
    const end = this.end;
    let pos = this.pos + 1;
    this.stringStart = pos;
    let escaped = false;
    let ascii = true;
    for (;;) {
      if (pos >= end) throw NOT_TAKEN;
      const c = buf[pos]!;
      if (c === QUOTE) break;
      if (c < 0x20) throw NOT_TAKEN;
      if (c === BACKSLASH) {
        escaped = true;
        const e = buf[pos + 1];
        if (e === 0x75 /* u */) {
          for (let i = pos + 2; i < pos + 6; i++) if (i >= end || HEX_VALUE[buf[i]!]! < 0) throw NOT_TAKEN;
          pos += 6;
          continue;
        }
        if (e === undefined || SIMPLE_ESCAPES[e] === undefined) throw NOT_TAKEN;
        pos += 2;
        continue;
      }
      if (c >= 0x80) ascii = false;
      pos++;
    }
    this.stringEnd = pos;
    this.escaped = escaped;
    this.ascii = ascii;
    this.pos = pos + 1;
  }

  /** The last string read, decoded exactly as JSON.parse decodes it (invalid UTF-8 as U+FFFD, as Buffer#toString does). */
  text(): string {
    return this.textOf(this.stringStart, this.stringEnd, this.escaped);
  }

  /** The string whose bytes between the quotes are `[start, end)`, decoded. */
  textOf(start: number, end: number, escaped: boolean): string {
    const buf = this.buf;
    if (!escaped) return buf.toString("utf8", start, end);
    let out = "";
    let run = start;
    let pos = start;
    while (pos < end) {
      if (buf[pos] !== BACKSLASH) {
        pos++;
        continue;
      }
      // Runs between escapes end at ASCII bytes, so decoding them apart gives what decoding the whole gives.
      if (pos > run) out += buf.toString("utf8", run, pos);
      const e = buf[pos + 1]!;
      if (e === 0x75) {
        out += String.fromCharCode((HEX_VALUE[buf[pos + 2]!]! << 12) | (HEX_VALUE[buf[pos + 3]!]! << 8) | (HEX_VALUE[buf[pos + 4]!]! << 4) | HEX_VALUE[buf[pos + 5]!]!);
        pos += 6;
      } else {
        out += SIMPLE_ESCAPES[e]!;
        pos += 2;
      }
      run = pos;
    }
    if (end > run) out += buf.toString("utf8", run, end);
    return out;
  }

  /** Reads a number (into numberStart, numberEnd, integer). */
  number(): void {
    this.peek();
    const buf = this.buf;
    let pos = this.pos;
    this.numberStart = pos;
    if (buf[pos] === MINUS) pos++;
    const first = buf[pos];
    if (first === ZERO) pos++;
    else if (first !== undefined && first > ZERO && first <= NINE) pos = this.#digits(pos);
    else throw NOT_TAKEN;
    let integer = true;
    if (buf[pos] === DOT) {
      integer = false;
      pos = this.#digits(pos + 1);
    }
    const e = buf[pos];
    if (e === 0x65 || e === 0x45) {
      integer = false;
      pos++;
      if (buf[pos] === 0x2b || buf[pos] === MINUS) pos++;
      pos = this.#digits(pos);
    }
    this.numberEnd = pos;
    this.integer = integer;
    this.pos = pos;
  }

  /** One or more digits from `pos`; where they end. */
  #digits(pos: number): number {
    const buf = this.buf;
    let p = pos;
    while (p < this.end && buf[p]! >= ZERO && buf[p]! <= NINE) p++;
    if (p === pos) throw NOT_TAKEN;
    return p;
  }

  /** Reads `true` or `false`. */
  boolean(): boolean {
    const c = this.peek();
    if (c === 0x74 && this.#word(TRUE)) return true;
    if (c === 0x66 && this.#word(FALSE)) return false;
    throw NOT_TAKEN;
  }

  #word(word: Uint8Array): boolean {
    const buf = this.buf;
    const pos = this.pos;
    for (let i = 0; i < word.length; i++) if (buf[pos + i] !== word[i]) return false;
    this.pos = pos + word.length;
    return true;
  }

  /** Skips a value of any kind, checking that it is valid JSON. */
  skipValue(depth = 0): void {
    const c = this.peek();
    if (c === QUOTE) this.string();
    else if (c === OPEN_BRACE) {
      if (depth >= MAX_SKIP_DEPTH) throw NOT_TAKEN;
      if (this.objectStart()) do this.skipValue(depth + 1);
      while (this.nextMember());
    } else if (c === OPEN_BRACKET) {
      if (depth >= MAX_SKIP_DEPTH) throw NOT_TAKEN;
      if (this.arrayStart()) do this.skipValue(depth + 1);
      while (this.nextElement());
    } else if (c === MINUS || (c >= ZERO && c <= NINE)) this.number();
    else if (!((c === 0x74 && this.#word(TRUE)) || (c === 0x66 && this.#word(FALSE)) || (c === 0x6e && this.#word(NULL)))) throw NOT_TAKEN;
  }
}

const TRUE = Buffer.from("true");
const FALSE = Buffer.from("false");
const NULL = Buffer.from("null");

/** The value of each hex digit byte, -1 for other bytes. */
const HEX_VALUE = new Int8Array(256).fill(-1);
for (let i = 0; i < 10; i++) HEX_VALUE[ZERO + i] = i;
for (let i = 0; i < 6; i++) {
  HEX_VALUE[0x41 + i] = 10 + i;
  HEX_VALUE[0x61 + i] = 10 + i;
}

/** What each one-character escape stands for. */
const SIMPLE_ESCAPES: (string | undefined)[] = [];
for (const [c, s] of [['"', '"'], ["\\", "\\"], ["/", "/"], ["b", "\b"], ["f", "\f"], ["n", "\n"], ["r", "\r"], ["t", "\t"]] as const) SIMPLE_ESCAPES[c.charCodeAt(0)] = s;
