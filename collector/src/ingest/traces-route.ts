import { Hono } from "hono";
import { EVENT_ATTRIBUTE_ALLOW_LIST, RESOURCE_ATTRIBUTE_ALLOW_LIST, SPAN_ATTRIBUTE_ALLOW_LIST } from "@troupe/runtime";
import { CollectorError } from "../errors.js";
import { requirePrincipal, type AuthVariables } from "../http/auth.js";
import { isProtobufMediaType, otlpErrorResponse, requestMediaType } from "../http/otlp-error-response.js";
import type { CollectorMetrics } from "../metrics/collector-metrics.js";
import type { SpanSink } from "../pipeline/ingest-pipeline.js";
import type { KeyAuthenticator } from "../tenants/principal.js";
import { decodeJsonTraces } from "./decode-json.js";
import { decodeProtobufTracesWire, type AttributeAllowLists } from "./decode-protobuf-wire.js";
import { exportResponseJson, exportResponseProtobuf, type PartialSuccess } from "./export-response.js";
import { DEFAULT_INGEST_LIMITS, type IngestLimits } from "./ingest-limits.js";
import { decodeJsonSpanBlock, releaseJsonSpanBlock } from "./json-span-block.js";
import { KeyRateLimiter, type KeyRateLimit } from "./key-rate-limiter.js";
import type { OtlpTraceRequest } from "./otlp-traces.js";
import { RequestAbortedError, readBody } from "./read-body.js";
import { decodeProtobufSpanBlock, releaseSpanBlock } from "./protobuf-span-block.js";
import { buildSpanRows, type SpanRowsResult } from "./span-rows.js";

const ALLOW: AttributeAllowLists = { span: SPAN_ATTRIBUTE_ALLOW_LIST, resource: RESOURCE_ATTRIBUTE_ALLOW_LIST, event: EVENT_ATTRIBUTE_ALLOW_LIST };

/** What the OTLP traces route needs. */
export interface TracesRouteDeps {
  authenticator: KeyAuthenticator;
  sink: SpanSink;
  metrics: CollectorMetrics;
  limits?: Partial<IngestLimits>;
  /** Per-key span rate; past it a key gets 429 with Retry-After. Unset: no per-key limit. */
  rateLimit?: KeyRateLimit;
}

/**
 * `POST /v1/traces`: OTLP/HTTP trace export, JSON or protobuf, optionally gzip. Answers 200 with an
 * ExportTraceServiceResponse in the request's encoding (partial success naming why spans were
 * rejected) only after the accepted spans are durable; malformed bodies 400, oversized 413, other
 * media types 415, a key over its rate 429 and a full spool 503, both with Retry-After. Errors
 * (the key's 401/403 included) are answered as a google.rpc.Status in the request's encoding
 * (otlpErrorResponse).
 */
export function createTracesRoute(deps: TracesRouteDeps): Hono<{ Variables: AuthVariables }> {
  const limits: IngestLimits = { ...DEFAULT_INGEST_LIMITS, ...deps.limits };
  const { metrics } = deps;
  const limiter = deps.rateLimit
    ? new KeyRateLimiter({ spansPerSecond: deps.rateLimit.spansPerSecond, burstSpans: Math.max(deps.rateLimit.burstSpans, limits.maxSpansPerRequest) })
    : undefined;
  const route = new Hono<{ Variables: AuthVariables }>();
  // Every error here, the key's included, is answered as OTLP/HTTP says: a google.rpc.Status.
  route.onError((err, c) => otlpErrorResponse(c, err));
  route.post("/v1/traces", async (c, next) => {
    await next();
    // Hono hands a thrown error to the route's onError and records it on the context.
    const err = c.error;
    metrics.requests.inc([err === undefined ? "ok" : err instanceof CollectorError ? err.code : err instanceof RequestAbortedError ? "aborted" : "internal"]);
  });
  route.post("/v1/traces", requirePrincipal(deps.authenticator, ["tenant-ingest", "service-ingest"]), async (c) => {
    const contentType = requestMediaType(c);
    const protobuf = isProtobufMediaType(contentType);
    if (!protobuf && contentType !== "application/json") {
      throw new CollectorError("unsupported_media_type", `Content-Type ${JSON.stringify(contentType.slice(0, 60))} is not supported; send application/json or application/x-protobuf`);
    }
    const { bytes: body, release } = await readBody(c.req.raw, limits.maxBodyBytes);
    // Nothing built from the body refers to its bytes (decoders copy what they keep): the buffer is reused after.
    try {
      const principal = c.get("principal");
      // The common request goes straight into a span block; the rest through rows.
      const direct = !deps.sink.acceptBlock ? undefined : protobuf ? decodeProtobufSpanBlock(body, principal, limits) : decodeJsonSpanBlock(body, principal, limits);
      const decodeGeneral = (): OtlpTraceRequest => (protobuf ? decodeProtobufTracesWire(body, limits, ALLOW) : decodeJsonTraces(body, limits));
      const request = direct ? undefined : decodeGeneral();
      const decision = limiter?.take(principal.keyId, direct?.spanCount ?? request!.spanCount);
      if (decision && !decision.ok) {
        throw new CollectorError("rate_limited", `this key is over its ingest rate of ${deps.rateLimit?.spansPerSecond} spans/s; retry later`, {
          retryAfterS: decision.retryAfterS,
        });
      }
      let result: IngestOutcome;
      let acceptedDirect = false;
      try {
        acceptedDirect = direct !== undefined && (await deps.sink.acceptBlock!(direct.builder));
      } finally {
        if (direct) (protobuf ? releaseSpanBlock : releaseJsonSpanBlock)(direct);
      }
      if (direct && acceptedDirect) {
        result = { rejected: new Map(), rejectExamples: new Map(), droppedAttributes: direct.droppedAttributes, truncatedAttributes: direct.truncatedAttributes };
        metrics.spansDecoded.inc(["direct"], direct.spanCount);
      } else {
        const rows = buildSpanRows(request ?? decodeGeneral(), principal, limits);
        await deps.sink.accept(rows.rows);
        result = rows;
        metrics.spansDecoded.inc(["general"], rows.rows.length);
      }
      record(metrics, result);
      const partial = partialSuccess(result);
      if (protobuf) {
        return c.body(exportResponseProtobuf(partial) as Uint8Array<ArrayBuffer>, 200, { "content-type": "application/x-protobuf" });
      }
      return c.body(exportResponseJson(partial), 200, { "content-type": "application/json" });
    } finally {
      release();
    }
  });
  return route;
}

/** What a request's spans came to, for metrics and the answer. */
type IngestOutcome = Omit<SpanRowsResult, "rows">;

function record(metrics: CollectorMetrics, result: IngestOutcome): void {
  for (const [reason, count] of result.rejected) metrics.spansRejected.inc([reason], count);
  metrics.attributesDropped.inc(["span"], result.droppedAttributes.span);
  metrics.attributesDropped.inc(["resource"], result.droppedAttributes.resource);
  metrics.attributesDropped.inc(["event"], result.droppedAttributes.event);
  metrics.attributesDropped.inc(["link"], result.droppedAttributes.link);
  metrics.attributesTruncated.inc([], result.truncatedAttributes);
}

function partialSuccess(result: IngestOutcome): PartialSuccess | undefined {
  let rejectedSpans = 0;
  const parts: string[] = [];
  for (const [reason, count] of result.rejected) {
    rejectedSpans += count;
    parts.push(`${count} ${reason} (${result.rejectExamples.get(reason) ?? reason})`);
  }
  if (rejectedSpans === 0) return undefined;
  return { rejectedSpans, errorMessage: `${rejectedSpans} span(s) rejected: ${parts.join("; ")}` };
}
