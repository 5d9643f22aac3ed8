import type { ApiErrorCode } from "./types";

/**
 * An error answer from the collector (or a failure to reach it). `code` is the collector's stable
 * code, or "unreachable" when no answer came; `status` is the HTTP status (0 when unreachable).
 */
export class CollectorApiError extends Error {
  readonly code: ApiErrorCode | "unreachable" | "bad_response";
  readonly status: number;

  constructor(code: CollectorApiError["code"], status: number, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "CollectorApiError";
    this.code = code;
    this.status = status;
  }
}
