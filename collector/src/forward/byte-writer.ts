/** Copies `source[start, end)` to `target` at `at`; returns the end. A loop for the short ranges most values are, native beyond. */
export function copyBytes(source: Buffer, start: number, end: number, target: Buffer, at: number): number {
  if (end - start <= 48) {
    let p = at;
    for (let i = start; i < end; i++) target[p++] = source[i]!;
    return p;
  }
  return at + source.copy(target, at, start, end);
}

/**
 * A growable output buffer, reused from request to request: bytes, copies of other buffers, text.
 * What it holds is handed out without a copy (`lend`) or as a buffer of its own (`take`); past
 * `keepBytes` the buffer is let go when emptied, so a writer kept for every batch stays bounded.
 */
export class ByteWriter {
  protected buf: Buffer;
  protected pos = 0;
  readonly #keepBytes: number;

  constructor(initialBytes = 64 * 1024, keepBytes = 16 * 1024 * 1024) {
    this.buf = Buffer.allocUnsafe(initialBytes);
    this.#keepBytes = keepBytes;
  }

  get length(): number {
    return this.pos;
  }

  /** The bytes written, in the writer's own buffer (no copy): valid until the writer is next written to. The writer is empty after. */
  lend(): Buffer {
    const out = this.buf.subarray(0, this.pos);
    this.#empty();
    return out;
  }

  /** The bytes written, as a buffer of their own; the writer is empty after. */
  take(): Buffer {
    const out = Buffer.allocUnsafe(this.pos);
    this.buf.copy(out, 0, 0, this.pos);
    this.#empty();
    return out;
  }

  #empty(): void {
    this.pos = 0;
    if (this.buf.length > this.#keepBytes) this.buf = Buffer.allocUnsafe(64 * 1024);
  }

  /** Forgets what was written after the first `length` bytes (a message begun and found empty). */
  truncate(length: number): void {
    if (length < this.pos) this.pos = Math.max(0, length);
  }

  ensure(bytes: number): void {
    if (this.pos + bytes <= this.buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + bytes));
    this.buf.copy(grown, 0, 0, this.pos);
    this.buf = grown;
  }

  byte(value: number): void {
    this.ensure(1);
    this.buf[this.pos++] = value;
  }

  /** A whole buffer's bytes as they are. */
  copy(source: Uint8Array): void {
    this.ensure(source.length);
    // TypedArray#set of a whole array: a memcpy, several times faster than a loop even for 20 bytes.
    this.buf.set(source, this.pos);
    this.pos += source.length;
  }

  /** Bytes `source[start, end)` as they are. */
  copyRange(source: Buffer, start: number, end: number): void {
    this.ensure(end - start);
    this.pos = copyBytes(source, start, end, this.buf, this.pos);
  }

  /** Text of characters below U+0080 (JSON punctuation, digits, names known to be ASCII), one byte each. */
  ascii(text: string): void {
    const n = text.length;
    this.ensure(n);
    const buf = this.buf;
    let p = this.pos;
    for (let i = 0; i < n; i++) buf[p++] = text.charCodeAt(i);
    this.pos = p;
  }

  /** Any text, as UTF-8. */
  utf8(text: string): void {
    const n = Buffer.byteLength(text, "utf8");
    this.ensure(n);
    this.pos += this.buf.write(text, this.pos, n, "utf8");
  }
}
