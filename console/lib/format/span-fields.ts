// How the span panel words a span's OpenTelemetry fields (flags, scope, event times, links). Pure functions.
import type { AttributeValue, TraceSpan, TraceSpanEvent } from "../api/types";

/** True for an attribute that says true: the JSON boolean, or the text "true" of a span stored before types were kept. */
export function attributeIsTrue(value: AttributeValue | undefined): boolean {
  return value === true || value === "true";
}

/**
 * OTLP span or link flags in words: the W3C sampled bit (bit 0), then, when the sender said whether
 * the parent (or linked) context was remote (bit 8), which it was (bit 9). "" for 0 (not sent).
 */
export function flagsText(flags: number): string {
  if (flags === 0) return "";
  const parts = [flags & 0x1 ? "sampled" : "not sampled"];
  if (flags & 0x100) parts.push(flags & 0x200 ? "remote" : "local");
  return `${parts.join(" · ")} (0x${flags.toString(16).padStart(2, "0")})`;
}

/** An instrumentation scope as "name@version", "name" without a version, "" when none was sent. */
export function scopeText(scope: { name: string; version: string }): string {
  if (scope.name === "") return "";
  return scope.version === "" ? scope.name : `${scope.name}@${scope.version}`;
}

/** How long after the span's start an event happened, in ms, exact from the nanosecond times (negative if before it). */
export function eventOffsetMs(span: Pick<TraceSpan, "startTimeUnixNano">, event: Pick<TraceSpanEvent, "timeUnixNano">): number {
  try {
    return Number(BigInt(event.timeUnixNano) - BigInt(span.startTimeUnixNano)) / 1e6;
  } catch {
    return Number.NaN;
  }
}

/**
 * The console page of a trace with one span's panel open and scrolled to (`span` parameter and
 * anchor); `tenant` is the admin's tenant parameter, undefined for a tenant session.
 */
export function spanHref(traceId: string, spanId: string, tenant: string | undefined): string {
  const query = new URLSearchParams({ span: spanId });
  if (tenant !== undefined) query.set("tenant", tenant);
  return `/traces/${encodeURIComponent(traceId)}?${query.toString()}#${encodeURIComponent(spanAnchor(spanId))}`;
}

/** The element id of a span's row in the waterfall. */
export function spanAnchor(spanId: string): string {
  return `span-${spanId}`;
}
