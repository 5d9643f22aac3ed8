import { otlpProtoTypes } from "./otlp-proto-root.js";

/** The partial-success part of an ExportTraceServiceResponse; absent when every span was accepted. */
export interface PartialSuccess {
  rejectedSpans: number;
  errorMessage: string;
}

/** ExportTraceServiceResponse in OTLP/JSON (int64 as a string, per the protobuf JSON mapping). */
export function exportResponseJson(partial: PartialSuccess | undefined): string {
  if (!partial) return "{}";
  return JSON.stringify({ partialSuccess: { rejectedSpans: String(partial.rejectedSpans), errorMessage: partial.errorMessage } });
}

/** ExportTraceServiceResponse as protobuf bytes. */
export function exportResponseProtobuf(partial: PartialSuccess | undefined): Uint8Array {
  const type = otlpProtoTypes().ExportTraceServiceResponse;
  return type.encode(type.create(partial ? { partialSuccess: partial } : {})).finish();
}
