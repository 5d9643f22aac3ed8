import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
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
export function statusOf(code: CollectorErrorCode): ContentfulStatusCode {
  return STATUS[code];
}

/** The error as the collector answers it: a CollectorError as it is, anything else a 500 that reveals nothing internal. */
export function knownError(err: unknown): CollectorError {
  return err instanceof CollectorError ? err : new CollectorError("internal", "internal error");
}

/** Retry-After (whole seconds, at least 1) when the error is transient; no headers otherwise. */
export function retryAfterHeaders(err: CollectorError): Record<string, string> {
  return err.retryAfterS === undefined ? {} : { "Retry-After": String(Math.max(1, Math.ceil(err.retryAfterS))) };
}

/**
 * Answers `{ "error": { "code", "message" } }` with the status of the code, and Retry-After when the
 * error is transient. Unknown errors become a 500 whose message reveals nothing internal.
 */
export function errorResponse(c: Context, err: unknown): Response {
  const known = knownError(err);
  return c.json({ error: { code: known.code, message: known.message } }, STATUS[known.code], retryAfterHeaders(known));
}
