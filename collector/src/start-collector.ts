import { mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { startBudgetAlerts, type BudgetAlerts } from "./alerts/budget-alerts.js";
import type { CollectorConfig } from "./config.js";
import { createControlRoutes } from "./control/control-routes.js";
import { createRuntimeCheckIns } from "./control/runtime-checkins.js";
import { SettingsWatch } from "./control/settings-watch.js";
import { createCollectorApp } from "./http/app.js";
import { DEFAULT_CONNECTION_LIMITS, listen, type AbortedRequest } from "./http/server.js";
import type { IngestLimits } from "./ingest/ingest-limits.js";
import { LOGS_PATH } from "./ingest/logs-route.js";
import { TRACES_PATH } from "./ingest/traces-route.js";
import { CollectorMetrics } from "./metrics/collector-metrics.js";
import { IngestPipeline } from "./pipeline/ingest-pipeline.js";
import type { SpoolWriterOptions } from "./pipeline/spool-writer.js";
import { UsagePipeline } from "./pipeline/usage-pipeline.js";
import { DEFAULT_API_RATE_LIMIT } from "./http/api-rate-limit.js";
import { createAdminRoutes } from "./query/admin-routes.js";
import { createBudgetRoutes } from "./query/budget-routes.js";
import { createSessionRoutes } from "./query/session-routes.js";
import { createEndedSessions } from "./tenants/ended-sessions.js";
import { RollupSealer, type RollupSealerOptions } from "./rollups/rollup-sealer.js";
import { createQueryRoutes } from "./query/query-routes.js";
import type { SpanWriterOptions } from "./pipeline/span-writer.js";
import { createClickHouseSpanStore } from "./store/clickhouse-span-store.js";
import { createClickHouseUsageStore } from "./store/clickhouse-usage-store.js";
import type { ClickHouseGateway } from "./store/clickhouse-gateway.js";
import { openClickHouse } from "./store/open-clickhouse.js";
import type { SpanStore } from "./store/span-store.js";
import { createTenantRegistry, type TenantRegistry } from "./tenants/tenant-registry.js";

/**
 * The OTLP export paths. Their routes read bodies with readBody, so `listen` reads them straight from
 * the socket (pass as `socketBodyPaths` to serve a collector app as the collector does).
 */
export const OTLP_EXPORT_PATHS: ReadonlySet<string> = new Set([TRACES_PATH, LOGS_PATH]);

/** A running collector process (in this process). */
export interface RunningCollector {
  /** Base URL, e.g. http://127.0.0.1:4318 */
  url: string;
  port: number;
  /** Tenants and keys (to create demo tenants, or for tests). */
  registry: TenantRegistry;
  /** The ClickHouse gateway (chDB or server) the store and registry use. */
  gateway: ClickHouseGateway;
  store: SpanStore;
  metrics: CollectorMetrics;
  pipeline: IngestPipeline;
  /** Usage records (POST /v1/logs): their spool and writer. */
  usagePipeline: UsagePipeline;
  /** Builds the rollups the overview, agents, usage and operator pages read (sealAll builds what is stale now). */
  rollups: RollupSealer;
  /** Stops accepting requests, inserts what is spooled (bounded by flushTimeoutMs), closes the store. */
  close(flushTimeoutMs?: number): Promise<void>;
}

/** Tuning for tests and benchmarks; production uses the defaults. */
export interface StartCollectorOptions {
  limits?: Partial<IngestLimits>;
  writer?: Partial<SpanWriterOptions>;
  /** The usage writer's batching (defaults: DEFAULT_USAGE_WRITER_OPTIONS). */
  usageWriter?: Partial<SpoolWriterOptions>;
  /** The rollup sealer's pacing (defaults: DEFAULT_ROLLUP_SEALER_OPTIONS). */
  rollups?: Partial<RollupSealerOptions>;
  /** Told about unexpected (500) errors of the query and admin API; default: one line on stderr. */
  onInternalError?: (err: unknown) => void;
  /** Told about each request whose body stopped arriving; default: a line on stderr, at most one a second. */
  onAbortedRequest?: (request: AbortedRequest) => void;
}

/**
 * Starts the collector: ClickHouse (server when configured, else embedded chDB in
 * <dataDir>/chdb, migrated), the tenant registry, the span spool in <dataDir>/spool and the usage
 * record spool in <dataDir>/usage-spool (each replaying what a previous run left), their writers,
 * the optional forwarder, and the HTTP server with ingest (traces and usage records), health,
 * metrics and the query, admin and control API under /api/v1. Resolves once it listens.
 */
export async function startCollector(config: CollectorConfig, options: StartCollectorOptions = {}): Promise<RunningCollector> {
  const dataDir = resolve(config.dataDir);
  await mkdir(dataDir, { recursive: true });
  const gateway = await openClickHouse(
    config.clickhouse ? { kind: "server", ...config.clickhouse } : { kind: "chdb", dataDir: join(dataDir, "chdb") },
  );
  let pipeline: IngestPipeline | undefined;
  let usagePipeline: UsagePipeline | undefined;
  let budgetAlerts: BudgetAlerts | undefined;
  let sealer: RollupSealer | undefined;
  try {
    const registry = createTenantRegistry(gateway, config.adminKey ? { adminKey: config.adminKey } : {});
    const store = createClickHouseSpanStore(gateway, { retentionDaysOf: (tenantId) => registry.retentionDaysOf(tenantId) });
    const metrics = new CollectorMetrics();
    pipeline = await IngestPipeline.start({
      store,
      metrics,
      spool: { dir: join(dataDir, "spool"), maxBytes: config.spoolMaxBytes },
      ...(options.writer ? { writer: options.writer } : {}),
      ...(config.forward ? { forward: config.forward } : {}),
    });
    usagePipeline = await UsagePipeline.start({
      store: createClickHouseUsageStore(gateway),
      metrics,
      spool: { dir: join(dataDir, "usage-spool"), maxBytes: config.spoolMaxBytes },
      ...(options.usageWriter ? { writer: options.usageWriter } : {}),
    });
    const running = pipeline;
    const usage = usagePipeline;
    const onInternalError =
      options.onInternalError ?? ((err: unknown) => process.stderr.write(`troupe collector: internal error: ${err instanceof Error ? err.message : String(err)}\n`));
    const alerts = (budgetAlerts = await startBudgetAlerts({ gateway, registry, metrics: metrics.registry, onError: onInternalError, onInternalError }));
    usage.onStored((tenantIds) => alerts.notify(tenantIds));
    const checkIns = createRuntimeCheckIns(gateway, { onError: onInternalError });
    const rollups = (sealer = new RollupSealer({ gateway, onError: onInternalError }, options.rollups));
    rollups.start();
    // Each waiting long poll holds a connection: leave a quarter of them to ingest and the console.
    const maxConnections = config.connectionLimits?.maxConnections ?? DEFAULT_CONNECTION_LIMITS.maxConnections;
    const settingsWatch = new SettingsWatch(registry, { onError: onInternalError, maxWaiters: Math.max(1, Math.floor(maxConnections * 0.75)) });
    const app = createCollectorApp({
      authenticator: registry,
      sink: running,
      metrics,
      store,
      pipelineHealth: () => running.health(),
      usage: { sink: usage, retentionDaysOf: (tenantId) => registry.retentionDaysOf(tenantId), health: () => usage.health() },
      apiRoutes: [
        createQueryRoutes({ gateway, authenticator: registry, onInternalError }),
        createAdminRoutes({ gateway, registry, checkIns, onInternalError }),
        createBudgetRoutes({ gateway, registry, onInternalError }),
        createControlRoutes({ gateway, registry, watch: settingsWatch, checkIns, usageStored: (timeoutMs) => usage.waitUntilStored(timeoutMs), onInternalError }),
        createSessionRoutes({ authenticator: registry, sessions: createEndedSessions(gateway), onInternalError }),
        alerts.routes,
      ],
      apiRateLimit: config.apiRateLimitPerS
        ? { requestsPerSecond: config.apiRateLimitPerS, burst: 5 * config.apiRateLimitPerS }
        : DEFAULT_API_RATE_LIMIT,
      ...(options.limits ? { limits: options.limits } : {}),
      ...(config.ingestRateLimitSpansPerS
        ? { rateLimit: { spansPerSecond: config.ingestRateLimitSpansPerS, burstSpans: 2 * config.ingestRateLimitSpansPerS } }
        : {}),
    });
    const server = await listen(app, config.port, config.host, {
      ...(config.connectionLimits ? { limits: config.connectionLimits } : {}),
      onAbortedRequest: options.onAbortedRequest ?? logAbortedRequest(),
      socketBodyPaths: OTLP_EXPORT_PATHS,
    });
    let closing: Promise<void> | undefined;
    return {
      url: server.url,
      port: server.port,
      registry,
      gateway,
      store,
      metrics,
      pipeline: running,
      usagePipeline: usage,
      rollups,
      close: (flushTimeoutMs = 10_000) =>
        (closing ??= (async () => {
          // Waiting long polls answer 304 at once, so closing the server does not wait out their waits.
          settingsWatch.close();
          await server.close();
          await Promise.all([running.close(flushTimeoutMs), usage.close(flushTimeoutMs), checkIns.close()]);
          await alerts.close();
          await rollups.close();
          await store.close();
          await gateway.close();
        })()),
    };
  } catch (err) {
    await pipeline?.close(0).catch(() => undefined);
    await usagePipeline?.close(0).catch(() => undefined);
    await budgetAlerts?.close().catch(() => undefined);
    await sealer?.close();
    await gateway.close();
    throw err;
  }
}

/** One stderr line per aborted request, at most one a second (a client aborting in a loop must not flood the log). */
function logAbortedRequest(): (request: AbortedRequest) => void {
  let lastLineMs = 0;
  let unlogged = 0;
  return (r) => {
    const nowMs = Date.now();
    if (nowMs - lastLineMs < 1_000) {
      unlogged++;
      return;
    }
    lastLineMs = nowMs;
    const more = unlogged > 0 ? ` (${unlogged} more since the last line)` : "";
    unlogged = 0;
    const declared = r.declaredBytes !== undefined ? ` of ${r.declaredBytes} declared bytes` : "";
    process.stderr.write(`troupe collector: request aborted: ${r.method} ${r.path}, body${declared} incomplete after ${r.elapsedMs} ms (client closed or body deadline)${more}\n`);
  };
}
