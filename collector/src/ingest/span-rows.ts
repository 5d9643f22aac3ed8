import { ATTR, EVENT_ATTRIBUTE_ALLOW_LIST, MAX_ATTRIBUTE_VALUE_LENGTH, RESOURCE_ATTRIBUTE_ALLOW_LIST, SPAN_ATTRIBUTE_ALLOW_LIST, isTenantId } from "@troupe/contract";
import type { AttributeTypes } from "../store/attribute-types.js";
import type { SpanEvent, SpanLink, SpanRow } from "../store/span-row.js";
import type { Principal } from "../tenants/principal.js";
import { filterAttributes, stringifyAttributeValue, type FilterCounts } from "./attribute-filter.js";
import { MAX_SPAN_AGE_DAYS, MAX_SPAN_START_AHEAD_MS, type IngestLimits } from "./ingest-limits.js";
import type { OtlpEvent, OtlpKeyValue, OtlpLink, OtlpTraceRequest } from "./otlp-traces.js";

/** Why ingest refused a span. Stable: used as a metric label and in partial-success messages. */
export type SpanRejectReason =
  | "tenant_mismatch" // a tenant key's span claims another tenant
  | "tenant_not_allowed" // a service key's span names a tenant the key may not write
  | "missing_tenant" // a service key's span names no tenant
  | "invalid_tenant" // the span's tenant attribute is not a valid tenant id
  | "tenant_conflict" // the span names two different tenants (twice on the span, or span vs resource)
  | "invalid_trace_id" // an all-zero traceId (invalid in OTLP)
  | "invalid_span_id" // an all-zero spanId (invalid in OTLP)
  | "missing_start_time" // startTimeUnixNano 0
  | "time_in_future" // starts more than MAX_SPAN_START_AHEAD_MS ahead of the collector's clock
  | "time_expired" // starts more than MAX_SPAN_AGE_DAYS ago: the TTL would delete it at once
  | "too_many_attributes"
  | "too_many_events"
  | "too_many_links";

/** The reasons `resolveTenant` refuses a record for (a subset of SpanRejectReason). */
export type TenantRejectReason = "tenant_mismatch" | "tenant_not_allowed" | "missing_tenant" | "invalid_tenant";

/** The outcome of turning a decoded request into stored rows. */
export interface SpanRowsResult {
  rows: SpanRow[];
  rejected: Map<SpanRejectReason, number>;
  /** One example message per reason, for the partial-success error message. */
  rejectExamples: Map<SpanRejectReason, string>;
  droppedAttributes: { span: number; resource: number; event: number; link: number };
  truncatedAttributes: number;
}

const UNKNOWN_SERVICE = "unknown_service";
const ZERO_TRACE_ID = "0".repeat(32);
const ZERO_SPAN_ID = "0".repeat(16);
const DAY_MS = 86_400_000;

/** The span start times ingest keeps at one moment: from `minNs` to `maxNs` (ns since the epoch), both included. */
export interface StartTimeWindow {
  minNs: bigint;
  maxNs: bigint;
  /** The same as decimal strings, to compare with the decoded times without parsing them. */
  minText: string;
  maxText: string;
}

/** The start times kept at `nowMs`: from MAX_SPAN_AGE_DAYS before it to MAX_SPAN_START_AHEAD_MS after it. */
export function startTimeWindow(nowMs: number): StartTimeWindow {
  const minNs = BigInt(Math.floor(nowMs) - MAX_SPAN_AGE_DAYS * DAY_MS) * 1_000_000n;
  const maxNs = BigInt(Math.floor(nowMs) + MAX_SPAN_START_AHEAD_MS) * 1_000_000n;
  return { minNs, maxNs, minText: String(minNs), maxText: String(maxNs) };
}

/** Orders two decimal strings without leading zeros (as decoders give times) by the numbers they are. */
function compareDecimal(a: string, b: string): number {
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Authorizes, filters and flattens a decoded request into SpanRows: the tenant of every row is
 * decided by the key (tenant keys bind every span to their tenant; service keys may write only their
 * allowed tenants), only allow-listed attributes survive, capped in length, and only spans that can
 * be read back are kept (non-zero ids, a start in `startTimeWindow(nowMs)`). Refused spans are
 * counted by reason, never silently dropped.
 */
export function buildSpanRows(request: OtlpTraceRequest, principal: Principal, limits: IngestLimits, nowMs = Date.now()): SpanRowsResult {
  const window = startTimeWindow(nowMs);
  const rows: SpanRow[] = [];
  const rejected = new Map<SpanRejectReason, number>();
  const rejectExamples = new Map<SpanRejectReason, string>();
  const reject = (reason: SpanRejectReason, example: string): void => {
    rejected.set(reason, (rejected.get(reason) ?? 0) + 1);
    if (!rejectExamples.has(reason)) rejectExamples.set(reason, example);
  };
  const spanCounts: FilterCounts = { dropped: 0, truncated: 0 };
  const resourceCounts: FilterCounts = { dropped: 0, truncated: 0 };
  const eventCounts: FilterCounts = { dropped: 0, truncated: 0 };
  const linkCounts: FilterCounts = { dropped: 0, truncated: 0 };

  for (const rs of request.resourceSpans) {
    const resourceAttributes: Record<string, string> = {};
    const resourceAttributeTypes: AttributeTypes = {};
    filterAttributes(rs.resourceAttributes, RESOURCE_ATTRIBUTE_ALLOW_LIST, resourceAttributes, resourceAttributeTypes, resourceCounts);
    const serviceName = resourceAttributes["service.name"] || UNKNOWN_SERVICE;
    const resourceTenant = findTenant(rs.resourceAttributes);
    // Claims on the resource and on each span must agree, or the stored row would say two tenants.
    const resourceAttributeCount = rs.resourceAttributes.length + (rs.skippedResourceAttributes ?? 0);
    resourceCounts.dropped += rs.skippedResourceAttributes ?? 0;

    for (const span of rs.spans) {
      const unreadable = unreadableReason(span.traceId, span.spanId, span.startTimeUnixNano, window);
      if (unreadable !== undefined) {
        reject(unreadable[0], unreadable[1]);
        continue;
      }
      if (span.attributes.length + (span.skippedAttributes ?? 0) > limits.maxAttributesPerSpan || resourceAttributeCount > limits.maxAttributesPerSpan) {
        reject("too_many_attributes", `a span has more than ${limits.maxAttributesPerSpan} attributes`);
        continue;
      }
      if (span.events.length > limits.maxEventsPerSpan) {
        reject("too_many_events", `a span has more than ${limits.maxEventsPerSpan} events`);
        continue;
      }
      if (span.links.length > limits.maxLinksPerSpan) {
        reject("too_many_links", `a span has more than ${limits.maxLinksPerSpan} links`);
        continue;
      }
      const spanTenant = findTenant(span.attributes);
      if (spanTenant === CONFLICT || resourceTenant === CONFLICT || (spanTenant !== undefined && resourceTenant !== undefined && spanTenant !== resourceTenant)) {
        reject("tenant_conflict", `a span names two different tenants in ${ATTR.tenantId} (on the span twice, or on the span and its resource)`);
        continue;
      }
      const claimed = spanTenant ?? resourceTenant;
      const tenantId = resolveTenant(principal, claimed, reject);
      if (tenantId === null) continue;

      const attributes: Record<string, string> = {};
      const attributeTypes: AttributeTypes = {};
      filterAttributes(span.attributes, SPAN_ATTRIBUTE_ALLOW_LIST, attributes, attributeTypes, spanCounts);
      spanCounts.dropped += span.skippedAttributes ?? 0;
      const events = span.events.map((event) => storedEvent(event, eventCounts));
      const links = span.links.map((link) => storedLink(link, linkCounts));

      rows.push({
        tenantId,
        traceId: span.traceId,
        spanId: span.spanId,
        parentSpanId: span.parentSpanId,
        name: span.name,
        kind: span.kind,
        startTimeUnixNano: span.startTimeUnixNano,
        durationNs: span.durationNs,
        statusCode: span.statusCode,
        serviceName,
        attributes,
        attributeTypes,
        resourceAttributes,
        resourceAttributeTypes,
        scopeName: capped(span.scopeName, spanCounts),
        scopeVersion: capped(span.scopeVersion, spanCounts),
        traceState: capped(span.traceState, spanCounts),
        flags: span.flags,
        events,
        links,
      });
    }
  }
  return {
    rows,
    rejected,
    rejectExamples,
    droppedAttributes: { span: spanCounts.dropped, resource: resourceCounts.dropped, event: eventCounts.dropped, link: linkCounts.dropped },
    truncatedAttributes: spanCounts.truncated + resourceCounts.truncated + eventCounts.truncated + linkCounts.truncated,
  };
}

/** An event as stored: its name capped, its attributes filtered by EVENT_ATTRIBUTE_ALLOW_LIST, what was removed counted. */
export function storedEvent(event: OtlpEvent, counts: FilterCounts): SpanEvent {
  const e: SpanEvent = { timeUnixNano: event.timeUnixNano, name: capped(event.name, counts), attributes: {}, attributeTypes: {} };
  filterAttributes(event.attributes, EVENT_ATTRIBUTE_ALLOW_LIST, e.attributes, e.attributeTypes, counts);
  counts.dropped += event.skippedAttributes ?? 0;
  return e;
}

/** A link as stored: its tracestate capped, its attributes filtered by SPAN_ATTRIBUTE_ALLOW_LIST, what was removed counted. */
export function storedLink(link: OtlpLink, counts: FilterCounts): SpanLink {
  const l: SpanLink = { traceId: link.traceId, spanId: link.spanId, traceState: capped(link.traceState, counts), flags: link.flags, attributes: {}, attributeTypes: {} };
  filterAttributes(link.attributes, SPAN_ATTRIBUTE_ALLOW_LIST, l.attributes, l.attributeTypes, counts);
  counts.dropped += link.skippedAttributes ?? 0;
  return l;
}

/** A name-like text (event name, scope, tracestate) capped to MAX_ATTRIBUTE_VALUE_LENGTH characters, counted when cut. */
export function capped(text: string, counts: FilterCounts): string {
  if (text.length <= MAX_ATTRIBUTE_VALUE_LENGTH) return text;
  counts.truncated++;
  return text.slice(0, MAX_ATTRIBUTE_VALUE_LENGTH);
}

/** Why a span could never be read back, with the message; undefined when it can. */
function unreadableReason(traceId: string, spanId: string, startTimeUnixNano: string, window: StartTimeWindow): [SpanRejectReason, string] | undefined {
  if (traceId === ZERO_TRACE_ID) return ["invalid_trace_id", "a span has an all-zero traceId, which OTLP defines as invalid"];
  if (spanId === ZERO_SPAN_ID) return ["invalid_span_id", "a span has an all-zero spanId, which OTLP defines as invalid"];
  if (startTimeUnixNano === "0") return ["missing_start_time", "a span has no startTimeUnixNano (0)"];
  if (compareDecimal(startTimeUnixNano, window.maxText) > 0) {
    return ["time_in_future", `startTimeUnixNano ${startTimeUnixNano} (${isoOf(startTimeUnixNano)}) is more than ${MAX_SPAN_START_AHEAD_MS / 60_000} minutes ahead of the collector's clock`];
  }
  if (compareDecimal(startTimeUnixNano, window.minText) < 0) {
    return ["time_expired", `startTimeUnixNano ${startTimeUnixNano} (${isoOf(startTimeUnixNano)}) is older than the longest retention (${MAX_SPAN_AGE_DAYS} days): it would be deleted at once`];
  }
  return undefined;
}

function isoOf(ns: string): string {
  // At most 2^64 ns: well inside Date's range.
  return new Date(Number(ns) / 1e6).toISOString();
}

/** Marks an attribute list naming the tenant twice with different values. */
const CONFLICT: unique symbol = Symbol("tenant-conflict");

/**
 * The tenant a list claims, as sent (validated by resolveTenant); undefined when it names none,
 * CONFLICT when it names two different ones (the attribute filter would otherwise keep the last
 * while the row's tenant came from the first).
 */
function findTenant(list: readonly OtlpKeyValue[]): string | undefined | typeof CONFLICT {
  let found: string | undefined;
  for (const kv of list) {
    if (kv.key !== ATTR.tenantId) continue;
    const value = stringifyAttributeValue(kv.value);
    if (found !== undefined && found !== value) return CONFLICT;
    found = value;
  }
  return found;
}

/**
 * The tenant a span (or another record: `subject` names it in messages) belongs to under
 * `principal`, given what it claims; null (after telling `reject` why) when the key may not write it.
 */
export function resolveTenant(
  principal: Principal,
  claimed: string | undefined,
  reject: (reason: TenantRejectReason, example: string) => void,
  subject = "span",
): string | null {
  if (claimed !== undefined && !isTenantId(claimed)) {
    reject("invalid_tenant", `${ATTR.tenantId} ${JSON.stringify(claimed.slice(0, 64))} is not a valid tenant id`);
    return null;
  }
  if (principal.kind === "tenant-ingest") {
    if (claimed === undefined || claimed === principal.tenantId) return principal.tenantId;
    reject("tenant_mismatch", `a ${subject} claims tenant ${JSON.stringify(claimed)} but the key belongs to another tenant`);
    return null;
  }
  if (principal.kind === "service-ingest") {
    if (claimed === undefined) {
      reject("missing_tenant", `a ${subject} has no ${ATTR.tenantId} attribute, which a service key requires`);
      return null;
    }
    if (principal.allowedTenants.includes(claimed)) return claimed;
    reject("tenant_not_allowed", `this service key may not write tenant ${JSON.stringify(claimed)}`);
    return null;
  }
  // Only ingest keys reach here (the route admits no other kind); refuse anything else outright.
  reject("tenant_not_allowed", `a ${principal.kind} key cannot ingest a ${subject}`);
  return null;
}
