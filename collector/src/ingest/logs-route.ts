import { Hono } from "hono";
import { CollectorError } from "../errors.js";
import { requirePrincipal, type AuthVariables } from "../http/auth.js";
import { otlpErrorResponse, requestMediaType } from "../http/otlp-error-response.js";
import type { CollectorMetrics } from "../metrics/collector-metrics.js";
import type { UsageSink } from "../pipeline/usage-pipeline.js";
import type { KeyAuthenticator } from "../tenants/principal.js";
import { otlpFormatOf } from "./export-request.js";
import { exportLogsResponseJson, exportLogsResponseProtobuf } from "./export-response.js";
import { rejectionSummary } from "./ingest-outcome.js";
import { DEFAULT_INGEST_LIMITS, type IngestLimits } from "./ingest-limits.js";
import { RequestAbortedError, readBody } from "./read-body.js";
import { UsageIngest } from "./usage-ingest.js";

/** The route's path; its body is read with readBody, so the server may read it from the socket. */
export const LOGS_PATH = "/v1/logs";

/** What the OTLP logs route needs. */
export interface LogsRouteDeps {
  authenticator: KeyAuthenticator;
  sink: UsageSink;
  metrics: CollectorMetrics;
  /** A tenant's retention in days (records are stamped with it; older records are refused). */
  retentionDaysOf: (tenantId: string) => Promise<number> | number;
  limits?: Partial<IngestLimits>;
  /** The clock, in ms since the epoch (tests). Default Date.now. */
  now?: () => number;
}

/**
 * `POST /v1/logs`: OTLP/HTTP logs export carrying usage records, JSON or protobuf, optionally gzip,
 * with the keys and tenant binding of `/v1/traces`, served by UsageIngest. Answers 200 with an
 * ExportLogsServiceResponse in the request's encoding only after the accepted records are durable;
 * its partial success counts the refused log records and names why (reason, attribute, how many).
 * Malformed bodies 400, oversized 413, other media types 415, a full spool 503 with Retry-After; no
 * per-key rate limit (see UsageIngest). Errors (the key's 401/403 included) are answered as a
 * google.rpc.Status in the request's encoding (otlpErrorResponse).
 */
export function createLogsRoute(deps: LogsRouteDeps): Hono<{ Variables: AuthVariables }> {
  const maxBodyBytes = { ...DEFAULT_INGEST_LIMITS, ...deps.limits }.maxBodyBytes;
  const { metrics } = deps;
  const ingest = new UsageIngest({
    sink: deps.sink,
    metrics,
    retentionDaysOf: deps.retentionDaysOf,
    ...(deps.limits ? { limits: deps.limits } : {}),
    ...(deps.now ? { now: deps.now } : {}),
  });
  const route = new Hono<{ Variables: AuthVariables }>();
  // Every error here, the key's included, is answered as OTLP/HTTP says: a google.rpc.Status.
  route.onError((err, c) => otlpErrorResponse(c, err));
  route.post(LOGS_PATH, async (c, next) => {
    await next();
    const err = c.error;
    metrics.logsRequests.inc([err === undefined ? "ok" : err instanceof CollectorError ? err.code : err instanceof RequestAbortedError ? "aborted" : "internal"]);
  });
  route.post(LOGS_PATH, requirePrincipal(deps.authenticator, ["tenant-ingest", "service-ingest"]), async (c) => {
    const format = otlpFormatOf(requestMediaType(c));
    const body = await readBody(c.req.raw, maxBodyBytes);
    const outcome = await ingest.ingest({ principal: c.get("principal"), format, body });
    if (outcome.kind === "refused") throw outcome.error;
    const summary = rejectionSummary(outcome, "log record(s)");
    const partial = summary && { rejectedLogRecords: summary.rejected, errorMessage: summary.message };
    if (format === "protobuf") {
      return c.body(exportLogsResponseProtobuf(partial) as Uint8Array<ArrayBuffer>, 200, { "content-type": "application/x-protobuf" });
    }
    return c.body(exportLogsResponseJson(partial), 200, { "content-type": "application/json" });
  });
  return route;
}
