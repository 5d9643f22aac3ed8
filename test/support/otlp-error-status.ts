// How an OTLP client reads the collector's error answers, for tests outside the collector package.
import protobuf from "protobufjs";
import { expect } from "vitest";

// google.rpc.Status, which OTLP/HTTP answers every 4xx/5xx with (protobuf to a protobuf request).
const RpcStatus = protobuf
  .parse(`syntax = "proto3"; message Any { string type_url = 1; bytes value = 2; } message Status { int32 code = 1; string message = 2; repeated Any details = 3; }`)
  .root.lookupType("Status");

/** An error answer as an OTLP client reads it: a protobuf Status to a protobuf request, else the Status JSON mapping (with the collector's `error` beside it). */
export function errorStatus(res: Response, contentType: string, bytes: Buffer): { code: number; message: string } {
  if (/^application\/(x-)?protobuf\s*(;|$)/i.test(contentType)) {
    expect(res.headers.get("content-type")).toBe("application/x-protobuf");
    return RpcStatus.toObject(RpcStatus.decode(bytes), { defaults: true }) as { code: number; message: string };
  }
  const err = JSON.parse(bytes.toString("utf8")) as { code: number; message: string; error: { code: string; message: string } };
  expect(typeof err.error.code).toBe("string");
  expect(err.message).toBe(err.error.message);
  return err;
}
