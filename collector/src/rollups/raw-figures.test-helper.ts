import type { ClickHouseGateway } from "../store/clickhouse-gateway.js";
import { RANGE_SQL, rangeParams, type TimeRange } from "../query/request-params.js";
import { FINAL_SETTINGS_SQL, IS_TURN_SQL, TURN_RAN_SQL, num, round } from "../query/span-sql.js";
import { USAGE_AGGREGATES_SQL, USAGE_FINAL_SETTINGS_SQL, USAGE_RANGE_SQL, toUsageFigures, type UsageDbColumns } from "../query/usage-sql.js";
import type { UsageFigures } from "@troupe/contract/query-api";
import { roundedForQuantiles } from "./rollup-source.js";

/**
 * The figures the rollup-backed queries give, computed straight from the raw tables read with FINAL
 * (tests only): the queries as they were before rollups, with the two definitions rollups fixed —
 * traces are counted by their root spans, and percentiles are exact (nearest rank) over durations
 * rounded to three significant digits.
 */

const P = `quantilesExactWeightedIf(0.5, 0.95, 0.99)`;
const dur = roundedForQuantiles("duration_ns / 1e6");
const wait = roundedForQuantiles("queue_wait_ms");

/** Span totals, per-minute series and top agents of one tenant. */
export async function rawSpanFigures(gateway: ClickHouseGateway, tenantId: string, range: TimeRange) {
  const params = { tenant: tenantId, ...rangeParams(range) };
  const where = `tenant_id = {tenant:String} AND ${RANGE_SQL}`;
  const [[totals], series, topAgents, ratios] = await Promise.all([
    gateway.query<{ spans: string; errors: string; traces: string }>(
      `SELECT count() AS spans, countIf(status_code = 2) AS errors, countIf(parent_span_id = '') AS traces FROM spans FINAL WHERE ${where} ${FINAL_SETTINGS_SQL}`,
      params,
    ),
    gateway.query<{ t: string; spans: string; errors: string }>(
      `SELECT toUnixTimestamp(toStartOfMinute(start_time)) * 1000 AS t, count() AS spans, countIf(status_code = 2) AS errors
       FROM spans FINAL WHERE ${where} GROUP BY t ORDER BY t ${FINAL_SETTINGS_SQL}`,
      params,
    ),
    gateway.query<{ agent_type: string; turns: string; errors: string; p95: number | null }>(
      `SELECT agent_type, countIf(${IS_TURN_SQL}) AS turns, countIf(${IS_TURN_SQL} AND outcome = 'error') AS errors,
         ${P}(${dur}, toUInt64(1), ${TURN_RAN_SQL})[2] AS p95
       FROM spans FINAL WHERE ${where} AND agent_type != ''
       GROUP BY agent_type ORDER BY turns DESC, agent_type LIMIT 10 ${FINAL_SETTINGS_SQL}`,
      params,
    ),
    gateway.query<{ ratio: number }>(
      `SELECT DISTINCT if(isFinite(r) AND r > 0 AND r < 1, r, 1) AS ratio
       FROM (SELECT toFloat64OrZero(attributes['troupe.sampling.ratio']) AS r FROM spans WHERE ${where} AND parent_span_id = '')
       ORDER BY ratio`,
      params,
    ),
  ]);
  return {
    totals: { spans: num(totals?.spans), errors: num(totals?.errors), traces: num(totals?.traces) },
    series: series.map((s) => ({ timeMs: num(s.t), spans: num(s.spans), errors: num(s.errors) })),
    topAgents: topAgents.map((a) => ({ agentType: a.agent_type, turns: num(a.turns), errors: num(a.errors), p95Ms: round(num(a.p95)) })),
    ratios: ratios.map((r) => num(r.ratio)),
  };
}

/** Turn figures per agent type of one tenant (the agents page, without usage). */
export async function rawAgentFigures(gateway: ClickHouseGateway, tenantId: string, range: TimeRange) {
  const rows = await gateway.query<Record<string, number | string | (number | null)[] | null>>(
    `SELECT agent_type,
       countIf(${IS_TURN_SQL}) AS turns,
       countIf(${IS_TURN_SQL} AND outcome = 'error') AS errors,
       countIf(${IS_TURN_SQL} AND outcome = 'timeout') AS timeouts,
       countIf(${IS_TURN_SQL} AND outcome = 'quota_rejected') AS quota,
       countIf(${IS_TURN_SQL} AND outcome = 'rate_limited') AS rate_limited,
       ${P}(${dur}, toUInt64(1), ${TURN_RAN_SQL}) AS latency,
       avgIf(queue_wait_ms, ${TURN_RAN_SQL}) AS queue_avg,
       ${P}(${wait}, toUInt64(1), ${TURN_RAN_SQL})[2] AS queue_p95,
       sumIf(handler_wall_ms, ${TURN_RAN_SQL}) AS handler_total
     FROM spans FINAL
     WHERE tenant_id = {tenant:String} AND ${RANGE_SQL} AND ${IS_TURN_SQL}
     GROUP BY agent_type ORDER BY turns DESC, agent_type ${FINAL_SETTINGS_SQL}`,
    { tenant: tenantId, ...rangeParams(range) },
  );
  return rows.map((r) => {
    const latency = (r.latency as (number | null)[] | null) ?? [];
    return {
      agentType: String(r.agent_type),
      turns: num(r.turns),
      errors: num(r.errors),
      timeouts: num(r.timeouts),
      quotaRejections: num(r.quota),
      rateLimited: num(r.rate_limited),
      p50Ms: round(num(latency[0])),
      p95Ms: round(num(latency[1])),
      p99Ms: round(num(latency[2])),
      queueWaitAvgMs: round(num(r.queue_avg)),
      queueWaitP95Ms: round(num(r.queue_p95)),
      handlerWallMsTotal: round(num(r.handler_total)),
    };
  });
}

/** Usage figures of one tenant (or several) grouped by a raw expression, from usage records. */
export async function rawUsageFigures(gateway: ClickHouseGateway, tenantIds: readonly string[], range: TimeRange, groupSql: string): Promise<Map<string, UsageFigures>> {
  const rows = await gateway.query<UsageDbColumns & { grp: string }>(
    `SELECT toString(${groupSql}) AS grp, ${USAGE_AGGREGATES_SQL}
     FROM usage_records FINAL WHERE tenant_id IN {tenants:Array(String)} AND ${USAGE_RANGE_SQL}
     GROUP BY grp ${USAGE_FINAL_SETTINGS_SQL}`,
    { tenants: [...tenantIds], ...rangeParams(range) },
  );
  return new Map(rows.map((r) => [r.grp, toUsageFigures(r)]));
}

/** Span activity per tenant (the operator's list, without usage). */
export async function rawActivityFigures(gateway: ClickHouseGateway, tenantIds: readonly string[], range: TimeRange) {
  const rows = await gateway.query<{ tenant_id: string; spans: string; span_errors: string; turns: string; queue_wait: number; handler_wall: number }>(
    `SELECT tenant_id, count() AS spans, countIf(status_code = 2) AS span_errors, countIf(${IS_TURN_SQL}) AS turns,
       sumIf(queue_wait_ms, ${TURN_RAN_SQL}) AS queue_wait, sumIf(handler_wall_ms, ${TURN_RAN_SQL}) AS handler_wall
     FROM spans FINAL WHERE tenant_id IN {tenants:Array(String)} AND ${RANGE_SQL}
     GROUP BY tenant_id ${FINAL_SETTINGS_SQL}`,
    { tenants: [...tenantIds], ...rangeParams(range) },
  );
  return new Map(rows.map((r) => [r.tenant_id, { spans: num(r.spans), spanErrors: num(r.span_errors), turns: num(r.turns), queueWaitMsTotal: round(num(r.queue_wait)), handlerWallMsTotal: round(num(r.handler_wall)) }]));
}

/** Tokens and cost per tenant since the day / month of `nowMs` (no upper bound), from usage records. */
export async function rawBudgetFigures(gateway: ClickHouseGateway, tenantIds: readonly string[], nowMs: number) {
  const now = new Date(nowMs);
  const dayMs = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  const monthMs = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1);
  const rows = await gateway.query<{ tenant_id: string; day_tokens: string; month_tokens: string; day_cost: number; month_cost: number }>(
    `SELECT tenant_id,
       sumIf(input_tokens + output_tokens, time >= fromUnixTimestamp64Milli({dayMs:Int64}, 'UTC')) AS day_tokens,
       sum(input_tokens + output_tokens) AS month_tokens,
       sumIf(cost_usd, time >= fromUnixTimestamp64Milli({dayMs:Int64}, 'UTC')) AS day_cost,
       sum(cost_usd) AS month_cost
     FROM usage_records FINAL WHERE tenant_id IN {tenants:Array(String)} AND time >= fromUnixTimestamp64Milli({monthMs:Int64}, 'UTC')
     GROUP BY tenant_id ${USAGE_FINAL_SETTINGS_SQL}`,
    { tenants: [...tenantIds], dayMs, monthMs },
  );
  return new Map(
    rows.map((r) => [r.tenant_id, { dailyTokensUsed: num(r.day_tokens), monthlyTokensUsed: num(r.month_tokens), dailyCostUsdUsed: round(num(r.day_cost), 9), monthlyCostUsdUsed: round(num(r.month_cost), 9) }]),
  );
}
