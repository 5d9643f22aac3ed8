/**
 * Where encrypted state blobs live, by opaque key. Guarantees every implementation gives:
 * - `put` is atomic: a concurrent or later `get` sees the previous value or the new one, never a
 *   mix, even if the process dies mid-write;
 * - `get` returns exactly the bytes last put under that key, or undefined;
 * - `delete` of a missing key is a no-op.
 * Keys are produced by the state layer (hex digests); implementations may reject other shapes.
 */
export interface BlobStore {
  get(key: string): Promise<Uint8Array | undefined>;
  put(key: string, value: Uint8Array): Promise<void>;
  delete(key: string): Promise<void>;
  /** Releases connections or handles; the store is unusable afterwards. */
  close(): Promise<void>;
}

const KEY_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;

/** Throws TypeError unless `key` is 1-128 characters of [A-Za-z0-9_-] (safe as a file name and a SQL value). */
export function assertBlobKey(key: string): void {
  if (typeof key !== "string" || !KEY_PATTERN.test(key)) {
    throw new TypeError(`blob key must be 1-128 characters of letters, digits, "_" or "-"; got ${JSON.stringify(String(key).slice(0, 40))}`);
  }
}
