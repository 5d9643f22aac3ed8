/**
 * Typed errors of the collector, each with a stable code. HTTP statuses are chosen only at the edge
 * (http/error-response.ts), from the code.
 */
export class CollectorError extends Error {
  readonly code: CollectorErrorCode;
  /** Seconds a client should wait before retrying, when the error is transient. */
  readonly retryAfterS?: number;

  constructor(code: CollectorErrorCode, message: string, options?: { cause?: unknown; retryAfterS?: number }) {
    super(message, options);
    this.name = "CollectorError";
    this.code = code;
    if (options?.retryAfterS !== undefined) this.retryAfterS = options.retryAfterS;
  }
}

/** Every error code the collector answers with. */
export type CollectorErrorCode =
  | "bad_request" // malformed input: the message names the field or byte
  | "unsupported_media_type"
  | "unauthenticated" // missing or unknown key
  | "forbidden" // a known key asking for what it may not
  | "not_found"
  | "conflict"
  | "payload_too_large"
  | "rate_limited"
  | "overloaded" // bounded buffers full, spool at its bound: retry later
  | "store_unavailable"
  | "internal";
