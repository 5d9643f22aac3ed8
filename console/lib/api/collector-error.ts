import type { ApiErrorCode } from "./types";

/**
 * An error answer from the collector (or a failure to get one). `code` is the collector's stable
 * code, "timeout" when it did not answer in time, "unreachable" when no connection could be made;
 * `status` is the HTTP status (0 when no answer came).
 */
export class CollectorApiError extends Error {
  readonly code: ApiErrorCode | "timeout" | "unreachable" | "bad_response";
  readonly status: number;

  constructor(code: CollectorApiError["code"], status: number, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "CollectorApiError";
    this.code = code;
    this.status = status;
  }
}
