import type { StoredAttributeType } from "../store/attribute-types.js";
import { sameBytes } from "./span-block-view.js";

/**
 * The last encoding of a typed attribute value, per attribute key: typed values repeat from span to
 * span (finish reasons, flags), so a value whose text is the same bytes as the last one of its key
 * reuses its encoding instead of parsing and encoding it again. One per block (keys are the block's
 * dictionary indexes).
 */
export class TypedValueMemo<T> {
  readonly #last: ({ type: StoredAttributeType; text: Buffer; encoded: T } | undefined)[] = [];

  /** The encoding of the value `data[start, end)` (its stored text) of type `type` under key index `key`. */
  get(key: number, type: StoredAttributeType, data: Buffer, start: number, end: number, encode: (text: string, type: StoredAttributeType) => T): T {
    const last = this.#last[key];
    if (last !== undefined && last.type === type && last.text.length === end - start && sameBytes(data, start, last.text, 0, end - start)) return last.encoded;
    const encoded = encode(data.toString("utf8", start, end), type);
    this.#last[key] = { type, text: Buffer.from(data.subarray(start, end)), encoded };
    return encoded;
  }
}
