import { encodeSpanBlock } from "../store/span-block.js";
import type { SpanRow } from "../store/span-row.js";
import { OtlpJsonTraceEncoder } from "./otlp-json-encoder.js";
import { OtlpProtobufTraceEncoder } from "./otlp-protobuf-encoder.js";

/** The two OTLP/HTTP body encodings. */
export type OtlpWireFormat = "protobuf" | "json";

/** Turns span blocks (spool payloads) into one OTLP/HTTP request body, valid until the encoder's next call. */
export type OtlpTraceBodyEncoder = (payloads: readonly Buffer[]) => Promise<Buffer>;

/**
 * An encoder of span blocks into ExportTraceServiceRequest bodies of `format` (OtlpProtobufTraceEncoder,
 * OtlpJsonTraceEncoder), both straight from the blocks' bytes and both sending each span as it came
 * (typed attributes, events, links, scope, tracestate, flags, exact times) under its tenant's
 * resource. One per sender: a body is lent from the encoder's buffer (no copy) until its next call;
 * a large request is encoded in slices, letting ingest run between them.
 */
export function otlpTraceBodyEncoder(format: OtlpWireFormat): OtlpTraceBodyEncoder {
  const encoder = format === "json" ? new OtlpJsonTraceEncoder() : new OtlpProtobufTraceEncoder();
  return (payloads) => encoder.encode(payloads);
}

/** Rows as one request body of `format` (for tests and benchmarks: the forwarder encodes blocks). */
export function otlpTraceRequestFromRows(rows: readonly SpanRow[], format: OtlpWireFormat): Promise<Buffer> {
  return otlpTraceBodyEncoder(format)([encodeSpanBlock(rows, () => 1)]);
}
