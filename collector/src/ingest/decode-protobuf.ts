import { CollectorError } from "../errors.js";
import type { AttributeType } from "../store/attribute-types.js";
import { arrayType } from "./attribute-filter.js";
import type { IngestLimits } from "./ingest-limits.js";
import { otlpProtoTypes } from "./otlp-proto-root.js";
import { durationNs, type OtlpAttributeValue, type OtlpKeyValue, type OtlpResourceSpans, type OtlpSpan, type OtlpTraceRequest } from "./otlp-traces.js";

/** protobufjs' view of a decoded 64-bit integer (a Long) or a plain number. */
type Int64 = number | { low: number; high: number; unsigned: boolean };

interface PbAnyValue {
  value?: string;
  stringValue?: string;
  boolValue?: boolean;
  intValue?: Int64;
  doubleValue?: number;
  arrayValue?: { values: PbAnyValue[] } | null;
  kvlistValue?: { values: PbKeyValue[] } | null;
  bytesValue?: Uint8Array;
}
interface PbKeyValue {
  key: string;
  value: PbAnyValue | null;
}
interface PbLink {
  traceId: Uint8Array;
  spanId: Uint8Array;
  traceState: string;
  attributes: PbKeyValue[];
  flags: number;
}
interface PbSpan {
  traceId: Uint8Array;
  spanId: Uint8Array;
  traceState: string;
  parentSpanId: Uint8Array;
  flags: number;
  name: string;
  kind: number;
  startTimeUnixNano: Int64;
  endTimeUnixNano: Int64;
  attributes: PbKeyValue[];
  events: { timeUnixNano: Int64; name: string; attributes: PbKeyValue[] }[];
  links: PbLink[];
  status: { code: number } | null;
}
interface PbRequest {
  resourceSpans: { resource: { attributes: PbKeyValue[] } | null; scopeSpans: { scope: { name: string; version: string } | null; spans: PbSpan[] }[] }[];
}

/**
 * Decodes an `application/x-protobuf` ExportTraceServiceRequest with protobufjs and the official
 * OTLP definitions, then validates it: the reference the wire decoders are held to (attribute types,
 * events, links, scopes, tracestate and flags included). Throws CollectorError bad_request naming
 * the problem (truncated body, wrong span or link id length, nesting too deep...) and
 * payload_too_large past the span bound.
 */
export function decodeProtobufTraces(body: Buffer, limits: IngestLimits): OtlpTraceRequest {
  let message: PbRequest;
  try {
    message = otlpProtoTypes().ExportTraceServiceRequest.decode(body) as unknown as PbRequest;
  } catch (err) {
    if (err instanceof RangeError && /call stack/i.test(err.message)) {
      throw new CollectorError("bad_request", "protobuf body is nested too deeply");
    }
    throw new CollectorError("bad_request", `protobuf body is not a valid ExportTraceServiceRequest: ${(err as Error).message}`);
  }
  let spanCount = 0;
  for (const rs of message.resourceSpans) for (const ss of rs.scopeSpans) spanCount += ss.spans.length;
  if (spanCount > limits.maxSpansPerRequest) {
    throw new CollectorError(
      "payload_too_large",
      `request has ${spanCount} spans; at most ${limits.maxSpansPerRequest} are accepted per request (lower the exporter's maxExportBatchSize)`,
    );
  }
  const resourceSpans: OtlpResourceSpans[] = [];
  message.resourceSpans.forEach((rs, i) => {
    const spans: OtlpSpan[] = [];
    rs.scopeSpans.forEach((ss, j) => {
      const scope = { scopeName: ss.scope?.name ?? "", scopeVersion: ss.scope?.version ?? "" };
      ss.spans.forEach((s, k) => spans.push(convertSpan(s, `resourceSpans[${i}].scopeSpans[${j}].spans[${k}]`, limits, scope)));
    });
    resourceSpans.push({ resourceAttributes: convertAttributes(rs.resource?.attributes ?? [], `resourceSpans[${i}].resource.attributes`, limits), spans });
  });
  return { resourceSpans, spanCount };
}

function convertSpan(s: PbSpan, path: string, limits: IngestLimits, scope: Pick<OtlpSpan, "scopeName" | "scopeVersion">): OtlpSpan {
  const startTimeUnixNano = uint64String(s.startTimeUnixNano);
  const endTimeUnixNano = uint64String(s.endTimeUnixNano);
  return {
    traceId: idHex(s.traceId, 16, `${path}.traceId`),
    spanId: idHex(s.spanId, 8, `${path}.spanId`),
    parentSpanId: s.parentSpanId.length === 0 ? "" : idHex(s.parentSpanId, 8, `${path}.parentSpanId`),
    name: s.name,
    kind: s.kind,
    startTimeUnixNano,
    endTimeUnixNano,
    durationNs: durationNs(startTimeUnixNano, endTimeUnixNano),
    attributes: convertAttributes(s.attributes, `${path}.attributes`, limits),
    events: s.events.map((e, i) => ({
      timeUnixNano: uint64String(e.timeUnixNano),
      name: e.name,
      attributes: convertAttributes(e.attributes, `${path}.events[${i}].attributes`, limits),
    })),
    links: s.links.map((l, i) => ({
      traceId: idHex(l.traceId, 16, `${path}.links[${i}].traceId`),
      spanId: idHex(l.spanId, 8, `${path}.links[${i}].spanId`),
      traceState: l.traceState,
      flags: l.flags,
      attributes: convertAttributes(l.attributes, `${path}.links[${i}].attributes`, limits),
    })),
    statusCode: s.status?.code ?? 0,
    ...scope,
    traceState: s.traceState,
    flags: s.flags,
  };
}

function idHex(bytes: Uint8Array, length: number, path: string): string {
  if (bytes.length !== length) {
    throw new CollectorError("bad_request", `${path}: must be ${length} bytes; got ${bytes.length}`);
  }
  return Buffer.isBuffer(bytes) ? bytes.toString("hex") : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("hex");
}

function uint64String(v: Int64): string {
  if (typeof v === "number") return String(v);
  if (v.high === 0) return String(v.low >>> 0);
  return ((BigInt(v.high >>> 0) << 32n) | BigInt(v.low >>> 0)).toString();
}

function int64Value(v: Int64): number | string {
  if (typeof v === "number") return v;
  const hi = v.high | 0;
  // Exactly representable when the magnitude is below 2^53.
  if ((hi >= 0 && hi < 0x200000) || (hi < 0 && hi >= -0x200000 && !v.unsigned)) return hi * 4294967296 + (v.low >>> 0);
  return (BigInt.asIntN(64, (BigInt(v.high >>> 0) << 32n) | BigInt(v.low >>> 0))).toString();
}

function convertAttributes(list: PbKeyValue[], path: string, limits: IngestLimits): OtlpKeyValue[] {
  const out: OtlpKeyValue[] = new Array<OtlpKeyValue>(list.length);
  for (let i = 0; i < list.length; i++) {
    const kv = list[i] as PbKeyValue;
    const type = kv.value ? valueType(kv.value) : "other";
    const value = kv.value ? convertValue(kv.value, 1, path, limits) : null;
    out[i] = type === undefined || type === "other" ? { key: kv.key, value } : { key: kv.key, value, type };
  }
  return out;
}

/** The OTLP type of a value (attribute-types.ts): undefined for a string, "other" for what has none (empty, key-value list, mixed array). */
function valueType(v: PbAnyValue): AttributeType | "other" | undefined {
  switch (v.value) {
    case "stringValue":
      return undefined;
    case "boolValue":
      return "bool";
    case "intValue":
      return "int";
    case "doubleValue":
      return "double";
    case "bytesValue":
      return "bytes";
    case "arrayValue":
      return (
        arrayType(
          (v.arrayValue?.values ?? []).map((e) => {
            const t = valueType(e);
            return t === "string[]" || t === "bool[]" || t === "int[]" || t === "double[]" ? "other" : t;
          }),
        ) ?? "other"
      );
    default:
      return "other";
  }
}

function convertValue(v: PbAnyValue, depth: number, path: string, limits: IngestLimits): OtlpAttributeValue {
  switch (v.value) {
    case "stringValue":
      return v.stringValue as string;
    case "boolValue":
      return v.boolValue as boolean;
    case "intValue":
      return int64Value(v.intValue as Int64);
    case "doubleValue":
      return v.doubleValue as number;
    case "bytesValue": {
      const b = v.bytesValue as Uint8Array;
      return Buffer.from(b.buffer, b.byteOffset, b.length).toString("base64");
    }
    case "arrayValue":
    case "kvlistValue": {
      if (depth >= limits.maxAnyValueDepth) {
        throw new CollectorError("bad_request", `${path}: attribute value nested deeper than ${limits.maxAnyValueDepth} levels`);
      }
      if (v.value === "arrayValue") return (v.arrayValue?.values ?? []).map((x) => convertValue(x, depth + 1, path, limits));
      const obj = Object.create(null) as { [key: string]: OtlpAttributeValue };
      for (const kv of v.kvlistValue?.values ?? []) obj[kv.key] = kv.value ? convertValue(kv.value, depth + 1, path, limits) : null;
      return obj;
    }
    default:
      return null;
  }
}
