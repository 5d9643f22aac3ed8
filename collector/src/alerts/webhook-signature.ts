import { createHmac, timingSafeEqual } from "node:crypto";

/** Header carrying the signature: `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`. */
export const SIGNATURE_HEADER = "Troupe-Signature";

/** Header carrying the event id (the same on every retry of one event). */
export const EVENT_ID_HEADER = "Troupe-Event-Id";

/** The `Troupe-Signature` value of a body sent at `unixSeconds`. */
export function signWebhookBody(secret: string, body: string, unixSeconds: number): string {
  return `t=${unixSeconds},v1=${hmacHex(secret, unixSeconds, body)}`;
}

/**
 * Whether a `Troupe-Signature` header is valid for this raw body and secret, and no older than
 * `toleranceS` (default 5 minutes; replays of an old delivery are refused). What a receiver does,
 * in any language: split the header on ",", take `t` and `v1`, compute HMAC-SHA256 with the secret
 * over `${t}.${rawBody}` (the bytes as received, before any JSON parsing), compare hex in constant
 * time, and check that `t` is recent.
 */
export function verifyWebhookSignature(secret: string, rawBody: string, header: string, options: { nowS?: number; toleranceS?: number } = {}): boolean {
  const parts = new Map<string, string>();
  for (const piece of header.split(",")) {
    const eq = piece.indexOf("=");
    if (eq > 0) parts.set(piece.slice(0, eq).trim(), piece.slice(eq + 1).trim());
  }
  const t = parts.get("t");
  const v1 = parts.get("v1");
  if (t === undefined || v1 === undefined || !/^\d{1,12}$/.test(t) || !/^[0-9a-f]{64}$/.test(v1)) return false;
  const nowS = options.nowS ?? Math.floor(Date.now() / 1000);
  if (Math.abs(nowS - Number(t)) > (options.toleranceS ?? 300)) return false;
  const expected = Buffer.from(hmacHex(secret, Number(t), rawBody), "hex");
  return timingSafeEqual(expected, Buffer.from(v1, "hex"));
}

function hmacHex(secret: string, unixSeconds: number, body: string): string {
  return createHmac("sha256", secret).update(`${unixSeconds}.${body}`, "utf8").digest("hex");
}
