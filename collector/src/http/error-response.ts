import type { Context } from "hono";
import { CollectorError, type CollectorErrorCode } from "../errors.js";

const STATUS: Record<CollectorErrorCode, 400 | 401 | 403 | 404 | 409 | 413 | 415 | 429 | 500 | 503> = {
  bad_request: 400,
  unsupported_media_type: 415,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  rate_limited: 429,
  overloaded: 503,
  store_unavailable: 503,
  internal: 500,
};

/** The HTTP status for an error code. */
export function statusOf(code: CollectorErrorCode): number {
  return STATUS[code];
}

/**
 * Answers `{ "error": { "code", "message" } }` with the status of the code, and Retry-After when the
 * error is transient. Unknown errors become a 500 whose message reveals nothing internal.
 */
export function errorResponse(c: Context, err: unknown): Response {
  const known = err instanceof CollectorError ? err : new CollectorError("internal", "internal error");
  const headers: Record<string, string> = {};
  if (known.retryAfterS !== undefined) headers["Retry-After"] = String(Math.max(1, Math.ceil(known.retryAfterS)));
  return c.json({ error: { code: known.code, message: known.message } }, STATUS[known.code], headers);
}
