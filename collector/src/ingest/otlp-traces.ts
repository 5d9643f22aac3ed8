/**
 * An OTLP trace export request after decoding and structural validation, the same for JSON and
 * protobuf bodies. Ids are lowercase hex, timestamps decimal strings of nanoseconds, attribute
 * values plain JSON-compatible values. Scopes are flattened: the collector does not keep them.
 */
export interface OtlpTraceRequest {
  resourceSpans: OtlpResourceSpans[];
  /** Total spans in the request. */
  spanCount: number;
}

export interface OtlpResourceSpans {
  resourceAttributes: OtlpKeyValue[];
  spans: OtlpSpan[];
}

export interface OtlpSpan {
  /** 32 lowercase hex characters. */
  traceId: string;
  /** 16 lowercase hex characters. */
  spanId: string;
  /** 16 lowercase hex characters or "". */
  parentSpanId: string;
  name: string;
  /** 0-5, the OTLP SpanKind. */
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: OtlpKeyValue[];
  events: OtlpEvent[];
  /** 0 unset, 1 ok, 2 error. */
  statusCode: number;
}

export interface OtlpEvent {
  name: string;
  attributes: OtlpKeyValue[];
}

export interface OtlpKeyValue {
  key: string;
  value: OtlpAttributeValue;
}

/**
 * An AnyValue: ints are numbers when exactly representable and decimal strings otherwise, bytes are
 * base64 strings, an empty AnyValue is null.
 */
export type OtlpAttributeValue = string | number | boolean | null | OtlpAttributeValue[] | { [key: string]: OtlpAttributeValue };
