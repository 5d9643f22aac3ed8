// A local OTLP/HTTP traces receiver for tests: decodes each request with the official OTLP proto
// definitions (protobuf) or as OTLP/JSON, records it, and answers what the test asks.
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { gunzipSync } from "node:zlib";
import { otlpProtoTypes } from "../ingest/otlp-proto-root.js";
import { plainSpanFields, type SpanRow } from "../store/span-row.js";

/** One request as received. */
export interface ReceivedRequest {
  atMs: number;
  headers: IncomingHttpHeaders;
  /** The ExportTraceServiceRequest in the OTLP/JSON mapping (ids hex, int64 as strings) whichever way it came. */
  request: OtlpJsonRequest;
  spanCount: number;
}

/** The parts of an OTLP/JSON ExportTraceServiceRequest tests read. */
export interface OtlpJsonRequest {
  resourceSpans: {
    resource?: { attributes?: OtlpJsonKeyValue[] };
    scopeSpans: { scope?: { name?: string; version?: string }; spans: Record<string, unknown>[] }[];
  }[];
}

export interface OtlpJsonKeyValue {
  key: string;
  value: Record<string, unknown>;
}

/** What the receiver answers: a status, headers and a body (default 200, empty). */
export interface ReceiverAnswer {
  status?: number;
  headers?: Record<string, string>;
  body?: Uint8Array | string;
}

/** A running receiver. */
export interface OtlpReceiver {
  /** Base URL (the forwarder appends /v1/traces). */
  url: string;
  requests: ReceivedRequest[];
  spans(): number;
  /** Connections accepted so far. */
  connections(): number;
  close(): Promise<void>;
}

/**
 * Starts a receiver on loopback. `answer(request, index)` decides each answer (it may never settle:
 * a hung APM); requests are recorded whatever the answer.
 */
export async function startOtlpReceiver(answer: (request: ReceivedRequest, index: number) => ReceiverAnswer | Promise<ReceiverAnswer> = () => ({})): Promise<OtlpReceiver> {
  const requests: ReceivedRequest[] = [];
  let connections = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      let body = Buffer.concat(chunks);
      if (req.headers["content-encoding"] === "gzip") body = gunzipSync(body);
      const request = decodeTraceRequest(body, String(req.headers["content-type"]));
      const received: ReceivedRequest = { atMs: Date.now(), headers: req.headers, request, spanCount: countSpans(request) };
      requests.push(received);
      void Promise.resolve(answer(received, requests.length - 1)).then(
        (a) => {
          if (!res.destroyed) res.writeHead(a.status ?? 200, a.headers).end(a.body);
        },
        () => res.destroy(),
      );
    });
  });
  server.on("connection", () => connections++);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    spans: () => requests.reduce((n, r) => n + r.spanCount, 0),
    connections: () => connections,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** An ExportTraceServiceRequest body (protobuf, read with the official definitions, or OTLP/JSON) in the OTLP/JSON mapping. */
export function decodeTraceRequest(body: Buffer, contentType: string): OtlpJsonRequest {
  if (contentType.startsWith("application/json")) return JSON.parse(body.toString("utf8")) as OtlpJsonRequest;
  const type = otlpProtoTypes().ExportTraceServiceRequest;
  return hexIds(type.toObject(type.decode(body), { longs: String, enums: Number, bytes: String })) as OtlpJsonRequest;
}

function countSpans(request: OtlpJsonRequest): number {
  let n = 0;
  for (const rs of request.resourceSpans ?? []) for (const ss of rs.scopeSpans ?? []) n += ss.spans?.length ?? 0;
  return n;
}

/** Base64 ids (protobufjs's bytes) → hex, as OTLP/JSON writes them. */
function hexIds(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(hexIds);
  if (typeof value !== "object" || value === null) return value;
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [k, ["traceId", "spanId", "parentSpanId"].includes(k) && typeof v === "string" ? Buffer.from(v, "base64").toString("hex") : hexIds(v)]),
  );
}

/** `n` spans as stored rows of `tenantId`, numbered from `from` (span ids are the numbers in hex). */
export function storedSpans(n: number, tenantId = "acme", from = 1): SpanRow[] {
  return Array.from({ length: n }, (_, i) => ({
    tenantId,
    traceId: "ab".repeat(16),
    spanId: (from + i).toString(16).padStart(16, "0"),
    parentSpanId: "",
    name: `s${from + i}`,
    kind: 2,
    startTimeUnixNano: "1796570141123456789",
    durationNs: 1000,
    statusCode: 1,
    serviceName: "svc",
    attributes: { "gen_ai.request.model": "m", "gen_ai.usage.input_tokens": "12" },
    resourceAttributes: { "service.name": "svc" },
    ...plainSpanFields(),
    attributeTypes: { "gen_ai.usage.input_tokens": "int" },
  }));
}
