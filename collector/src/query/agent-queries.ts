import type { ClickHouseGateway } from "../store/clickhouse-gateway.js";
import type { AgentSummary } from "./api-types.js";
import { RANGE_SQL, rangeParams, type TimeRange } from "./request-params.js";
import { FINAL_SETTINGS_SQL, IS_BUDGET_REJECTION_SQL, IS_TURN_SQL, TURN_RAN_SQL, num, round } from "./span-sql.js";

interface AgentRow {
  agent_type: string;
  turns: number | string;
  errors: number | string;
  timeouts: number | string;
  quota: number | string;
  budget: number | string;
  rate_limited: number | string;
  latency: number[];
  queue_avg: number | null;
  queue_p95: number | null;
  handler_total: number;
}

/**
 * Per agent type, the turns of one tenant in the range (IS_TURN_SQL: one span per turn),
 * sorted by turns descending. Latency and queue-wait percentiles are exact, over turns that ran
 * (outcome ok, error or timeout). Spans re-sent by retries count once (FINAL).
 */
export async function agentSummaries(gateway: ClickHouseGateway, tenantId: string, range: TimeRange): Promise<AgentSummary[]> {
  const rows = await gateway.query<AgentRow>(
    `SELECT
       agent_type,
       countIf(${IS_TURN_SQL}) AS turns,
       countIf(${IS_TURN_SQL} AND outcome = 'error') AS errors,
       countIf(${IS_TURN_SQL} AND outcome = 'timeout') AS timeouts,
       countIf(${IS_TURN_SQL} AND outcome = 'quota_rejected') AS quota,
       countIf(${IS_BUDGET_REJECTION_SQL}) AS budget,
       countIf(${IS_TURN_SQL} AND outcome = 'rate_limited') AS rate_limited,
       quantilesExactIf(0.5, 0.95, 0.99)(duration_ns / 1e6, ${TURN_RAN_SQL}) AS latency,
       avgIf(queue_wait_ms, ${TURN_RAN_SQL}) AS queue_avg,
       quantileExactIf(0.95)(queue_wait_ms, ${TURN_RAN_SQL}) AS queue_p95,
       sumIf(handler_wall_ms, ${TURN_RAN_SQL}) AS handler_total
     FROM spans FINAL
     WHERE tenant_id = {tenant:String} AND ${RANGE_SQL} AND (${IS_TURN_SQL} OR ${IS_BUDGET_REJECTION_SQL})
     GROUP BY agent_type
     ORDER BY turns DESC, agent_type
     LIMIT 1000
     ${FINAL_SETTINGS_SQL}`,
    { tenant: tenantId, ...rangeParams(range) },
  );
  return rows.map((r) => ({
    agentType: r.agent_type,
    turns: num(r.turns),
    errors: num(r.errors),
    timeouts: num(r.timeouts),
    quotaRejections: num(r.quota),
    budgetRejections: num(r.budget),
    rateLimited: num(r.rate_limited),
    p50Ms: round(num(r.latency[0])),
    p95Ms: round(num(r.latency[1])),
    p99Ms: round(num(r.latency[2])),
    queueWaitAvgMs: round(num(r.queue_avg)),
    queueWaitP95Ms: round(num(r.queue_p95)),
    handlerWallMsTotal: round(num(r.handler_total)),
  }));
}
