import { otlpProtoTypes } from "../ingest/otlp-proto-root.js";
import type { PartialSuccess } from "../ingest/export-response.js";
import type { HttpAnswer } from "./http-poster.js";
import type { OtlpWireFormat } from "./otlp-encode.js";

/**
 * The partial success of a 200 ExportTraceServiceResponse (protobuf or its JSON mapping): undefined
 * when every span was accepted, the body is empty, or it cannot be read as one.
 */
export function readPartialSuccess(body: Buffer, format: OtlpWireFormat): PartialSuccess | undefined {
  if (body.length === 0) return undefined;
  let partial: { rejectedSpans?: unknown; errorMessage?: unknown } | undefined;
  try {
    if (format === "json") partial = (JSON.parse(body.toString("utf8")) as { partialSuccess?: typeof partial }).partialSuccess;
    else {
      const type = otlpProtoTypes().ExportTraceServiceResponse;
      partial = (type.toObject(type.decode(body), { longs: String }) as { partialSuccess?: typeof partial }).partialSuccess;
    }
  } catch {
    return undefined;
  }
  const rejectedSpans = Number(partial?.rejectedSpans ?? 0);
  const errorMessage = typeof partial?.errorMessage === "string" ? partial.errorMessage : "";
  if (!Number.isFinite(rejectedSpans) || (rejectedSpans <= 0 && errorMessage === "")) return undefined;
  return { rejectedSpans: Math.max(0, rejectedSpans), errorMessage };
}

/** A short description of an error answer for a log line: its status and, when it is text or JSON, the start of its body. */
export function describeErrorAnswer(answer: HttpAnswer): string {
  const text = /json|text/.test(answer.contentType) ? answer.body.toString("utf8", 0, Math.min(answer.body.length, 300)).replace(/\s+/g, " ").trim() : "";
  return `HTTP ${answer.status}${text !== "" ? `: ${text}` : ""}`;
}
