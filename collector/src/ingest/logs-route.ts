import { Hono } from "hono";
import { CollectorError } from "../errors.js";
import { requirePrincipal, type AuthVariables } from "../http/auth.js";
import { isProtobufMediaType, otlpErrorResponse, requestMediaType } from "../http/otlp-error-response.js";
import type { CollectorMetrics } from "../metrics/collector-metrics.js";
import type { UsageSink } from "../pipeline/usage-pipeline.js";
import type { KeyAuthenticator } from "../tenants/principal.js";
import { decodeJsonLogs } from "./decode-json-logs.js";
import { decodeProtobufLogsWire } from "./decode-protobuf-logs.js";
import { exportLogsResponseJson, exportLogsResponseProtobuf, type LogsPartialSuccess } from "./export-response.js";
import { DEFAULT_INGEST_LIMITS, type IngestLimits } from "./ingest-limits.js";
import type { OtlpLogsRequest } from "./otlp-logs.js";
import { RequestAbortedError, readBody } from "./read-body.js";
import { USAGE_RECORD_ATTRIBUTES, USAGE_RESOURCE_ATTRIBUTES, buildUsageRows, type UsageRowsResult } from "./usage-rows.js";

const ALLOW = { record: USAGE_RECORD_ATTRIBUTES, resource: USAGE_RESOURCE_ATTRIBUTES };

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
 * with the keys and tenant binding of `/v1/traces`. Answers 200 with an ExportLogsServiceResponse
 * in the request's encoding only after the accepted records are durable; its partial success counts
 * the refused log records and names why (reason, attribute, how many). Malformed bodies 400,
 * oversized 413, other media types 415, a full spool 503 with Retry-After. There is no per-key rate
 * limit here: usage records are billing data, one per LLM call, and the exporter's retries would
 * only delay them. Errors (the key's 401/403 included) are answered as a google.rpc.Status in the
 * request's encoding (otlpErrorResponse).
 */
export function createLogsRoute(deps: LogsRouteDeps): Hono<{ Variables: AuthVariables }> {
  const limits: IngestLimits = { ...DEFAULT_INGEST_LIMITS, ...deps.limits };
  const { metrics } = deps;
  const now = deps.now ?? Date.now;
  const retentionDaysOf = async (tenantId: string): Promise<number> => {
    try {
      return await deps.retentionDaysOf(tenantId);
    } catch (err) {
      throw new CollectorError("store_unavailable", "cannot read the tenant's retention; retry later", { cause: err, retryAfterS: 5 });
    }
  };
  const route = new Hono<{ Variables: AuthVariables }>();
  // Every error here, the key's included, is answered as OTLP/HTTP says: a google.rpc.Status.
  route.onError((err, c) => otlpErrorResponse(c, err));
  route.post("/v1/logs", async (c, next) => {
    await next();
    const err = c.error;
    metrics.logsRequests.inc([err === undefined ? "ok" : err instanceof CollectorError ? err.code : err instanceof RequestAbortedError ? "aborted" : "internal"]);
  });
  route.post("/v1/logs", requirePrincipal(deps.authenticator, ["tenant-ingest", "service-ingest"]), async (c) => {
    const contentType = requestMediaType(c);
    const protobuf = isProtobufMediaType(contentType);
    if (!protobuf && contentType !== "application/json") {
      throw new CollectorError("unsupported_media_type", `Content-Type ${JSON.stringify(contentType.slice(0, 60))} is not supported; send application/json or application/x-protobuf`);
    }
    const { bytes: body, release } = await readBody(c.req.raw, limits.maxBodyBytes);
    let request: OtlpLogsRequest;
    try {
      request = protobuf ? decodeProtobufLogsWire(body, limits, ALLOW) : decodeJsonLogs(body, limits);
    } finally {
      // Decoders copy what they keep: the body's buffer can serve another request now.
      release();
    }
    const result = await buildUsageRows(request, c.get("principal"), { limits, nowMs: now(), retentionDaysOf });
    await deps.sink.accept(result.rows);
    for (const [reason, count] of result.rejected) metrics.usageRejected.inc([reason], count);
    const partial = partialSuccess(result);
    if (protobuf) {
      return c.body(exportLogsResponseProtobuf(partial) as Uint8Array<ArrayBuffer>, 200, { "content-type": "application/x-protobuf" });
    }
    return c.body(exportLogsResponseJson(partial), 200, { "content-type": "application/json" });
  });
  return route;
}

function partialSuccess(result: UsageRowsResult): LogsPartialSuccess | undefined {
  let rejectedLogRecords = 0;
  const parts: string[] = [];
  for (const group of result.rejectGroups.values()) {
    rejectedLogRecords += group.count;
    parts.push(`${group.count} ${group.reason} (${group.example})`);
  }
  if (rejectedLogRecords === 0) return undefined;
  return { rejectedLogRecords, errorMessage: `${rejectedLogRecords} log record(s) rejected: ${parts.join("; ")}` };
}
