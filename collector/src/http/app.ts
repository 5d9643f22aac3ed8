import { Hono } from "hono";
import { secureHeaders } from "hono/secure-headers";
import { CollectorError } from "../errors.js";
import { createLogsRoute } from "../ingest/logs-route.js";
import { createMetricsRoute } from "../ingest/metrics-route.js";
import { createTracesRoute } from "../ingest/traces-route.js";
import type { IngestLimits } from "../ingest/ingest-limits.js";
import type { KeyRateLimit } from "../ingest/key-rate-limiter.js";
import type { CollectorMetrics } from "../metrics/collector-metrics.js";
import type { PipelineHealth, SpanSink } from "../pipeline/ingest-pipeline.js";
import type { UsagePipelineHealth, UsageSink } from "../pipeline/usage-pipeline.js";
import type { SpanStore } from "../store/span-store.js";
import type { KeyAuthenticator } from "../tenants/principal.js";
import { apiRateLimit, type ApiRateLimit } from "./api-rate-limit.js";
import { errorResponse } from "./error-response.js";

/** Everything the collector's HTTP app serves from. */
export interface CollectorAppDeps {
  authenticator: KeyAuthenticator;
  sink: SpanSink;
  metrics: CollectorMetrics;
  /** Pinged by /readyz. */
  store: Pick<SpanStore, "ping">;
  /** Spool state for /readyz. */
  pipelineHealth?: () => PipelineHealth;
  limits?: Partial<IngestLimits>;
  /** Per-ingest-key span rate (429 past it); unset: none. */
  rateLimit?: KeyRateLimit;
  /** Query and admin routes (paths relative to /api/v1), mounted under /api/v1. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- sub-apps carry their own env types
  apiRoutes?: readonly Hono<any>[];
  /** Requests per second per key on /api/v1; unset: unlimited (startCollector sets DEFAULT_API_RATE_LIMIT). */
  apiRateLimit?: ApiRateLimit;
  /** Ready only while the spool is below this share of its bound (default 0.9). */
  readySpoolRatio?: number;
  /** Usage records (POST /v1/logs); unset: no such route. */
  usage?: UsageIngestDeps;
}

/** What POST /v1/logs serves from. */
export interface UsageIngestDeps {
  sink: UsageSink;
  /** A tenant's retention in days. */
  retentionDaysOf: (tenantId: string) => Promise<number> | number;
  /** Usage spool state for /readyz. */
  health?: () => UsagePipelineHealth;
}

/**
 * The collector's one HTTP app: POST /v1/traces, POST /v1/logs (usage records), GET /healthz,
 * GET /readyz, GET /metrics and the query/admin API under /api/v1. Every error is a JSON
 * `{ error: { code, message } }`, unknown paths a JSON 404, except on the OTLP export routes, which
 * answer a google.rpc.Status as OTLP/HTTP asks (otlpErrorResponse).
 */
export function createCollectorApp(deps: CollectorAppDeps): Hono {
  const app = new Hono();
  app.onError((err, c) => errorResponse(c, err));
  app.notFound((c) => errorResponse(c, new CollectorError("not_found", `no route for ${c.req.method} ${new URL(c.req.url).pathname}`)));
  // nosniff, frame denial, no referrer, same-origin resource policy, HSTS: an API that is never a page.
  app.use("*", secureHeaders({ xFrameOptions: "DENY", contentSecurityPolicy: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } }));
  if (deps.apiRateLimit) app.use("/api/v1/*", apiRateLimit(deps.apiRateLimit));

  app.route("/", createTracesRoute(deps));
  app.route("/", createMetricsRoute());
  if (deps.usage) {
    const { sink, retentionDaysOf } = deps.usage;
    app.route("/", createLogsRoute({ authenticator: deps.authenticator, metrics: deps.metrics, sink, retentionDaysOf, ...(deps.limits ? { limits: deps.limits } : {}) }));
  }
  app.get("/healthz", (c) => c.json({ status: "ok" }));
  app.get("/readyz", async (c) => {
    const checks: Record<string, { ok: boolean; detail?: string }> = {};
    try {
      await deps.store.ping();
      checks["store"] = { ok: true };
    } catch (err) {
      checks["store"] = { ok: false, detail: err instanceof Error ? err.message : String(err) };
    }
    const health = deps.pipelineHealth?.();
    if (health) {
      const ratio = health.spoolBytes / health.spoolMaxBytes;
      checks["spool"] = {
        ok: ratio < (deps.readySpoolRatio ?? 0.9),
        detail: `${health.spoolBytes} of ${health.spoolMaxBytes} bytes, ${health.spoolRecords} records, ${health.queueDepthSpans} spans waiting${health.storeError ? `; last insert error: ${health.storeError}` : ""}`,
      };
    }
    const usage = deps.usage?.health?.();
    if (usage) {
      const ratio = usage.spoolBytes / usage.spoolMaxBytes;
      checks["usage_spool"] = {
        ok: ratio < (deps.readySpoolRatio ?? 0.9),
        detail: `${usage.spoolBytes} of ${usage.spoolMaxBytes} bytes, ${usage.spoolRecords} records, ${usage.queueDepthRecords} usage records waiting${usage.storeError ? `; last insert error: ${usage.storeError}` : ""}`,
      };
    }
    const ready = Object.values(checks).every((x) => x.ok);
    return c.json({ status: ready ? "ready" : "not_ready", checks }, ready ? 200 : 503);
  });
  app.get("/metrics", (c) => c.body(deps.metrics.render(), 200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" }));
  for (const routes of deps.apiRoutes ?? []) app.route("/api/v1", routes);
  return app;
}
