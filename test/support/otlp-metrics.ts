import { join } from "node:path";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import protobuf from "protobufjs";

// Decodes OTLP/HTTP metrics export bodies as an APM would: protobuf with the official .proto files
// (the metrics messages here, common and resource from the collector's copy), or OTLP/JSON.

const METRICS_PROTO_DIR = fileURLToPath(new URL("./proto/", import.meta.url));
const COLLECTOR_PROTO_DIR = fileURLToPath(new URL("../../collector/src/ingest/proto/", import.meta.url));

/** An attribute value as OTLP carries it, flattened. */
export type WireValue = string | number | boolean;

/** One data point of a histogram or a sum, normalized from either encoding. */
export interface WirePoint {
  readonly attributes: Record<string, WireValue>;
  /** Histograms: the count and sum; sums: `value`. */
  readonly count?: number;
  readonly sum?: number;
  readonly explicitBounds?: number[];
  readonly bucketCounts?: number[];
  readonly value?: number;
}

/** One metric of an export request. */
export interface WireMetric {
  readonly name: string;
  readonly unit: string;
  readonly kind: "histogram" | "sum" | "other";
  readonly points: WirePoint[];
}

/** One export request: the resource and every metric in it. */
export interface WireMetricsRequest {
  readonly resource: Record<string, WireValue>;
  readonly metrics: WireMetric[];
}

let requestType: protobuf.Type | undefined;

function exportMetricsServiceRequest(): protobuf.Type {
  if (requestType !== undefined) return requestType;
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => {
    if (!target.startsWith("opentelemetry/")) return target;
    const own = join(METRICS_PROTO_DIR, target);
    return existsSync(own) ? own : join(COLLECTOR_PROTO_DIR, target);
  };
  root.loadSync("opentelemetry/proto/collector/metrics/v1/metrics_service.proto", { keepCase: false });
  root.resolveAll();
  requestType = root.lookupType("opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest");
  return requestType;
}

interface RawKeyValue {
  key: string;
  value?: { stringValue?: string; intValue?: string | number; doubleValue?: number; boolValue?: boolean };
}
interface RawPoint {
  attributes?: RawKeyValue[];
  count?: string | number;
  sum?: number;
  explicitBounds?: number[];
  bucketCounts?: (string | number)[];
  asInt?: string | number;
  asDouble?: number;
}
interface RawMetric {
  name: string;
  unit?: string;
  histogram?: { dataPoints?: RawPoint[] };
  sum?: { dataPoints?: RawPoint[] };
}
interface RawRequest {
  resourceMetrics?: { resource?: { attributes?: RawKeyValue[] }; scopeMetrics?: { metrics?: RawMetric[] }[] }[];
}

function attributesOf(kvs: RawKeyValue[] | undefined): Record<string, WireValue> {
  const out: Record<string, WireValue> = {};
  for (const { key, value } of kvs ?? []) {
    if (value?.stringValue !== undefined) out[key] = value.stringValue;
    else if (value?.intValue !== undefined) out[key] = Number(value.intValue);
    else if (value?.doubleValue !== undefined) out[key] = value.doubleValue;
    else if (value?.boolValue !== undefined) out[key] = value.boolValue;
  }
  return out;
}

function metricOf(raw: RawMetric): WireMetric {
  if (raw.histogram !== undefined) {
    const points = (raw.histogram.dataPoints ?? []).map((p) => ({
      attributes: attributesOf(p.attributes),
      count: Number(p.count ?? 0),
      sum: p.sum ?? 0,
      explicitBounds: p.explicitBounds ?? [],
      bucketCounts: (p.bucketCounts ?? []).map(Number),
    }));
    return { name: raw.name, unit: raw.unit ?? "", kind: "histogram", points };
  }
  if (raw.sum !== undefined) {
    const points = (raw.sum.dataPoints ?? []).map((p) => ({ attributes: attributesOf(p.attributes), value: Number(p.asInt ?? p.asDouble ?? 0) }));
    return { name: raw.name, unit: raw.unit ?? "", kind: "sum", points };
  }
  return { name: raw.name, unit: raw.unit ?? "", kind: "other", points: [] };
}

/** Decodes one OTLP/HTTP metrics body (`application/x-protobuf` or `application/json`) into its requests, one per resource. */
export function decodeMetricsBody(body: Buffer, contentType: string): WireMetricsRequest[] {
  let raw: RawRequest;
  if (contentType.startsWith("application/x-protobuf")) {
    const type = exportMetricsServiceRequest();
    raw = type.toObject(type.decode(body), { longs: String, enums: Number, defaults: false }) as RawRequest;
  } else if (contentType.startsWith("application/json")) {
    raw = JSON.parse(body.toString("utf8")) as RawRequest;
  } else throw new Error(`unexpected content type ${contentType}`);
  return (raw.resourceMetrics ?? []).map((rm) => ({
    resource: attributesOf(rm.resource?.attributes),
    metrics: (rm.scopeMetrics ?? []).flatMap((sm) => (sm.metrics ?? []).map(metricOf)),
  }));
}
