import { PatternMemory } from "./json-byte-pattern.js";
import { NOT_TAKEN, type JsonTokens } from "./json-tokens.js";

/**
 * The members of an object of one kind, read one after the other (`first`, then `next` until
 * END): each known name gives its small id (0-30, so a decoder can mark the ones it met in a bit
 * set), any other name -1 (the decoder skips its value), and a name listed as `notTaken` (e.g. a
 * snake_case spelling a fast decoder leaves to the general one) throws NOT_TAKEN. Names are
 * compared as JSON.parse reads them (escapes decoded).
 */
export class MemberNames {
  readonly #byLength: (readonly [bytes: Buffer, id: number])[][] = [];
  readonly #byName = new Map<string, number>();
  /** The members read lately at each position of such objects (their bytes from the comma or brace to the colon), with their ids. */
  readonly #recent = new PatternMemory<number>(MAX_POSITIONS);

  constructor(known: Readonly<Record<string, number>>, notTaken: readonly string[] = []) {
    const all: [string, number][] = [...Object.entries(known), ...notTaken.map((name): [string, number] => [name, NOT_TAKEN_ID])];
    for (const [name, id] of all) {
      const bytes = Buffer.from(name, "utf8");
      (this.#byLength[bytes.length] ??= []).push([bytes, id]);
      this.#byName.set(name, id);
    }
  }

  /** Enters an object: the id of its first member, its name and colon read; END for `{}`. */
  first(t: JsonTokens): number {
    const recent = this.#recent.match(t, t.pos, 0);
    if (recent !== undefined) {
      t.pos += recent.pattern.length;
      return recent.value;
    }
    const from = t.pos;
    if (!t.objectStart()) return END;
    return this.#learn(t, from, 0);
  }

  /**
   * After a member's value: the id of the next member, its name and colon read; END at the
   * object's end. `position` is that member's index in its object: objects of one kind list their
   * members in one order or a few, so the members read lately there are checked first, in one
   * comparison each.
   */
  next(t: JsonTokens, position: number): number {
    const recent = this.#recent.match(t, t.pos, position);
    if (recent !== undefined) {
      t.pos += recent.pattern.length;
      return recent.value;
    }
    const from = t.pos;
    if (!t.nextMember()) return END;
    return this.#learn(t, from, position);
  }

  #learn(t: JsonTokens, from: number, position: number): number {
    const id = this.#of(t);
    // Learnt only as written without whitespace or escapes: `{"name":` or `,"name":`.
    if (!t.escaped && t.pos - from === t.stringEnd - t.stringStart + 4) this.#recent.remember(position, t.buf.subarray(from, t.pos), id);
    return id;
  }

  #of(t: JsonTokens): number {
    const id = t.escaped ? (this.#byName.get(t.text()) ?? -1) : this.#find(t.buf, t.stringStart, t.stringEnd);
    if (id === NOT_TAKEN_ID) throw NOT_TAKEN;
    return id;
  }

  #find(buf: Buffer, start: number, end: number): number {
    const candidates = this.#byLength[end - start];
    if (candidates === undefined) return -1;
    next: for (const [bytes, id] of candidates) {
      for (let i = 0; i < bytes.length; i++) if (buf[start + i] !== bytes[i]) continue next;
      return id;
    }
    return -1;
  }
}

const NOT_TAKEN_ID = -2;
const MAX_POSITIONS = 32;

/** What MemberNames.first and next give at the end of an object. */
export const END = -3;

/**
 * Marks member `id` met in an object (`seen`: the bit set of those met before); a member given
 * twice (JSON.parse keeps the last) throws NOT_TAKEN.
 */
export function once(seen: number, id: number): number {
  if (seen & (1 << id)) throw NOT_TAKEN;
  return seen | (1 << id);
}

