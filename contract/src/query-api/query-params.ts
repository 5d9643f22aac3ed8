// The query parameters of each GET endpoint of the query API: one strict schema per endpoint (an
// unknown parameter is refused), the collector validates requests with it, and the client's
// parameter types are inferred from it.
import { z } from "zod";
import { durationMsParam, formatParam, intParam, labelParam, tenantParam, timeParam } from "./param-rules.js";

/**
 * What a client sends for an endpoint's query schema: every parameter optional, as the text the
 * collector parses or, where the collector reads a number (a time in epoch ms, a limit, a duration),
 * as that number. Empty values are left out of the request.
 */
export type QueryParamsOf<S extends z.ZodType> = {
  [K in keyof z.input<S>]?: z.input<S>[K] | (K extends keyof z.output<S> ? (NonNullable<z.output<S>[K]> extends number ? number : never) : never);
};

/**
 * The range every tenant-scoped read takes. `from` inclusive, `to` exclusive, each ISO-8601 or epoch
 * ms; defaults `to` = now and `from` = `to` - 1 hour (24 hours for usage and the admin overview).
 */
const rangeShape = {
  /** Admin keys only (and required with one): the tenant to read. Console keys read their own. */
  tenant: tenantParam.optional(),
  from: timeParam.optional(),
  to: timeParam.optional(),
};

/** How usage rows are grouped: by hour or day (time ascending), by requested model or agent type (cost descending). */
export const usageGroupBySchema = z.enum(["hour", "day", "model", "agent"]);
/** How usage rows are grouped. */
export type UsageGroupBy = z.infer<typeof usageGroupBySchema>;

/** GET /api/v1/traces: trace search, newest first, cursor pagination. */
export const traceSearchQuery = z.strictObject({
  ...rangeShape,
  /** Traces containing at least one span of this agent type (`troupe.agent.type`). */
  agentType: labelParam.optional(),
  /** Traces containing at least one span with this `gen_ai.operation.name` / `messaging.operation.name`. */
  operation: labelParam.optional(),
  /** "error": traces with at least one error span; "ok": traces with none. */
  status: z.enum(["ok", "error"]).optional(),
  /** Traces containing at least one span of this model (response model, else request model). */
  model: labelParam.optional(),
  /**
   * `key=value`: traces containing at least one span whose attribute `key` has exactly this text
   * (numbers and booleans as written: `gen_ai.request.max_tokens=400`). The key must be an
   * allow-listed span attribute. Repeatable (at most MAX_ATTRIBUTE_FILTERS, all must match): the
   * collector validates every value with attributeFilterParam.
   */
  attr: z.string().optional(),
  /** Trace duration (first span start to last span end) at least this many ms. */
  minDurationMs: durationMsParam.optional(),
  /** Trace duration at most this many ms (not below `minDurationMs`). */
  maxDurationMs: durationMsParam.optional(),
  /** Case-insensitive substring of any span name in the trace (matched literally, no wildcards). */
  q: z.string().min(1, "must not be empty").max(200, "too long").optional(),
  /** Page size, 1-500, default 50. */
  limit: intParam(1, 500).optional(),
  /** Opaque cursor from a previous page's `nextCursor`. */
  cursor: z.string().max(100, "too long").optional(),
  format: formatParam.optional(),
});
/** Query parameters of GET /api/v1/traces. */
export type TraceSearchParams = QueryParamsOf<typeof traceSearchQuery>;

/** GET /api/v1/traces/{traceId}. */
export const traceQuery = z.strictObject({ tenant: tenantParam.optional() });
/** Query parameters of GET /api/v1/traces/{traceId}. */
export type TraceParams = QueryParamsOf<typeof traceQuery>;

/** A trace id in a path: 32 hexadecimal characters (either case). */
export const traceIdParam = z.string().regex(/^[0-9a-fA-F]{32}$/, "must be 32 hexadecimal characters");

/** GET /api/v1/agents: per agent type over the range. */
export const agentsQuery = z.strictObject({ ...rangeShape, format: formatParam.optional() });
/** Query parameters of GET /api/v1/agents. */
export type AgentsParams = QueryParamsOf<typeof agentsQuery>;

/** GET /api/v1/usage: usage records summed per group. Default range: the last 24 hours. */
export const usageQuery = z.strictObject({
  ...rangeShape,
  /** Default "day". */
  groupBy: usageGroupBySchema.optional(),
  /**
   * Default "json". CSV columns: group, calls, inputTokens, outputTokens, costUsd, errors,
   * budgetRejections, rateLimited, timeouts, cachedInputTokens, reasoningTokens.
   */
  format: formatParam.optional(),
});
/** Query parameters of GET /api/v1/usage. */
export type UsageParams = QueryParamsOf<typeof usageQuery>;

/** GET /api/v1/overview: the console home page's series and totals. */
export const overviewQuery = z.strictObject(rangeShape);
/** Query parameters of GET /api/v1/overview. */
export type OverviewParams = QueryParamsOf<typeof overviewQuery>;

/** GET /api/v1/conversations: conversations active in the range, most recent first. */
export const conversationsQuery = z.strictObject({
  ...rangeShape,
  /** Only this conversation (its figures over the range). */
  id: labelParam.optional(),
  /** Most conversations answered, 1-500, default 100. */
  limit: intParam(1, 500).optional(),
});
/** Query parameters of GET /api/v1/conversations. */
export type ConversationsParams = QueryParamsOf<typeof conversationsQuery>;

/** GET /api/v1/sampling: the trace sampling in force over the range. */
export const samplingQuery = z.strictObject(rangeShape);
/** Query parameters of GET /api/v1/sampling. */
export type SamplingParams = QueryParamsOf<typeof samplingQuery>;

/** GET /api/v1/budget: a console key reads its own tenant; an admin key names one. */
export const budgetQuery = z.strictObject({ tenant: tenantParam.optional() });
/** Query parameters of GET /api/v1/budget. */
export type BudgetParams = QueryParamsOf<typeof budgetQuery>;

/** GET /api/v1/alerts: a tenant's own budget alerts (an admin key names the tenant). */
export const alertsQuery = z.strictObject({ tenant: tenantParam.optional() });
/** Query parameters of GET /api/v1/alerts. */
export type AlertsParams = QueryParamsOf<typeof alertsQuery>;

/** GET /api/v1/admin/tenant-list: every tenant's settings; it takes no parameters. */
export const adminTenantListQuery = z.strictObject({});

/** GET /api/v1/admin/tenants: every tenant with its activity over the range (default: the last 24 hours). */
export const adminTenantsQuery = z.strictObject({ from: timeParam.optional(), to: timeParam.optional(), format: formatParam.optional() });
/** Query parameters of GET /api/v1/admin/tenants. */
export type AdminTenantsParams = QueryParamsOf<typeof adminTenantsQuery>;

/** GET /api/v1/admin/tenants/{id}: one tenant, its keys and its activity over the range. */
export const adminTenantQuery = z.strictObject({ from: timeParam.optional(), to: timeParam.optional() });
/** Query parameters of GET /api/v1/admin/tenants/{id}. */
export type AdminTenantParams = QueryParamsOf<typeof adminTenantQuery>;

/** A key id in a path (DELETE /api/v1/admin/keys/{keyId}). */
export const keyIdParam = z.string().regex(/^key_[0-9A-Za-z]{1,64}$/, "not a key id");
