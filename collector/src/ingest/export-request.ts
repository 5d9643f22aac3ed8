import { CollectorError } from "../errors.js";
import { isProtobufMediaType } from "../http/otlp-error-response.js";
import type { Principal } from "../tenants/principal.js";
import type { RequestBody } from "./read-body.js";

/** The two OTLP/HTTP encodings: the request's, which its answer uses too. */
export type OtlpFormat = "json" | "protobuf";

/**
 * The OTLP encoding of a request's media type (Content-Type without parameters, lower case).
 * Throws `unsupported_media_type` for any other type, before the body is read.
 */
export function otlpFormatOf(mediaType: string): OtlpFormat {
  if (isProtobufMediaType(mediaType)) return "protobuf";
  if (mediaType === "application/json") return "json";
  throw new CollectorError("unsupported_media_type", `Content-Type ${JSON.stringify(mediaType.slice(0, 60))} is not supported; send application/json or application/x-protobuf`);
}

/** One OTLP export request as an ingest service takes it: HTTP already left behind. */
export interface ExportRequest {
  /** The key's principal: whose data the request may carry. */
  principal: Principal;
  format: OtlpFormat;
  /**
   * The body, inflated. The service takes it over: it calls `release()` exactly once, as soon as
   * nothing refers to its bytes any more.
   */
  body: RequestBody;
}
