import { otlpAnyValue } from "../store/attribute-types.js";
import type { SpanEvent, SpanLink } from "../store/span-row.js";
import type { ProtoWriter } from "./proto-writer.js";

const TAG_SCOPE = 0x0a;
const TAG_EVENT = 0x5a;
const TAG_EVENT_ATTRIBUTE = 0x1a;
const TAG_LINK = 0x6a;
const TAG_LINK_ATTRIBUTE = 0x22;
const TAG_STATUS = 0x7a;

/** A ScopeSpans.scope field: the instrumentation scope's name and version (as sent: empty when the span came without one). */
export function writeScope(w: ProtoWriter, name: string, version: string): void {
  w.byte(TAG_SCOPE);
  const slot = w.reserve(1);
  if (name !== "") w.stringField((1 << 3) | 2, name);
  if (version !== "") w.stringField((2 << 3) | 2, version);
  w.finish(slot, 1);
}

/** A stored event as a Span.events field (time, name, attributes with the types they were sent with). */
export function writeSpanEvent(w: ProtoWriter, e: SpanEvent): void {
  w.byte(TAG_EVENT);
  const event = w.reserve(2);
  w.byte((1 << 3) | 1);
  w.fixed64Decimal(e.timeUnixNano);
  if (e.name !== "") w.stringField((2 << 3) | 2, e.name);
  for (const key in e.attributes) w.keyValue(TAG_EVENT_ATTRIBUTE, key, otlpAnyValue(e.attributes[key]!, e.attributeTypes[key]));
  w.finish(event, 2);
}

/** A stored link as a Span.links field (ids as bytes, tracestate, attributes with their types, flags). */
export function writeSpanLink(w: ProtoWriter, l: SpanLink): void {
  w.byte(TAG_LINK);
  const link = w.reserve(2);
  w.byte((1 << 3) | 2);
  w.hexStringAsBytes(l.traceId);
  w.byte((2 << 3) | 2);
  w.hexStringAsBytes(l.spanId);
  if (l.traceState !== "") w.stringField((3 << 3) | 2, l.traceState);
  for (const key in l.attributes) w.keyValue(TAG_LINK_ATTRIBUTE, key, otlpAnyValue(l.attributes[key]!, l.attributeTypes[key]));
  if (l.flags !== 0) {
    w.byte((6 << 3) | 5);
    w.fixed32(l.flags);
  }
  w.finish(link, 2);
}

/** A Span.status field holding its code alone (the message is never forwarded: it can carry user content). */
export function writeSpanStatus(w: ProtoWriter, code: number): void {
  w.byte(TAG_STATUS);
  if (code === 0) w.byte(0);
  else {
    w.byte(2);
    w.byte((3 << 3) | 0);
    w.byte(code);
  }
}
