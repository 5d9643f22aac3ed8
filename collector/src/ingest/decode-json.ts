import { CollectorError } from "../errors.js";
import type { IngestLimits } from "./ingest-limits.js";
import type { AttributeType } from "../store/attribute-types.js";
import { arrayType } from "./attribute-filter.js";
import { durationNs, type OtlpAttributeValue, type OtlpEvent, type OtlpKeyValue, type OtlpLink, type OtlpResourceSpans, type OtlpSpan, type OtlpTraceRequest } from "./otlp-traces.js";

type Json = Record<string, unknown>;

const SPAN_KINDS: Record<string, number> = {
  SPAN_KIND_UNSPECIFIED: 0,
  SPAN_KIND_INTERNAL: 1,
  SPAN_KIND_SERVER: 2,
  SPAN_KIND_CLIENT: 3,
  SPAN_KIND_PRODUCER: 4,
  SPAN_KIND_CONSUMER: 5,
};
const STATUS_CODES: Record<string, number> = { STATUS_CODE_UNSET: 0, STATUS_CODE_OK: 1, STATUS_CODE_ERROR: 2 };
const HEX = /^[0-9a-fA-F]*$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const UINT64 = /^\d{1,20}$/;
const INT64 = /^-?\d{1,19}$/;
const UINT64_MAX = 18446744073709551615n;

/**
 * Decodes an OTLP/JSON ExportTraceServiceRequest (the protobuf JSON mapping: lowerCamelCase keys,
 * snake_case accepted too; hex ids, base64 ids where the length makes it unambiguous; int64 as
 * strings or numbers, exact either way; enums as numbers or names). Throws CollectorError
 * bad_request naming the path of the first problem, payload_too_large past the span bound.
 */
export function decodeJsonTraces(body: Buffer, limits: IngestLimits): OtlpTraceRequest {
  return decodeOtlpJson(body, (root) => decodeRoot(root, limits));
}

/** Whether field paths are built (only on the second pass over a request already found bad). */
let P = false;
/** Whether the body was parsed again with its long int64 literals quoted (see decodeOtlpJson). */
let EXACT = false;
/** Thrown by a decoder on an int64 number literal that JSON.parse rounded (past 2^53). */
const INEXACT = Symbol("inexact-int64");

/**
 * An int64 field's integer literal of 16 digits or more (past 2^53 is possible from 16 digits),
 * with its key. Only a key can match: inside a JSON string every quote is escaped, and the
 * lookbehind refuses an escaped one. Only a whole, valid JSON number matches (no leading zero, no
 * fraction or exponent after it), so quoting it never makes invalid JSON valid.
 */
const LONG_INT64_LITERAL =
  /(?<!\\)("(?:startTimeUnixNano|endTimeUnixNano|timeUnixNano|observedTimeUnixNano|intValue|start_time_unix_nano|end_time_unix_nano|time_unix_nano|observed_time_unix_nano|int_value)"\s*:\s*)(-?[1-9]\d{15,})(?=\s*[,}\]])/g;

/**
 * Parses an OTLP/JSON body and runs `decode` over it (through withFieldPaths), with int64 values
 * exact whether sent as strings or as number literals. JSON.parse rounds literals past 2^53 (Node
 * 20 gives no access to the source text), so when a decoder meets such a number the body is parsed
 * once more with those literals quoted: the common body (int64 as strings, as the OTel exporters
 * send them, or small numbers) is parsed once and never scanned. Throws CollectorError bad_request
 * on invalid JSON.
 */
export function decodeOtlpJson<T>(body: Buffer, decode: (root: unknown) => T): T {
  const text = body.toString("utf8");
  const root = parseJson(text);
  try {
    return withFieldPaths(() => decode(root));
  } catch (err) {
    if (err !== INEXACT) throw err;
  }
  const exactRoot = parseJson(text.replace(LONG_INT64_LITERAL, '$1"$2"'));
  EXACT = true;
  try {
    return withFieldPaths(() => decode(exactRoot));
  } finally {
    EXACT = false;
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new CollectorError("bad_request", `body is not valid JSON: ${(err as Error).message}`);
  }
}

/**
 * Runs a decoder over parsed OTLP/JSON without building field paths (the fast pass) and, when it
 * finds the input bad, once more with paths, so the error names the field. Other errors pass as they are.
 */
export function withFieldPaths<T>(decode: () => T): T {
  try {
    return decode();
  } catch (err) {
    if (!(err instanceof CollectorError) || err.code !== "bad_request") throw err;
    P = true;
    try {
      return decode();
    } finally {
      P = false;
    }
  }
}

/** True during the second pass of `withFieldPaths`: decoders then build the paths they name in errors. */
export function buildingFieldPaths(): boolean {
  return P;
}

function decodeRoot(root: unknown, limits: IngestLimits): OtlpTraceRequest {
  const req = object(root, "body");
  const rsList = optionalArray(field(req, "resourceSpans", "resource_spans"), "resourceSpans");
  let spanCount = 0;
  for (const rs of rsList) {
    if (!isObject(rs)) continue;
    const ssList = field(rs, "scopeSpans", "scope_spans");
    if (!Array.isArray(ssList)) continue;
    for (const ss of ssList) {
      const spans = isObject(ss) ? ss["spans"] : undefined;
      if (Array.isArray(spans)) spanCount += spans.length;
    }
  }
  if (spanCount > limits.maxSpansPerRequest) {
    throw new CollectorError(
      "payload_too_large",
      `request has ${spanCount} spans; at most ${limits.maxSpansPerRequest} are accepted per request (lower the exporter's maxExportBatchSize)`,
    );
  }
  const resourceSpans: OtlpResourceSpans[] = rsList.map((rsRaw, i) => {
    const path = P ? `resourceSpans[${i}]` : "";
    const rs = object(rsRaw, path);
    const resourceRaw = rs["resource"];
    const resource = resourceRaw === undefined || resourceRaw === null ? {} : object(resourceRaw, (P ? `${path}.resource` : ""));
    const spans: OtlpSpan[] = [];
    optionalArray(field(rs, "scopeSpans", "scope_spans"), (P ? `${path}.scopeSpans` : "")).forEach((ssRaw, j) => {
      const ss = object(ssRaw, (P ? `${path}.scopeSpans[${j}]` : ""));
      const scopeRaw = ss["scope"];
      const scope = scopeRaw === undefined || scopeRaw === null ? {} : object(scopeRaw, P ? `${path}.scopeSpans[${j}].scope` : "");
      const scopeName = optionalString(scope["name"], P ? `${path}.scopeSpans[${j}].scope.name` : "");
      const scopeVersion = optionalString(scope["version"], P ? `${path}.scopeSpans[${j}].scope.version` : "");
      optionalArray(ss["spans"], (P ? `${path}.scopeSpans[${j}].spans` : "")).forEach((spanRaw, k) => {
        spans.push(decodeSpan(spanRaw, (P ? `${path}.scopeSpans[${j}].spans[${k}]` : ""), limits, scopeName, scopeVersion));
      });
    });
    return { resourceAttributes: attributes(resource["attributes"], (P ? `${path}.resource.attributes` : ""), limits), spans };
  });
  return { resourceSpans, spanCount };
}

function decodeSpan(raw: unknown, path: string, limits: IngestLimits, scopeName: string, scopeVersion: string): OtlpSpan {
  const s = object(raw, path);
  const parent = field(s, "parentSpanId", "parent_span_id");
  const status = s["status"];
  const startTimeUnixNano = uint64(field(s, "startTimeUnixNano", "start_time_unix_nano"), (P ? `${path}.startTimeUnixNano` : ""));
  const endTimeUnixNano = uint64(field(s, "endTimeUnixNano", "end_time_unix_nano"), (P ? `${path}.endTimeUnixNano` : ""));
  const events: OtlpEvent[] = optionalArray(s["events"], (P ? `${path}.events` : "")).map((eRaw, i) => {
    const e = object(eRaw, (P ? `${path}.events[${i}]` : ""));
    return {
      timeUnixNano: uint64(field(e, "timeUnixNano", "time_unix_nano"), P ? `${path}.events[${i}].timeUnixNano` : ""),
      name: optionalString(e["name"], (P ? `${path}.events[${i}].name` : "")),
      attributes: attributes(e["attributes"], (P ? `${path}.events[${i}].attributes` : ""), limits),
    };
  });
  const links: OtlpLink[] = optionalArray(s["links"], P ? `${path}.links` : "").map((lRaw, i) => {
    const l = object(lRaw, P ? `${path}.links[${i}]` : "");
    return {
      traceId: id(field(l, "traceId", "trace_id"), 16, P ? `${path}.links[${i}].traceId` : ""),
      spanId: id(field(l, "spanId", "span_id"), 8, P ? `${path}.links[${i}].spanId` : ""),
      traceState: optionalString(field(l, "traceState", "trace_state"), P ? `${path}.links[${i}].traceState` : ""),
      flags: fixed32(l["flags"], P ? `${path}.links[${i}].flags` : ""),
      attributes: attributes(l["attributes"], P ? `${path}.links[${i}].attributes` : "", limits),
    };
  });
  return {
    traceId: id(field(s, "traceId", "trace_id"), 16, (P ? `${path}.traceId` : "")),
    spanId: id(field(s, "spanId", "span_id"), 8, (P ? `${path}.spanId` : "")),
    parentSpanId: parent === undefined || parent === null || parent === "" ? "" : id(parent, 8, (P ? `${path}.parentSpanId` : "")),
    name: optionalString(s["name"], (P ? `${path}.name` : "")),
    kind: enumValue(s["kind"], SPAN_KINDS, 5, (P ? `${path}.kind` : "")),
    startTimeUnixNano,
    endTimeUnixNano,
    durationNs: durationNs(startTimeUnixNano, endTimeUnixNano),
    attributes: attributes(s["attributes"], (P ? `${path}.attributes` : ""), limits),
    events,
    links,
    statusCode: status === undefined || status === null ? 0 : enumValue(object(status, (P ? `${path}.status` : ""))["code"], STATUS_CODES, 2, (P ? `${path}.status.code` : "")),
    scopeName,
    scopeVersion,
    traceState: optionalString(field(s, "traceState", "trace_state"), P ? `${path}.traceState` : ""),
    flags: fixed32(s["flags"], P ? `${path}.flags` : ""),
  };
}

/** A fixed32 field (span and link flags): a JSON number 0..2^32-1; absent is 0. */
function fixed32(v: unknown, path: string): number {
  if (v === undefined || v === null) return 0;
  if (typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= 0xffffffff) return v;
  throw new CollectorError("bad_request", `${path}: expected an unsigned 32-bit integer; got ${JSON.stringify(v)?.slice(0, 64) ?? typeName(v)}`);
}

function field(o: Json, camel: string, snake: string): unknown {
  const v = o[camel];
  return v === undefined ? o[snake] : v;
}

function isObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function typeName(v: unknown): string {
  return v === null ? "null" : Array.isArray(v) ? "array" : typeof v;
}

function object(v: unknown, path: string): Json {
  if (!isObject(v)) throw new CollectorError("bad_request", `${path}: expected an object; got ${typeName(v)}`);
  return v;
}

function optionalArray(v: unknown, path: string): unknown[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new CollectorError("bad_request", `${path}: expected an array; got ${typeName(v)}`);
  return v;
}

function optionalString(v: unknown, path: string): string {
  if (v === undefined || v === null) return "";
  if (typeof v !== "string") throw new CollectorError("bad_request", `${path}: expected a string; got ${typeName(v)}`);
  return v;
}

/** An id as hex (the OTLP/JSON encoding) or, when its length can only be base64, as base64. */
function id(v: unknown, bytes: number, path: string): string {
  if (typeof v !== "string") throw new CollectorError("bad_request", `${path}: expected a hex string; got ${typeName(v)}`);
  if (v.length === bytes * 2 && HEX.test(v)) return v.toLowerCase();
  const base64Length = Math.ceil(bytes / 3) * 4;
  if (v.length === base64Length && BASE64.test(v)) {
    const decoded = Buffer.from(v, "base64");
    if (decoded.length === bytes) return decoded.toString("hex");
  }
  throw new CollectorError("bad_request", `${path}: expected ${bytes * 2} hex characters; got ${JSON.stringify(v.slice(0, 64))}`);
}

function uint64(v: unknown, path: string): string {
  if (v === undefined || v === null) return "0";
  if (typeof v === "number") {
    if (Number.isSafeInteger(v) && v >= 0) return String(v);
    // Past 2^53: a rounded integer literal (parse again, exact), or in the exact pass a number
    // written with a fraction or exponent, taken as the double it is.
    if (Number.isInteger(v) && v > 0 && v < 2 ** 64) {
      if (!EXACT) throw INEXACT;
      return BigInt(v).toString();
    }
  } else if (typeof v === "string" && UINT64.test(v)) {
    // Up to 19 digits always fits; canonical (no leading zero) strings are kept as sent.
    if (v.length < 20 && (v.length === 1 || v.charCodeAt(0) !== 48)) return v;
    if (BigInt(v) <= UINT64_MAX) return BigInt(v).toString();
  }
  throw new CollectorError("bad_request", `${path}: expected an unsigned 64-bit integer (string or number); got ${JSON.stringify(v)?.slice(0, 64) ?? typeName(v)}`);
}

function enumValue(v: unknown, names: Record<string, number>, max: number, path: string): number {
  if (v === undefined || v === null) return 0;
  if (typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= max) return v;
  if (typeof v === "string" && Object.hasOwn(names, v)) return names[v] as number;
  throw new CollectorError("bad_request", `${path}: expected an integer 0-${max} or an enum name; got ${JSON.stringify(v)?.slice(0, 64) ?? typeName(v)}`);
}

function attributes(v: unknown, path: string, limits: IngestLimits): OtlpKeyValue[] {
  const list = optionalArray(v, path);
  const out: OtlpKeyValue[] = new Array<OtlpKeyValue>(list.length);
  for (let i = 0; i < list.length; i++) out[i] = keyValue(list[i], (P ? `${path}[${i}]` : ""), 1, limits);
  return out;
}

function keyValue(raw: unknown, path: string, depth: number, limits: IngestLimits): OtlpKeyValue {
  const kv = object(raw, path);
  const key = kv["key"];
  if (typeof key !== "string") throw new CollectorError("bad_request", `${path}.key: expected a string; got ${typeName(key)}`);
  const value = kv["value"];
  if (value === undefined || value === null) return { key, value: null };
  const decoded = anyValue(value, (P ? `${path}.value` : ""), depth, limits);
  return TYPE === undefined || TYPE === "other" ? { key, value: decoded } : { key, value: decoded, type: TYPE };
}

/** The OTLP type of the value anyValue last returned (undefined: a string; "other": empty, key-value list, mixed array). */
let TYPE: AttributeType | "other" | undefined;

function anyValue(raw: unknown, path: string, depth: number, limits: IngestLimits): OtlpAttributeValue {
  const v = object(raw, path);
  // Unknown fields are ignored (OTLP/JSON receivers must ignore them); the first known field set wins.
  let x: unknown;
  TYPE = undefined;
  if ((x = field(v, "stringValue", "string_value")) != null) {
    if (typeof x === "string") return x;
    return wrongType(path, "stringValue", x);
  }
  if ((x = field(v, "intValue", "int_value")) != null) {
    TYPE = "int";
    if (typeof x === "number" && Number.isInteger(x)) {
      if (Number.isSafeInteger(x) || EXACT) return x;
      throw INEXACT;
    }
    if (typeof x === "string" && INT64.test(x)) {
      const n = Number(x);
      return Number.isSafeInteger(n) ? n : BigInt.asIntN(64, BigInt(x)).toString();
    }
    if (typeof x === "string" && /^-?\d+$/.test(x)) throw new CollectorError("bad_request", `${path}.intValue: ${x.slice(0, 64)} is not a 64-bit integer`);
    return wrongType(path, "intValue", x);
  }
  if ((x = field(v, "boolValue", "bool_value")) != null) {
    TYPE = "bool";
    if (typeof x === "boolean") return x;
    return wrongType(path, "boolValue", x);
  }
  if ((x = field(v, "doubleValue", "double_value")) != null) {
    TYPE = "double";
    if (typeof x === "number") return x;
    if (x === "NaN" || x === "Infinity" || x === "-Infinity") return x;
    return wrongType(path, "doubleValue", x);
  }
  const array = field(v, "arrayValue", "array_value");
  const kvlist = array == null ? field(v, "kvlistValue", "kvlist_value") : undefined;
  if (array != null || kvlist != null) {
    const k = array != null ? "arrayValue" : "kvlistValue";
    if (depth >= limits.maxAnyValueDepth) {
      throw new CollectorError("bad_request", `${path}: attribute value nested deeper than ${limits.maxAnyValueDepth} levels`);
    }
    const values = optionalArray(object(array ?? kvlist, P ? `${path}.${k}` : "")["values"], P ? `${path}.${k}.values` : "");
    if (array != null) {
      const elementTypes: (AttributeType | "other" | undefined)[] = [];
      const elements = values.map((e, i) => {
        const element = anyValue(e, P ? `${path}.${k}.values[${i}]` : "", depth + 1, limits);
        elementTypes.push(TYPE !== undefined && TYPE.endsWith("]") ? "other" : TYPE);
        return element;
      });
      TYPE = arrayType(elementTypes) ?? "other";
      return elements;
    }
    const obj = Object.create(null) as { [key: string]: OtlpAttributeValue };
    values.forEach((e, i) => {
      const entry = keyValue(e, P ? `${path}.${k}.values[${i}]` : "", depth + 1, limits);
      obj[entry.key] = entry.value;
    });
    TYPE = "other";
    return obj;
  }
  if ((x = field(v, "bytesValue", "bytes_value")) != null) {
    TYPE = "bytes";
    if (typeof x === "string" && BASE64.test(x)) return x;
    return wrongType(path, "bytesValue", x);
  }
  TYPE = "other";
  return null;
}

function wrongType(path: string, key: string, x: unknown): never {
  throw new CollectorError("bad_request", `${path}.${key}: wrong type ${typeName(x)}`);
}

// The OTLP/JSON primitives, for the logs decoder (decode-json-logs.ts): each throws CollectorError
// bad_request naming `path` (build paths only when `buildingFieldPaths()`).
export {
  attributes as jsonAttributes,
  field as jsonField,
  isObject as isJsonObject,
  object as jsonObject,
  optionalArray as jsonOptionalArray,
  optionalString as jsonOptionalString,
  typeName as jsonTypeName,
  uint64 as jsonUint64,
};
