import protobuf from "protobufjs";

// google/rpc/status.proto as OTLP/HTTP names it, read by protobufjs: independent of the collector's encoder.
const Status = protobuf
  .parse(`syntax = "proto3";
message Any { string type_url = 1; bytes value = 2; }
message Status { int32 code = 1; string message = 2; repeated Any details = 3; }`)
  .root.lookupType("Status");

/** A google.rpc.Status decoded from protobuf bytes (absent fields at their proto3 defaults). */
export function decodeStatus(bytes: Uint8Array): { code: number; message: string; details: unknown[] } {
  return Status.toObject(Status.decode(bytes), { defaults: true, arrays: true }) as { code: number; message: string; details: unknown[] };
}

/** The google.rpc.Code the OTLP routes must answer for each collector error code. */
export const EXPECTED_GRPC_CODE: Readonly<Record<string, number>> = {
  bad_request: 3, // INVALID_ARGUMENT
  payload_too_large: 3,
  unsupported_media_type: 3,
  unauthenticated: 16, // UNAUTHENTICATED
  forbidden: 7, // PERMISSION_DENIED
  rate_limited: 8, // RESOURCE_EXHAUSTED
  overloaded: 14, // UNAVAILABLE
  store_unavailable: 14,
  not_found: 5, // NOT_FOUND
  internal: 13, // INTERNAL
};
