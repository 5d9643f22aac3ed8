import { STORED_ATTRIBUTE_TYPES, type AttributeTypes } from "./attribute-types.js";
import type { SpanEvent, SpanLink } from "./span-row.js";

/**
 * The `events` and `links` columns: each a JSON array (the empty string for none, the common case),
 * one object per event or link with its fields in a fixed order and empty fields left out, so every
 * ingest path writes the same bytes for the same span. Readable in SQL with the JSON functions:
 *   event: {"timeUnixNano":"…","name":"…","attributes":{…},"attributeTypes":{…}}
 *   link:  {"traceId":"…","spanId":"…","traceState":"…","flags":N,"attributes":{…},"attributeTypes":{…}}
 */

/** The `events` column text of a span's events. */
export function encodeSpanEvents(events: readonly SpanEvent[]): string {
  if (events.length === 0) return "";
  let out = "[";
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    if (i > 0) out += ",";
    out += `{"timeUnixNano":"${e.timeUnixNano}","name":${JSON.stringify(e.name)}${attributesJson(e.attributes, e.attributeTypes)}}`;
  }
  return out + "]";
}

/** The `links` column text of a span's links. */
export function encodeSpanLinks(links: readonly SpanLink[]): string {
  if (links.length === 0) return "";
  let out = "[";
  for (let i = 0; i < links.length; i++) {
    const l = links[i]!;
    if (i > 0) out += ",";
    out += `{"traceId":"${l.traceId}","spanId":"${l.spanId}"`;
    if (l.traceState !== "") out += `,"traceState":${JSON.stringify(l.traceState)}`;
    if (l.flags !== 0) out += `,"flags":${l.flags}`;
    out += `${attributesJson(l.attributes, l.attributeTypes)}}`;
  }
  return out + "]";
}

function attributesJson(attributes: Record<string, string>, types: AttributeTypes): string {
  let out = "";
  let first = true;
  for (const key in attributes) {
    out += `${first ? ',"attributes":{' : ","}${JSON.stringify(key)}:${JSON.stringify(attributes[key])}`;
    first = false;
  }
  if (!first) out += "}";
  first = true;
  for (const key in types) {
    out += `${first ? ',"attributeTypes":{' : ","}${JSON.stringify(key)}:"${types[key]}"`;
    first = false;
  }
  if (!first) out += "}";
  return out;
}

/** The events a column holds ([] for "" and for text that is not what encodeSpanEvents writes). */
export function decodeSpanEvents(text: string): SpanEvent[] {
  return parseList(text).map((o) => ({
    timeUnixNano: typeof o["timeUnixNano"] === "string" ? o["timeUnixNano"] : "0",
    name: typeof o["name"] === "string" ? o["name"] : "",
    ...attributesOf(o),
  }));
}

/** The links a column holds ([] for "" and for text that is not what encodeSpanLinks writes). */
export function decodeSpanLinks(text: string): SpanLink[] {
  return parseList(text).map((o) => ({
    traceId: typeof o["traceId"] === "string" ? o["traceId"] : "",
    spanId: typeof o["spanId"] === "string" ? o["spanId"] : "",
    traceState: typeof o["traceState"] === "string" ? o["traceState"] : "",
    flags: typeof o["flags"] === "number" ? o["flags"] : 0,
    ...attributesOf(o),
  }));
}

function parseList(text: string): Record<string, unknown>[] {
  if (text === "") return [];
  try {
    const parsed: unknown = JSON.parse(text);
    return Array.isArray(parsed) ? parsed.filter((o): o is Record<string, unknown> => typeof o === "object" && o !== null) : [];
  } catch {
    return [];
  }
}

function attributesOf(o: Record<string, unknown>): { attributes: Record<string, string>; attributeTypes: AttributeTypes } {
  const attributes: Record<string, string> = {};
  const attributeTypes: AttributeTypes = {};
  const a = o["attributes"];
  if (typeof a === "object" && a !== null) for (const [k, v] of Object.entries(a)) if (typeof v === "string") attributes[k] = v;
  const t = o["attributeTypes"];
  if (typeof t === "object" && t !== null) {
    for (const [k, v] of Object.entries(t)) if (typeof v === "string" && STORED_ATTRIBUTE_TYPES.has(v) && k in attributes) attributeTypes[k] = v as AttributeTypes[string];
  }
  return { attributes, attributeTypes };
}
