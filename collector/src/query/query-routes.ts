import {
  agentsQuery,
  conversationsQuery,
  overviewQuery,
  samplingQuery,
  traceIdParam,
  traceQuery,
  traceSearchQuery,
  usageQuery,
  type AgentsResponse,
  type ConversationsResponse,
  type OverviewResponse,
  type SamplingResponse,
  type TraceSearchResponse,
  type UsageResponse,
} from "@troupe/contract/query-api";
import { Hono, type Context } from "hono";
import { z } from "zod";
import { requirePrincipal, type AuthVariables } from "../http/auth.js";
import { errorResponse } from "../http/error-response.js";
import { CollectorError } from "../errors.js";
import type { ClickHouseGateway } from "../store/clickhouse-gateway.js";
import type { KeyAuthenticator } from "../tenants/principal.js";
import { agentSummaries } from "./agent-queries.js";
import { listConversations } from "./conversation-queries.js";
import { toCsv } from "./csv.js";
import { overview } from "./overview-queries.js";
import { parseAttributeFilters, parseParams, resolveRange, type TimeRange } from "./request-params.js";
import { samplingInForce } from "./sampling-queries.js";
import { resolveTenant } from "./tenant-scope.js";
import { getTrace, searchTraces } from "./trace-queries.js";
import { usageReport } from "./usage-queries.js";

/** Dependencies of the tenant-scoped query routes. */
export interface QueryRoutesOptions {
  gateway: ClickHouseGateway;
  authenticator: KeyAuthenticator;
  /** Clock for default time ranges (tests). */
  now?: () => number;
  /** Told about unexpected (500) errors; the client sees only "internal error". */
  onInternalError?: (err: unknown) => void;
}

const HOUR_MS = 3600_000;
const tracePath = z.object({ traceId: traceIdParam });

/**
 * The tenant-scoped read API: GET /traces, /traces/:traceId, /agents, /usage, /overview, /sampling, /conversations, to be
 * mounted under /api/v1 (`app.route("/api/v1", createQueryRoutes(...))`). Console keys read their own
 * tenant only; admin keys name one with `tenant=`. Every parameter is validated (400 names it) and
 * bound; errors answer with the collector's JSON error body.
 */
export function createQueryRoutes(options: QueryRoutesOptions): Hono<{ Variables: AuthVariables }> {
  const { gateway } = options;
  const now = options.now ?? Date.now;
  const app = new Hono<{ Variables: AuthVariables }>();
  app.onError((err, c) => {
    if (!(err instanceof CollectorError) || err.code === "internal") options.onInternalError?.(err);
    return errorResponse(c, err);
  });
  const auth = requirePrincipal(options.authenticator, ["console", "admin"]);
  // "/traces/*" also matches "/traces" in Hono.
  for (const path of ["/traces/*", "/agents", "/usage", "/overview", "/sampling", "/conversations"]) app.use(path, auth);

  const range = (p: { from?: number | undefined; to?: number | undefined }, defaultMs: number): TimeRange => resolveRange(p.from, p.to, now(), defaultMs);

  app.get("/traces", async (c) => {
    const p = parseParams(traceSearchQuery, c.req.query());
    const attributes = parseAttributeFilters(c.req.queries("attr") ?? []);
    if (p.minDurationMs !== undefined && p.maxDurationMs !== undefined && p.maxDurationMs < p.minDurationMs) {
      throw new CollectorError("bad_request", `invalid parameter "maxDurationMs": must not be below "minDurationMs"`);
    }
    const tenantId = resolveTenant(c.get("principal"), p.tenant);
    const result: TraceSearchResponse = await searchTraces(gateway, tenantId, {
      range: range(p, HOUR_MS),
      limit: p.limit ?? 50,
      ...(p.agentType !== undefined ? { agentType: p.agentType } : {}),
      ...(p.operation !== undefined ? { operation: p.operation } : {}),
      ...(p.status !== undefined ? { status: p.status } : {}),
      ...(p.model !== undefined ? { model: p.model } : {}),
      ...(attributes.length > 0 ? { attributes } : {}),
      ...(p.minDurationMs !== undefined ? { minDurationMs: p.minDurationMs } : {}),
      ...(p.maxDurationMs !== undefined ? { maxDurationMs: p.maxDurationMs } : {}),
      ...(p.q !== undefined ? { q: p.q } : {}),
      ...(p.cursor !== undefined ? { cursor: p.cursor } : {}),
    });
    if (p.format === "csv") {
      const header = ["traceId", "rootName", "serviceName", "startTime", "durationMs", "spanCount", "errorCount", "agentTypes", "inputTokens", "outputTokens", "costUsd", "inProgress"] as const;
      return csvResponse(c, "traces.csv", header, result.traces.map((t) => header.map((h) => t[h])));
    }
    return c.json(result);
  });

  app.get("/traces/:traceId", async (c) => {
    const p = parseParams(traceQuery, c.req.query());
    const tenantId = resolveTenant(c.get("principal"), p.tenant);
    const { traceId } = parseParams(tracePath, { traceId: c.req.param("traceId") });
    return c.json(await getTrace(gateway, tenantId, traceId.toLowerCase()));
  });

  app.get("/agents", async (c) => {
    const p = parseParams(agentsQuery, c.req.query());
    const tenantId = resolveTenant(c.get("principal"), p.tenant);
    const r = range(p, HOUR_MS);
    const agents = await agentSummaries(gateway, tenantId, r);
    if (p.format === "csv") {
      const header = ["agentType", "turns", "errors", "timeouts", "quotaRejections", "budgetRejections", "rateLimited", "p50Ms", "p95Ms", "p99Ms", "queueWaitAvgMs", "queueWaitP95Ms", "handlerWallMsTotal", "llmCalls", "llmRateLimited", "inputTokens", "outputTokens", "costUsd"] as const;
      return csvResponse(c, "agents.csv", header, agents.map((a) => header.map((h) => a[h])));
    }
    const body: AgentsResponse = { tenantId, from: iso(r.fromMs), to: iso(r.toMs), agents };
    return c.json(body);
  });

  app.get("/usage", async (c) => {
    const p = parseParams(usageQuery, c.req.query());
    const tenantId = resolveTenant(c.get("principal"), p.tenant);
    const r = range(p, 24 * HOUR_MS);
    const groupBy = p.groupBy ?? "day";
    const { rows, totals } = await usageReport(gateway, tenantId, r, groupBy);
    if (p.format === "csv") {
      const cols = ["calls", "inputTokens", "outputTokens", "costUsd", "errors", "budgetRejections", "rateLimited", "timeouts", "cachedInputTokens", "reasoningTokens"] as const;
      return csvResponse(c, `usage-${tenantId}.csv`, ["group", ...cols], rows.map((row) => [row.group, ...cols.map((k) => row[k])]));
    }
    const body: UsageResponse = { tenantId, from: iso(r.fromMs), to: iso(r.toMs), groupBy, rows, totals };
    return c.json(body);
  });

  app.get("/overview", async (c) => {
    const p = parseParams(overviewQuery, c.req.query());
    const tenantId = resolveTenant(c.get("principal"), p.tenant);
    const r = range(p, HOUR_MS);
    const body: OverviewResponse = { tenantId, from: iso(r.fromMs), to: iso(r.toMs), ...(await overview(gateway, tenantId, r)) };
    return c.json(body);
  });

  app.get("/conversations", async (c) => {
    const p = parseParams(conversationsQuery, c.req.query());
    const tenantId = resolveTenant(c.get("principal"), p.tenant);
    const r = range(p, HOUR_MS);
    const body: ConversationsResponse = { tenantId, from: iso(r.fromMs), to: iso(r.toMs), ...(await listConversations(gateway, tenantId, r, p.limit ?? 100, p.id)) };
    return c.json(body);
  });

  // Kept out of /traces so that a trace search reads no attributes: the trace list asks for it apart.
  app.get("/sampling", async (c) => {
    const p = parseParams(samplingQuery, c.req.query());
    const tenantId = resolveTenant(c.get("principal"), p.tenant);
    const r = range(p, HOUR_MS);
    const body: SamplingResponse = { tenantId, from: iso(r.fromMs), to: iso(r.toMs), sampling: await samplingInForce(gateway, tenantId, r) };
    return c.json(body);
  });

  return app;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** A CSV download (UTF-8, CRLF, formula-safe cells). */
export function csvResponse(c: Context, filename: string, header: readonly string[], rows: readonly (readonly unknown[])[]): Response {
  return c.body(toCsv(header, rows), 200, {
    "Content-Type": "text/csv; charset=utf-8",
    "Content-Disposition": `attachment; filename="${filename.replace(/[^A-Za-z0-9._-]/g, "_")}"`,
  });
}
