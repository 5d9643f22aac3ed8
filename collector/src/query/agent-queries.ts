import type { ClickHouseGateway } from "../store/clickhouse-gateway.js";
import type { AgentSummary } from "./api-types.js";
import { RANGE_SQL, rangeParams, type TimeRange } from "./request-params.js";
import { FINAL_SETTINGS_SQL, IS_TURN_SQL, TURN_RAN_SQL, num, round } from "./span-sql.js";
import { usageByAgent } from "./usage-queries.js";
import { emptyUsage } from "./usage-sql.js";

/** Most agent types listed. */
const MAX_AGENT_TYPES = 1000;

interface AgentRow {
  agent_type: string;
  turns: number | string;
  errors: number | string;
  timeouts: number | string;
  quota: number | string;
  rate_limited: number | string;
  latency: number[];
  queue_avg: number | null;
  queue_p95: number | null;
  handler_total: number;
}

/**
 * Per agent type, the turns of one tenant in the range (IS_TURN_SQL: one span per turn) and its LLM
 * usage (usage records), sorted by turns descending, then by name. Latency and queue-wait
 * percentiles are exact over the stored turns that ran (outcome ok, error or timeout). An agent type
 * with LLM usage but no stored turn (its traces sampled out) is listed with zero turns. Spans and
 * records re-sent by retries count once (FINAL).
 */
export async function agentSummaries(gateway: ClickHouseGateway, tenantId: string, range: TimeRange): Promise<AgentSummary[]> {
  const turnRows = gateway.query<AgentRow>(
    `SELECT
       agent_type,
       countIf(${IS_TURN_SQL}) AS turns,
       countIf(${IS_TURN_SQL} AND outcome = 'error') AS errors,
       countIf(${IS_TURN_SQL} AND outcome = 'timeout') AS timeouts,
       countIf(${IS_TURN_SQL} AND outcome = 'quota_rejected') AS quota,
       countIf(${IS_TURN_SQL} AND outcome = 'rate_limited') AS rate_limited,
       quantilesExactIf(0.5, 0.95, 0.99)(duration_ns / 1e6, ${TURN_RAN_SQL}) AS latency,
       avgIf(queue_wait_ms, ${TURN_RAN_SQL}) AS queue_avg,
       quantileExactIf(0.95)(queue_wait_ms, ${TURN_RAN_SQL}) AS queue_p95,
       sumIf(handler_wall_ms, ${TURN_RAN_SQL}) AS handler_total
     FROM spans FINAL
     WHERE tenant_id = {tenant:String} AND ${RANGE_SQL} AND ${IS_TURN_SQL}
     GROUP BY agent_type
     ORDER BY turns DESC, agent_type
     LIMIT ${MAX_AGENT_TYPES}
     ${FINAL_SETTINGS_SQL}`,
    { tenant: tenantId, ...rangeParams(range) },
  );
  const [rows, usage] = await Promise.all([turnRows, usageByAgent(gateway, tenantId, range)]);
  const turnsOf = new Map(rows.map((r) => [r.agent_type, r]));
  const agentTypes = [...new Set([...turnsOf.keys(), ...usage.keys()])];
  const summaries = agentTypes.map((agentType): AgentSummary => {
    const r = turnsOf.get(agentType);
    const u = usage.get(agentType) ?? emptyUsage();
    return {
      agentType,
      turns: num(r?.turns),
      errors: num(r?.errors),
      timeouts: num(r?.timeouts),
      quotaRejections: num(r?.quota),
      budgetRejections: u.budgetRejections,
      rateLimited: num(r?.rate_limited),
      llmCalls: u.calls,
      llmRateLimited: u.rateLimited,
      inputTokens: u.inputTokens,
      outputTokens: u.outputTokens,
      costUsd: u.costUsd,
      p50Ms: round(num(r?.latency[0])),
      p95Ms: round(num(r?.latency[1])),
      p99Ms: round(num(r?.latency[2])),
      queueWaitAvgMs: round(num(r?.queue_avg)),
      queueWaitP95Ms: round(num(r?.queue_p95)),
      handlerWallMsTotal: round(num(r?.handler_total)),
    };
  });
  return summaries.sort((a, b) => b.turns - a.turns || a.agentType.localeCompare(b.agentType)).slice(0, MAX_AGENT_TYPES);
}
