import { createCipheriv, createDecipheriv, createHmac, randomBytes } from "node:crypto";
import { z } from "zod";

/** What a signed-in browser carries: the key it signed in with and what the collector said it is. */
export interface SessionData {
  /** The console or admin key, sent to the collector on every request; never shown in a page. */
  key: string;
  kind: "console" | "admin";
  /** The tenant of a console key; "" for an admin. */
  tenantId: string;
  /** Issued at, epoch ms. */
  iat: number;
  /** Expires at, epoch ms. */
  exp: number;
}

const sessionSchema = z.object({
  key: z.string().min(1).max(512),
  kind: z.enum(["console", "admin"]),
  tenantId: z.string().max(63),
  iat: z.number().int(),
  exp: z.number().int(),
});

const VERSION = "v1";
const AAD = Buffer.from("troupe-console-session-v1");

function subKey(key: Buffer, purpose: string): Buffer {
  return createHmac("sha256", key).update(purpose).digest();
}

/**
 * Seals a session into a cookie value: AES-256-GCM (confidentiality and integrity, random 96-bit
 * IV), then an HMAC-SHA256 signature over the whole envelope with a separate derived key. Only the
 * holder of `key` can read or forge one.
 */
export function sealSession(data: SessionData, key: Buffer): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", subKey(key, "enc"), iv);
  cipher.setAAD(AAD);
  const body = Buffer.concat([cipher.update(JSON.stringify(data), "utf8"), cipher.final()]);
  const envelope = `${VERSION}.${Buffer.concat([iv, cipher.getAuthTag(), body]).toString("base64url")}`;
  const mac = createHmac("sha256", subKey(key, "mac")).update(envelope).digest("base64url");
  return `${envelope}.${mac}`;
}

/**
 * Opens a cookie value sealed by `sealSession`. Returns null — never throws — when the value is
 * malformed, tampered with, sealed with another key, or expired at `nowMs`.
 */
export function openSession(value: string | undefined, key: Buffer, nowMs = Date.now()): SessionData | null {
  if (!value || value.length > 4096) return null;
  const parts = value.split(".");
  if (parts.length !== 3 || parts[0] !== VERSION) return null;
  const [version, payload, mac] = parts as [string, string, string];
  const expected = createHmac("sha256", subKey(key, "mac")).update(`${version}.${payload}`).digest();
  const given = Buffer.from(mac, "base64url");
  if (given.length !== expected.length || !timingSafeEqualBuf(given, expected)) return null;
  const raw = Buffer.from(payload, "base64url");
  if (raw.length < 12 + 16 + 2) return null;
  try {
    const decipher = createDecipheriv("aes-256-gcm", subKey(key, "enc"), raw.subarray(0, 12));
    decipher.setAAD(AAD);
    decipher.setAuthTag(raw.subarray(12, 28));
    const plain = Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString("utf8");
    const parsed = sessionSchema.safeParse(JSON.parse(plain));
    if (!parsed.success) return null;
    if (parsed.data.exp <= nowMs) return null;
    return parsed.data;
  } catch {
    return null;
  }
}

function timingSafeEqualBuf(a: Buffer, b: Buffer): boolean {
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}
