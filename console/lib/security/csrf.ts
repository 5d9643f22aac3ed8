import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

/** Name of the cookie holding the browser's random CSRF secret (httpOnly, SameSite=Strict). */
export const CSRF_COOKIE = "troupe_csrf";
/** Name of the hidden form field carrying the token. */
export const CSRF_FIELD = "csrf";

/** What the console says when a form's CSRF token does not check out. */
export const CSRF_REFUSED_MESSAGE = "This form expired or did not come from this console, so it was refused. Reload the page and submit it again.";

/** A fresh random CSRF cookie value (256 bits). */
export function newCsrfSecret(): string {
  return randomBytes(32).toString("base64url");
}

/**
 * The token a form must send back for this browser: HMAC-SHA256 of its CSRF cookie under the
 * server's key (a signed double-submit token). A cross-site page can neither read the cookie nor
 * compute the HMAC, and a cookie planted by a sibling host fails the HMAC.
 */
export function csrfTokenFor(cookieSecret: string, key: Buffer): string {
  return createHmac("sha256", key).update("troupe-csrf-v1\0").update(cookieSecret).digest("base64url");
}

/** True only when `token` is the token of `cookieSecret` (constant-time comparison). */
export function verifyCsrfToken(cookieSecret: string | undefined, token: unknown, key: Buffer): boolean {
  if (!cookieSecret || typeof token !== "string" || token.length === 0 || token.length > 128) return false;
  const expected = Buffer.from(csrfTokenFor(cookieSecret, key));
  const given = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
