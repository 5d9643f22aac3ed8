import type { AttributeTypes } from "./attribute-types.js";

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
  /** Allow-listed span attributes, values as text (see attribute-types.ts) capped in length. */
  attributes: Record<string, string>;
  /** The OTLP type of each attribute value that is not a plain string. */
  attributeTypes: AttributeTypes;
  /** Allow-listed resource attributes. */
  resourceAttributes: Record<string, string>;
  resourceAttributeTypes: AttributeTypes;
  /** The instrumentation scope that emitted the span ("" when not sent). */
  scopeName: string;
  scopeVersion: string;
  /** The W3C tracestate of the span's context, as sent ("" for none). */
  traceState: string;
  /** OTLP Span.flags: W3C trace flags in bits 0-7, has-is-remote and is-remote in bits 8 and 9. */
  flags: number;
  /** The span's events in order, with their allow-listed attributes (never a message or a stack). */
  events: SpanEvent[];
  /** The span's links in order, with their allow-listed attributes. */
  links: SpanLink[];
}

/** A span event as stored: when, what, and its allow-listed attributes. */
export interface SpanEvent {
  /** Nanoseconds since the Unix epoch, as a decimal string. */
  timeUnixNano: string;
  name: string;
  attributes: Record<string, string>;
  attributeTypes: AttributeTypes;
}

/** A link from a span to another span (of this trace or another), as stored. */
export interface SpanLink {
  /** 32 lowercase hex characters. */
  traceId: string;
  /** 16 lowercase hex characters. */
  spanId: string;
  traceState: string;
  flags: number;
  attributes: Record<string, string>;
  attributeTypes: AttributeTypes;
}

/** The fields of a span that says nothing beyond its attributes' text (no types, scope, events or links). */
export function plainSpanFields(): Pick<SpanRow, "attributeTypes" | "resourceAttributeTypes" | "scopeName" | "scopeVersion" | "traceState" | "flags" | "events" | "links"> {
  return { attributeTypes: {}, resourceAttributeTypes: {}, scopeName: "", scopeVersion: "", traceState: "", flags: 0, events: [], links: [] };
}
