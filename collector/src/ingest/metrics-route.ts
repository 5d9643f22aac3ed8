import { Hono } from "hono";
import { CollectorError } from "../errors.js";
import { otlpErrorResponse } from "../http/otlp-error-response.js";

/**
 * `POST /v1/metrics`: the Troupe collector stores traces and usage records, not metrics. A runtime
 * whose `OTEL_EXPORTER_OTLP_ENDPOINT` points here (for its spans) would otherwise send its metrics
 * into a bare 404; this answers, in the request's encoding (a google.rpc.Status, as OTLP/HTTP asks),
 * where they should go. 404 is not retryable, so an exporter drops the batch and logs the message.
 */
export function createMetricsRoute(): Hono {
  const route = new Hono();
  route.post("/v1/metrics", (c) =>
    otlpErrorResponse(
      c,
      new CollectorError(
        "not_found",
        "the Troupe collector does not store metrics: send them to your APM with OTEL_EXPORTER_OTLP_METRICS_ENDPOINT, or set OTEL_METRICS_EXPORTER=none (docs/apm-metrics.md)",
      ),
    ),
  );
  return route;
}
