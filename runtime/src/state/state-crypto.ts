import { createCipheriv, createDecipheriv, createHash, createHmac, hkdfSync, randomBytes } from "node:crypto";
import { StateIntegrityError } from "../errors.js";

/** Who a state blob belongs to. Any strings: the encoding below is injective for all of them. */
export interface StateIdentity {
  readonly tenant: string;
  readonly agentType: string;
  readonly agentKey: string;
}

const MAGIC = Buffer.from("TRST", "ascii");
/** Version of the blob layout below. */
export const STATE_FORMAT_VERSION = 1;
const HEADER_LENGTH = MAGIC.length + 1 + 4; // magic, format version, key version
const NONCE_LENGTH = 12;
const TAG_LENGTH = 16;
const HKDF_SALT = Buffer.from("troupe/agent-state/v1", "utf8");

/**
 * The canonical encoding of a list of strings: for each, its length in bytes (4 bytes, big endian)
 * then its UTF-16LE code units. Injective for every JavaScript string, including lone surrogates
 * and NUL (UTF-8 would map distinct ill-formed strings to the same bytes).
 */
export function canonicalEncoding(domain: string, fields: readonly string[]): Buffer {
  const parts: Buffer[] = [];
  for (const field of [domain, ...fields]) {
    const bytes = Buffer.from(field, "utf16le");
    const length = Buffer.alloc(4);
    length.writeUInt32BE(bytes.length);
    parts.push(length, bytes);
  }
  return Buffer.concat(parts);
}

/** The key (HMAC) under which state is stored: derived from the master key, never reversible to ids. */
export function deriveKeyMacKey(master: Buffer): Buffer {
  return Buffer.from(hkdfSync("sha256", master, HKDF_SALT, canonicalEncoding("troupe/state/key-mac", []), 32));
}

/**
 * The tenant's AES-256-GCM key: HKDF-SHA256(master, info = domain | SHA-256(canonical(tenant))).
 * The tenant's canonical encoding is hashed because HKDF info is limited to 1,024 bytes and the
 * state layer must accept any string; SHA-256 keeps distinct tenants apart.
 */
export function deriveTenantKey(master: Buffer, tenant: string): Buffer {
  const tenantDigest = createHash("sha256").update(canonicalEncoding("troupe/state/tenant", [tenant])).digest();
  const info = Buffer.concat([canonicalEncoding("troupe/state/tenant-key", []), tenantDigest]);
  return Buffer.from(hkdfSync("sha256", master, HKDF_SALT, info, 32));
}

/** The storage key of an identity: hex HMAC-SHA256 over its canonical encoding. */
export function storageKey(macKey: Buffer, identity: StateIdentity): string {
  return createHmac("sha256", macKey)
    .update(canonicalEncoding("troupe/state/key", [identity.tenant, identity.agentType, identity.agentKey]))
    .digest("hex");
}

function aad(header: Buffer, identity: StateIdentity): Buffer {
  return Buffer.concat([header, canonicalEncoding("troupe/state/aad", [identity.tenant, identity.agentType, identity.agentKey])]);
}

/** Encrypts `plaintext` for `identity`: header | nonce | ciphertext | tag, header and identity authenticated. */
export function sealState(tenantKey: Buffer, keyVersion: number, identity: StateIdentity, plaintext: Buffer): Buffer {
  const header = Buffer.alloc(HEADER_LENGTH);
  MAGIC.copy(header, 0);
  header.writeUInt8(STATE_FORMAT_VERSION, MAGIC.length);
  header.writeUInt32BE(keyVersion, MAGIC.length + 1);
  const nonce = randomBytes(NONCE_LENGTH);
  const cipher = createCipheriv("aes-256-gcm", tenantKey, nonce);
  cipher.setAAD(aad(header, identity));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([header, nonce, body, cipher.getAuthTag()]);
}

/** The key version a blob says it was sealed under; throws StateIntegrityError on a malformed header. */
export function blobKeyVersion(blob: Uint8Array): number {
  const buf = Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength);
  if (buf.length < HEADER_LENGTH + NONCE_LENGTH + TAG_LENGTH || !buf.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw new StateIntegrityError("agent state blob is not a Troupe state blob (bad header or truncated)");
  }
  const format = buf.readUInt8(MAGIC.length);
  if (format !== STATE_FORMAT_VERSION) throw new StateIntegrityError(`agent state blob has format version ${format}; this runtime reads version ${STATE_FORMAT_VERSION}`);
  return buf.readUInt32BE(MAGIC.length + 1);
}

/**
 * Decrypts a blob for `identity`. Throws StateIntegrityError when authentication fails: the blob was
 * written for another tenant or agent, altered, or sealed under another key. Never returns wrong data.
 */
export function openState(tenantKey: Buffer, identity: StateIdentity, blob: Uint8Array): Buffer {
  blobKeyVersion(blob);
  const buf = Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength);
  const header = buf.subarray(0, HEADER_LENGTH);
  const nonce = buf.subarray(HEADER_LENGTH, HEADER_LENGTH + NONCE_LENGTH);
  const tag = buf.subarray(buf.length - TAG_LENGTH);
  const body = buf.subarray(HEADER_LENGTH + NONCE_LENGTH, buf.length - TAG_LENGTH);
  try {
    const decipher = createDecipheriv("aes-256-gcm", tenantKey, nonce);
    decipher.setAAD(aad(header, identity));
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(body), decipher.final()]);
  } catch (error) {
    throw new StateIntegrityError(
      `agent state of ${identity.agentType} failed authentication: it was written for another tenant or agent, altered, or encrypted under another master key`,
      { cause: error },
    );
  }
}
