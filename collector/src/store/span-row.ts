/**
 * One span as the collector stores it: metadata only. Built by ingest after authentication and the
 * allow-list filter; there is no field for message content, prompts, completions or tool arguments.
 */
export interface SpanRow {
  tenantId: string;
  /** 32 lowercase hex characters. */
  traceId: string;
  /** 16 lowercase hex characters. */
  spanId: string;
  /** 16 lowercase hex characters, or "" for a root span. */
  parentSpanId: string;
  name: string;
  /** OTLP SpanKind number (0 unspecified, 1 internal, 2 server, 3 client, 4 producer, 5 consumer). */
  kind: number;
  /** Start time in nanoseconds since the Unix epoch, as a decimal string (exceeds 2^53). */
  startTimeUnixNano: string;
  durationNs: number;
  /** OTLP status code: 0 unset, 1 ok, 2 error. */
  statusCode: number;
  serviceName: string;
  /** Allow-listed span attributes, values converted to strings and capped in length. */
  attributes: Record<string, string>;
  /** Allow-listed resource attributes. */
  resourceAttributes: Record<string, string>;
}
