import { RESOURCE_ATTRIBUTE_ALLOW_LIST, SPAN_ATTRIBUTE_ALLOW_LIST } from "@troupe/contract";

/**
 * A decoded attribute key (or short value) of the direct paths (protobuf and JSON), with what the allow-lists
 * say of it and per-block state the decoder keeps on it so each key is looked up once per block.
 */
export interface KeyEntry {
  readonly bytes: Buffer;
  readonly key: string;
  readonly span: boolean;
  readonly resource: boolean;
  /** The serial of the attribute list that last named this key (to spot a key given twice). */
  seen: number;
  /** The serial of the block `attributeIndex` and `typeIndex` belong to. */
  block: number;
  /** The key's index in that block's attribute-key dictionary (-1: not looked up yet). */
  attributeIndex: number;
  /** The key's index in that block's attribute-type-key dictionary (-1: not looked up yet). */
  typeIndex: number;
}

function keyEntry(bytes: Buffer, key: string): KeyEntry {
  return { bytes, key, span: SPAN_ATTRIBUTE_ALLOW_LIST.has(key), resource: RESOURCE_ATTRIBUTE_ALLOW_LIST.has(key), seen: 0, block: 0, attributeIndex: -1, typeIndex: -1 };
}

/** The entry of the empty key (and of a KeyValue without one). */
export const NO_KEY = keyEntry(Buffer.alloc(0), "");

/**
 * Short strings (attribute keys, tenant ids) decoded once: the same few arrive in every span, so
 * their bytes are matched against the strings seen before (bucketed by length and three sampled
 * bytes, then compared byte by byte) instead of decoding a new string each time. Bounded; strings
 * past the bound are decoded every time. Gives exactly what `toString("utf8")` gives. The `seed`
 * strings (the allow-listed keys) are entered first, so they are always found (and a key given
 * twice in one list is always seen as the same entry), whatever else fills the cache.
 */
export class KeyCache {
  readonly #buckets = new Map<number, KeyEntry[]>();
  #size = 0;

  constructor(seed: Iterable<string> = []) {
    for (const key of seed) {
      const bytes = Buffer.from(key, "utf8");
      if (bytes.length > 0 && bytes.length <= 128) this.#add(hashOf(bytes, 0, bytes.length), keyEntry(bytes, key), true);
    }
  }

  entry(buf: Buffer, start: number, end: number): KeyEntry {
    const length = end - start;
    if (length === 0) return NO_KEY;
    if (length > 128) return keyEntry(Buffer.alloc(0), buf.toString("utf8", start, end));
    const h = hashOf(buf, start, end);
    const bucket = this.#buckets.get(h);
    if (bucket !== undefined) {
      for (const entry of bucket) if (sameBytes(entry.bytes, buf, start, length)) return entry;
    }
    const entry = keyEntry(Buffer.from(buf.subarray(start, end)), buf.toString("utf8", start, end));
    this.#add(h, entry, false);
    return entry;
  }

  #add(h: number, entry: KeyEntry, always: boolean): void {
    const bucket = this.#buckets.get(h);
    if (!always && (this.#size >= 4096 || (bucket !== undefined && bucket.length >= 4))) return;
    if (bucket === undefined) this.#buckets.set(h, [entry]);
    else bucket.push(entry);
    this.#size++;
  }
}

function hashOf(buf: Uint8Array, start: number, end: number): number {
  const length = end - start;
  return (length << 24) ^ (buf[start]! << 16) ^ (buf[start + (length >> 1)]! << 8) ^ buf[end - 1]!;
}

/** Whether `a` holds exactly the bytes `b[start, start + length)`. */
export function sameBytes(a: Buffer, b: Buffer, start: number, length: number): boolean {
  if (a.length !== length) return false;
  for (let i = 0; i < length; i++) if (a[i] !== b[start + i]) return false;
  return true;
}
