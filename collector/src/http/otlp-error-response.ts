import type { Context } from "hono";
import protobuf from "protobufjs";
import type { CollectorErrorCode } from "../errors.js";
import { knownError, retryAfterHeaders, statusOf } from "./error-response.js";

/** The google.rpc.Code an OTLP client reads for each error code (the HTTP status stays statusOf's). */
const GRPC_CODE: Record<CollectorErrorCode, number> = {
  bad_request: 3, // INVALID_ARGUMENT
  unsupported_media_type: 3,
  payload_too_large: 3,
  unauthenticated: 16, // UNAUTHENTICATED
  forbidden: 7, // PERMISSION_DENIED
  not_found: 5, // NOT_FOUND
  conflict: 10, // ABORTED
  rate_limited: 8, // RESOURCE_EXHAUSTED
  overloaded: 14, // UNAVAILABLE
  store_unavailable: 14,
  internal: 13, // INTERNAL
};

/** The request's media type: Content-Type without parameters, lower case; "" when absent. */
export function requestMediaType(c: Context): string {
  return (c.req.header("content-type") ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
}

/** Whether a media type is one OTLP/HTTP uses for protobuf. */
export function isProtobufMediaType(mediaType: string): boolean {
  return mediaType === "application/x-protobuf" || mediaType === "application/protobuf";
}

/** A google.rpc.Status (code, message; no details) as protobuf bytes. */
export function statusProtobuf(code: number, message: string): Uint8Array {
  const writer = protobuf.Writer.create();
  // proto3: fields at their default value are left out.
  if (code !== 0) writer.uint32((1 << 3) | 0).int32(code);
  if (message !== "") writer.uint32((2 << 3) | 2).string(message);
  return writer.finish();
}

/**
 * The error answer of an OTLP export route, as OTLP/HTTP asks: a google.rpc.Status. A protobuf
 * request gets it protobuf-encoded (`application/x-protobuf`); any other request its JSON mapping
 * `{ "code", "message" }`, plus the collector's usual `error: { code, message }` so clients of the
 * collector's JSON errors keep working (OTLP/JSON readers ignore unknown fields). HTTP status,
 * message and Retry-After are those of errorResponse.
 */
export function otlpErrorResponse(c: Context, err: unknown): Response {
  const known = knownError(err);
  const status = statusOf(known.code);
  const code = GRPC_CODE[known.code];
  const headers = retryAfterHeaders(known);
  if (isProtobufMediaType(requestMediaType(c))) {
    return c.body(statusProtobuf(code, known.message) as Uint8Array<ArrayBuffer>, status, { ...headers, "content-type": "application/x-protobuf" });
  }
  return c.json({ code, message: known.message, error: { code: known.code, message: known.message } }, status, headers);
}
