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

/** The partial-success part of an ExportLogsServiceResponse; absent when every log record was accepted. */
export interface LogsPartialSuccess {
  rejectedLogRecords: number;
  errorMessage: string;
}

/** ExportLogsServiceResponse in OTLP/JSON (int64 as a string, per the protobuf JSON mapping). */
export function exportLogsResponseJson(partial: LogsPartialSuccess | undefined): string {
  if (!partial) return "{}";
  return JSON.stringify({ partialSuccess: { rejectedLogRecords: String(partial.rejectedLogRecords), errorMessage: partial.errorMessage } });
}

/** ExportLogsServiceResponse as protobuf bytes. */
export function exportLogsResponseProtobuf(partial: LogsPartialSuccess | undefined): Uint8Array {
  const type = otlpProtoTypes().ExportLogsServiceResponse;
  return type.encode(type.create(partial ? { partialSuccess: partial } : {})).finish();
}
