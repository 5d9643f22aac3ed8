// A local OTLP/HTTP traces receiver, decoding what it gets as an APM would: protobuf with the
// official .proto files (the collector's copy), or OTLP/JSON; gzip or not.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import protobuf from "protobufjs";

const PROTO_DIR = fileURLToPath(new URL("../../collector/src/ingest/proto/", import.meta.url));

/** A KeyValue in the OTLP/JSON mapping. */
export interface WireKeyValue {
  key: string;
  value: Record<string, unknown>;
}

/** One span as received, with the resource and scope it came under (OTLP/JSON mapping: ids hex, int64 as strings or numbers as sent). */
export interface ReceivedSpan {
  resource: WireKeyValue[];
  scope: { name?: string; version?: string };
  span: Record<string, unknown> & { spanId: string };
}

/** A running receiver. */
export interface TraceReceiver {
  /** The traces URL (…/v1/traces). */
  url: string;
  spans: ReceivedSpan[];
  /** Content-Type and Content-Encoding of each request. */
  requests: { contentType: string; contentEncoding: string | undefined }[];
  close(): Promise<void>;
}

let requestType: protobuf.Type | undefined;

function exportTraceServiceRequest(): protobuf.Type {
  if (requestType !== undefined) return requestType;
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => (target.startsWith("opentelemetry/") ? join(PROTO_DIR, target) : target);
  root.loadSync("opentelemetry/proto/collector/trace/v1/trace_service.proto", { keepCase: false });
  root.resolveAll();
  requestType = root.lookupType("opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest");
  return requestType;
}

interface WireRequest {
  resourceSpans?: { resource?: { attributes?: WireKeyValue[] }; scopeSpans?: { scope?: { name?: string; version?: string }; spans?: ReceivedSpan["span"][] }[] }[];
}

/** The spans of an ExportTraceServiceRequest body of this Content-Type. */
export function decodeTraceExport(body: Buffer, contentType: string): ReceivedSpan[] {
  let request: WireRequest;
  if (contentType.startsWith("application/json")) request = JSON.parse(body.toString("utf8")) as WireRequest;
  else {
    const type = exportTraceServiceRequest();
    request = hexIds(type.toObject(type.decode(body), { longs: String, enums: Number, bytes: String })) as WireRequest;
  }
  const spans: ReceivedSpan[] = [];
  for (const rs of request.resourceSpans ?? []) {
    for (const ss of rs.scopeSpans ?? []) {
      for (const span of ss.spans ?? []) spans.push({ resource: rs.resource?.attributes ?? [], scope: ss.scope ?? {}, span });
    }
  }
  return spans;
}

/** protobufjs gives bytes as base64; OTLP/JSON writes trace and span ids as hex. */
function hexIds(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(hexIds);
  if (typeof value !== "object" || value === null) return value;
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [k, ["traceId", "spanId", "parentSpanId"].includes(k) && typeof v === "string" ? Buffer.from(v, "base64").toString("hex") : hexIds(v)]),
  );
}

/** Starts a receiver on loopback that answers every export 200 (an empty ExportTraceServiceResponse). */
export async function startTraceReceiver(): Promise<TraceReceiver> {
  const spans: ReceivedSpan[] = [];
  const requests: TraceReceiver["requests"] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const contentType = String(req.headers["content-type"]);
      const contentEncoding = req.headers["content-encoding"];
      requests.push({ contentType, contentEncoding });
      const raw = Buffer.concat(chunks);
      spans.push(...decodeTraceExport(contentEncoding === "gzip" ? gunzipSync(raw) : raw, contentType));
      if (contentType.startsWith("application/json")) res.writeHead(200, { "content-type": "application/json" }).end("{}");
      else res.writeHead(200, { "content-type": "application/x-protobuf" }).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`,
    spans,
    requests,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
