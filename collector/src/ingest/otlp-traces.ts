import type { AttributeType } from "../store/attribute-types.js";

/**
 * An OTLP trace export request after decoding and structural validation, the same for JSON and
 * protobuf bodies. Ids are lowercase hex, timestamps decimal strings of nanoseconds, attribute
 * values plain JSON-compatible values with their OTLP type beside them. Scopes are flattened onto
 * their spans.
 */
export interface OtlpTraceRequest {
  resourceSpans: OtlpResourceSpans[];
  /** Total spans in the request. */
  spanCount: number;
}

export interface OtlpResourceSpans {
  resourceAttributes: OtlpKeyValue[];
  /** Resource attributes a decoder skipped as not allow-listed (counted as dropped). */
  skippedResourceAttributes?: number;
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
  /** end - start, 0 when negative. */
  durationNs: number;
  attributes: OtlpKeyValue[];
  /** Attributes a decoder skipped as not allow-listed (counted as dropped). */
  skippedAttributes?: number;
  events: OtlpEvent[];
  links: OtlpLink[];
  /** 0 unset, 1 ok, 2 error. The status message is not kept: it can carry user content. */
  statusCode: number;
  /** The span's instrumentation scope ("" when none was sent). */
  scopeName: string;
  scopeVersion: string;
  /** W3C tracestate as sent ("" for none). */
  traceState: string;
  /** OTLP Span.flags (fixed32). */
  flags: number;
}

export interface OtlpEvent {
  /** Decimal nanoseconds since the epoch ("0" when not sent). */
  timeUnixNano: string;
  name: string;
  attributes: OtlpKeyValue[];
  skippedAttributes?: number;
}

export interface OtlpLink {
  /** 32 lowercase hex characters. */
  traceId: string;
  /** 16 lowercase hex characters. */
  spanId: string;
  traceState: string;
  flags: number;
  attributes: OtlpKeyValue[];
  skippedAttributes?: number;
}

export interface OtlpKeyValue {
  key: string;
  value: OtlpAttributeValue;
  /**
   * The OTLP type of `value` when it is not a string (see attribute-types.ts): ints and doubles are
   * both numbers here, so the type says which; arrays say their elements' type when they share one.
   * Absent for strings, empty values, key-value lists and mixed or nested arrays.
   */
  type?: AttributeType;
}

/**
 * An AnyValue: ints are numbers when exactly representable and decimal strings otherwise, bytes are
 * base64 strings, an empty AnyValue is null.
 */
export type OtlpAttributeValue = string | number | boolean | null | OtlpAttributeValue[] | { [key: string]: OtlpAttributeValue };

/** end - start in nanoseconds from decimal strings; 0 when the span ends before it starts. */
export function durationNs(startTimeUnixNano: string, endTimeUnixNano: string): number {
  const sl = startTimeUnixNano.length;
  const el = endTimeUnixNano.length;
  let d: number;
  if (sl < 16 && el < 16) d = Number(endTimeUnixNano) - Number(startTimeUnixNano);
  else if (sl === el && startTimeUnixNano.slice(0, sl - 15) === endTimeUnixNano.slice(0, el - 15)) {
    // Same leading digits: the difference lies in the last 15 digits, exact as doubles.
    d = Number(endTimeUnixNano.slice(sl - 15)) - Number(startTimeUnixNano.slice(sl - 15));
  } else d = Number(BigInt(endTimeUnixNano) - BigInt(startTimeUnixNano));
  return d > 0 ? d : 0;
}
