import { typedAttributeValue, STORED_ATTRIBUTE_TYPES, type StoredAttributeType } from "../store/attribute-types.js";
import { clickHouseDateTimeToIso } from "../store/clickhouse-time.js";
import { decodeSpanEvents, decodeSpanLinks } from "../store/span-events.js";
import type { AttributeValue, TraceSpan, TraceSpanEvent, TraceSpanLink } from "@troupe/contract/query-api";
import { num, round } from "./span-sql.js";

/** The columns of a span as the trace view answers it, in the shape `SpanViewRow` reads. */
export const SPAN_VIEW_COLUMNS_SQL = `span_id, parent_span_id, name, kind, toString(start_time) AS start_text,
  toString(toUnixTimestamp64Nano(start_time)) AS start_ns, duration_ns, status_code, service_name,
  agent_type, operation, model, input_tokens, output_tokens, cost_usd, outcome,
  attributes, attribute_types, resource_attributes, resource_attribute_types,
  scope_name, scope_version, trace_state, flags, events, links`;

/** One stored span as SPAN_VIEW_COLUMNS_SQL selects it. */
export interface SpanViewRow {
  span_id: string;
  parent_span_id: string;
  name: string;
  kind: number;
  start_text: string;
  start_ns: string;
  duration_ns: number | string;
  status_code: number;
  service_name: string;
  agent_type: string;
  operation: string;
  model: string;
  input_tokens: number | string;
  output_tokens: number | string;
  cost_usd: number;
  outcome: string;
  attributes: Record<string, string>;
  attribute_types: Record<string, string>;
  resource_attributes: Record<string, string>;
  resource_attribute_types: Record<string, string>;
  scope_name: string;
  scope_version: string;
  trace_state: string;
  flags: number | string;
  events: string;
  links: string;
}

/** The trace ids a row's links name, for asking which of them the caller's tenant has. */
export function linkedTraceIds(row: SpanViewRow): string[] {
  return decodeSpanLinks(row.links).map((l) => l.traceId);
}

/**
 * A stored span as the API answers it: every attribute with the type it was sent with (strings for
 * rows stored before types were kept), events and links decoded, and each link marked `sameTenant`
 * when its trace id is in `tenantTraces` (the caller's tenant's traces among those linked).
 */
export function toTraceSpan(r: SpanViewRow, tenantTraces: ReadonlySet<string>): TraceSpan {
  const attributes = typedAttributes(r.attributes, r.attribute_types);
  const resource = typedAttributes(r.resource_attributes, r.resource_attribute_types);
  return {
    spanId: r.span_id,
    parentSpanId: r.parent_span_id,
    depth: 0,
    name: r.name,
    kind: num(r.kind),
    startTime: clickHouseDateTimeToIso(r.start_text),
    startTimeUnixNano: r.start_ns,
    durationMs: round(num(r.duration_ns) / 1e6),
    statusCode: num(r.status_code),
    serviceName: r.service_name,
    agentType: r.agent_type,
    operation: r.operation,
    model: r.model,
    inputTokens: num(r.input_tokens),
    outputTokens: num(r.output_tokens),
    costUsd: num(r.cost_usd),
    outcome: r.outcome,
    attributes: attributes.values,
    ...(attributes.truncated.length > 0 ? { truncatedAttributes: attributes.truncated } : {}),
    resourceAttributes: resource.values,
    ...(resource.truncated.length > 0 ? { truncatedResourceAttributes: resource.truncated } : {}),
    scope: { name: r.scope_name, version: r.scope_version },
    traceState: r.trace_state,
    flags: num(r.flags),
    events: decodeSpanEvents(r.events).map((e): TraceSpanEvent => {
      const a = typedAttributes(e.attributes, e.attributeTypes);
      return { time: nanosToIso(e.timeUnixNano), timeUnixNano: e.timeUnixNano, name: e.name, attributes: a.values, ...(a.truncated.length > 0 ? { truncatedAttributes: a.truncated } : {}) };
    }),
    links: decodeSpanLinks(r.links).map((l): TraceSpanLink => {
      const a = typedAttributes(l.attributes, l.attributeTypes);
      return {
        traceId: l.traceId,
        spanId: l.spanId,
        traceState: l.traceState,
        flags: l.flags,
        attributes: a.values,
        ...(a.truncated.length > 0 ? { truncatedAttributes: a.truncated } : {}),
        sameTenant: tenantTraces.has(l.traceId),
      };
    }),
  };
}

/** Each value typed by its stored type (unknown type names read as strings), and the keys cut to the cap, sorted. */
function typedAttributes(attributes: Record<string, string>, types: Readonly<Record<string, string>>): { values: Record<string, AttributeValue>; truncated: string[] } {
  const values: Record<string, AttributeValue> = {};
  const truncated: string[] = [];
  for (const key in attributes) {
    const stored = types[key];
    const type = stored !== undefined && STORED_ATTRIBUTE_TYPES.has(stored) ? (stored as StoredAttributeType) : undefined;
    values[key] = typedAttributeValue(attributes[key]!, type);
    if (type === "truncated") truncated.push(key);
  }
  return { values, truncated: truncated.sort() };
}

/** Nanoseconds since the epoch (decimal text) as the API's ISO time, to the millisecond. */
function nanosToIso(nanos: string): string {
  const ms = /^\d{1,30}$/.test(nanos) ? Number(BigInt(nanos) / 1_000_000n) : Number.NaN;
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? "" : d.toISOString();
}
