/** The JSON body of every error answer of the query API. `code` is stable; `message` names the problem (e.g. the bad parameter). */
export interface ApiErrorBody {
  error: { code: ApiErrorCode; message: string };
}

/** Stable error codes the query API answers with (a subset of the collector's CollectorErrorCode). */
export type ApiErrorCode =
  | "bad_request"
  | "unauthenticated"
  | "forbidden"
  | "not_found"
  | "conflict"
  | "store_unavailable"
  | "internal";

/**
 * Why a QueryApiClient call failed: the collector's code when it answered with an error, or
 * "timeout" (no whole answer within the client's timeout: the collector may be up and busy),
 * "unreachable" (no connection could be made, or it broke), "bad_response" (a 2xx answer whose body
 * is not the JSON expected).
 */
export type QueryApiErrorCode = ApiErrorCode | "timeout" | "unreachable" | "bad_response";

/** What a QueryApiError carries besides its code, status and message. */
export interface QueryApiErrorDetails {
  cause?: unknown;
  /** The request that failed, e.g. "GET" and "/api/v1/usage". */
  method?: string;
  path?: string;
  /**
   * The first 300 characters of an error answer's body when it was not the collector's JSON error
   * body (a proxy's page, say); undefined when it was, or when no answer came.
   */
  answerText?: string;
}

/**
 * A failed query API call. `code` is stable (QueryApiErrorCode); `status` is the HTTP status, 0 when
 * no answer came; `message` is the collector's own message when it sent one, else a sentence naming
 * the collector and what did not happen.
 */
export class QueryApiError extends Error {
  readonly code: QueryApiErrorCode;
  readonly status: number;
  readonly method: string | undefined;
  readonly path: string | undefined;
  readonly answerText: string | undefined;

  constructor(code: QueryApiErrorCode, status: number, message: string, details: QueryApiErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = "QueryApiError";
    this.code = code;
    this.status = status;
    this.method = details.method;
    this.path = details.path;
    this.answerText = details.answerText;
  }
}
