import { Hono } from "hono";
import { CollectorError } from "../errors.js";
import { requirePrincipal, type AuthVariables } from "../http/auth.js";
import { otlpErrorResponse, requestMediaType } from "../http/otlp-error-response.js";
import type { CollectorMetrics } from "../metrics/collector-metrics.js";
import type { SpanSink } from "../pipeline/ingest-pipeline.js";
import type { KeyAuthenticator } from "../tenants/principal.js";
import { otlpFormatOf } from "./export-request.js";
import { exportResponseJson, exportResponseProtobuf } from "./export-response.js";
import { rejectionSummary } from "./ingest-outcome.js";
import { DEFAULT_INGEST_LIMITS, type IngestLimits } from "./ingest-limits.js";
import type { KeyRateLimit } from "./key-rate-limiter.js";
import { RequestAbortedError, readBody } from "./read-body.js";
import { TraceIngest } from "./trace-ingest.js";

/** The route's path; its body is read with readBody, so the server may read it from the socket. */
export const TRACES_PATH = "/v1/traces";

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
 * `POST /v1/traces`: OTLP/HTTP trace export, JSON or protobuf, optionally gzip, served by
 * TraceIngest. Answers 200 with an ExportTraceServiceResponse in the request's encoding (partial
 * success naming why spans were rejected) only after the accepted spans are durable; malformed
 * bodies 400, oversized 413, other media types 415, a key over its rate 429 and a full spool 503,
 * both with Retry-After. Errors (the key's 401/403 included) are answered as a google.rpc.Status in
 * the request's encoding (otlpErrorResponse).
 */
export function createTracesRoute(deps: TracesRouteDeps): Hono<{ Variables: AuthVariables }> {
  const maxBodyBytes = { ...DEFAULT_INGEST_LIMITS, ...deps.limits }.maxBodyBytes;
  const { metrics } = deps;
  const ingest = new TraceIngest({ sink: deps.sink, metrics, ...(deps.limits ? { limits: deps.limits } : {}), ...(deps.rateLimit ? { rateLimit: deps.rateLimit } : {}) });
  const route = new Hono<{ Variables: AuthVariables }>();
  // Every error here, the key's included, is answered as OTLP/HTTP says: a google.rpc.Status.
  route.onError((err, c) => otlpErrorResponse(c, err));
  route.post(TRACES_PATH, async (c, next) => {
    await next();
    // Hono hands a thrown error to the route's onError and records it on the context.
    const err = c.error;
    metrics.requests.inc([err === undefined ? "ok" : err instanceof CollectorError ? err.code : err instanceof RequestAbortedError ? "aborted" : "internal"]);
  });
  route.post(TRACES_PATH, requirePrincipal(deps.authenticator, ["tenant-ingest", "service-ingest"]), async (c) => {
    const format = otlpFormatOf(requestMediaType(c));
    const body = await readBody(c.req.raw, maxBodyBytes);
    const outcome = await ingest.ingest({ principal: c.get("principal"), format, body });
    if (outcome.kind === "refused") throw outcome.error;
    const summary = rejectionSummary(outcome, "span(s)");
    const partial = summary && { rejectedSpans: summary.rejected, errorMessage: summary.message };
    if (format === "protobuf") {
      return c.body(exportResponseProtobuf(partial) as Uint8Array<ArrayBuffer>, 200, { "content-type": "application/x-protobuf" });
    }
    return c.body(exportResponseJson(partial), 200, { "content-type": "application/json" });
  });
  return route;
}
