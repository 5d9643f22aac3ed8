import { InvalidArgumentError } from "../errors.js";

/** One configured master key: a version number (for rotation) and its 32 bytes (base64 or hex text, or raw). */
export interface MasterKeyInput {
  readonly version: number;
  readonly key: string | Uint8Array;
}

/** A validated master key. */
export interface MasterKey {
  readonly version: number;
  readonly key: Buffer;
}

/**
 * Decodes a 32-byte master key from 64 hex characters or base64 / base64url (padded or not).
 * Throws InvalidArgumentError saying what was wrong (never echoing the key).
 */
export function parseMasterKey(value: string | Uint8Array, what = "master key"): Buffer {
  if (typeof value !== "string") {
    if (value instanceof Uint8Array && value.byteLength === 32) return Buffer.from(value);
    throw new InvalidArgumentError(`${what} must be 32 bytes; got ${value instanceof Uint8Array ? value.byteLength : typeof value} bytes`);
  }
  const text = value.trim();
  if (/^[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text, "hex");
  if (/^[A-Za-z0-9+/_-]{43}={0,1}$/.test(text)) {
    const bytes = Buffer.from(text.replace(/-/g, "+").replace(/_/g, "/"), "base64");
    if (bytes.length === 32) return bytes;
  }
  throw new InvalidArgumentError(
    `${what} must be 32 random bytes written as 64 hex characters or 44 base64 characters (e.g. \`openssl rand -base64 32\`); got ${text.length} characters that do not decode to 32 bytes`,
  );
}

/**
 * The master keys state is encrypted under, by version. New writes use the newest (highest) version;
 * older versions stay to read what was written under them. Rotation: add a key with a higher
 * version; every state loaded afterwards is decrypted with its old key and re-encrypted under the
 * new one (see EncryptedStateStore); once all state has been loaded or re-saved, drop the old key.
 */
export class MasterKeyring {
  readonly #keys: ReadonlyMap<number, Buffer>;
  /** The version new writes use. */
  readonly currentVersion: number;
  /** Versions, newest first. */
  readonly versions: readonly number[];

  constructor(keys: readonly MasterKeyInput[]) {
    if (!Array.isArray(keys) || keys.length === 0) throw new InvalidArgumentError("at least one master key is required for agent state encryption");
    const map = new Map<number, Buffer>();
    for (const entry of keys) {
      if (!Number.isInteger(entry?.version) || entry.version < 1 || entry.version > 0xffff_ffff) {
        throw new InvalidArgumentError(`master key version must be an integer from 1 to 4294967295; got ${JSON.stringify(entry?.version)}`);
      }
      if (map.has(entry.version)) throw new InvalidArgumentError(`master key version ${entry.version} is configured twice`);
      map.set(entry.version, parseMasterKey(entry.key, `master key version ${entry.version}`));
    }
    this.#keys = map;
    this.versions = [...map.keys()].sort((a, b) => b - a);
    this.currentVersion = this.versions[0]!;
  }

  /** A keyring of one key (version 1). */
  static single(key: string | Uint8Array): MasterKeyring {
    return new MasterKeyring([{ version: 1, key }]);
  }

  /** The key of `version`, or undefined when that version is not configured. */
  key(version: number): Buffer | undefined {
    return this.#keys.get(version);
  }
}
