import { createHash, randomBytes } from "node:crypto";
import type { KeyKind } from "./principal.js";

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/** Characters of randomness in a secret: 43 base62 characters ≈ 256 bits. */
export const SECRET_RANDOM_LENGTH = 43;

/** The shape of every key secret: `trp_<kind>_<base62>`. */
export const SECRET_PATTERN = /^trp_(ingest|console|service)_[0-9A-Za-z]{32,128}$/;

/** `length` uniformly random base62 characters (rejection sampling: no modulo bias). */
export function randomBase62(length: number): string {
  let out = "";
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte < 248) out += BASE62[byte % 62];
      if (out.length === length) break;
    }
  }
  return out;
}

/** A new secret for a key of this kind: `trp_<kind>_<43 base62 characters>`. */
export function generateSecret(kind: KeyKind): string {
  return `trp_${kind}_${randomBase62(SECRET_RANDOM_LENGTH)}`;
}

/** A new public key id (safe to log and list). */
export function generateKeyId(): string {
  return `key_${randomBase62(16)}`;
}

/**
 * SHA-256 of a secret, hex. Secrets carry ≥ 190 bits of randomness, so a fast hash is the right
 * choice (a slow KDF protects low-entropy passwords, which these are not).
 */
export function hashSecret(secret: string): string {
  return createHash("sha256").update(secret, "utf8").digest("hex");
}
