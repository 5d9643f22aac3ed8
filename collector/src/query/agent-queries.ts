import type { ClickHouseGateway } from "../store/clickhouse-gateway.js";
import type { AgentSummary } from "@troupe/contract/query-api";
import { RollupPlan } from "../rollups/rollup-plan.js";
import { ROLLUP_QUANTILE_LEVELS } from "../rollups/rollup-source.js";
import { SPAN_ROLLUP } from "../rollups/span-rollup.js";
import { USAGE_ROLLUP } from "../rollups/usage-rollup.js";
import type { TimeRange } from "./request-params.js";
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
  latency: (number | null)[];
  queue_avg: number | null;
  queue_p95: number | null;
  handler_total: number;
}

/**
 * Per agent type, the turns of one tenant in the range (IS_TURN_SQL: one span per turn) and its LLM
 * usage (usage records), sorted by turns descending, then by name. Latency and queue-wait
 * percentiles are exact (nearest rank) over the stored turns that ran (outcome ok, error or
 * timeout), their values rounded to three significant digits. An agent type with LLM usage but no
 * stored turn (its traces sampled out) is listed with zero turns. Read through rollups
 * (rollups/rollup-plan.ts): spans and records re-sent by retries count once.
 */
export async function agentSummaries(gateway: ClickHouseGateway, tenantId: string, range: TimeRange): Promise<AgentSummary[]> {
  const [spans, usagePlan] = await RollupPlan.makeAll(gateway, [SPAN_ROLLUP, USAGE_ROLLUP], { tenantId }, range, { hours: true });
  const rollup = spans.rows(["agent_type", "kind", "outcome", "spans", "duration_q", "queue_wait_ms", "queue_wait_q", "handler_wall_ms"], { hours: true });
  const turnRows = gateway.query<AgentRow>(
    `SELECT
       r.agent_type AS agent_type,
       sum(r.spans) AS turns,
       sumIf(r.spans, r.outcome = 'error') AS errors,
       sumIf(r.spans, r.outcome = 'timeout') AS timeouts,
       sumIf(r.spans, r.outcome = 'quota_rejected') AS quota,
       sumIf(r.spans, r.outcome = 'rate_limited') AS rate_limited,
       quantilesExactWeightedMergeIf(${ROLLUP_QUANTILE_LEVELS})(r.duration_q, ${TURN_RAN_SQL}) AS latency,
       sumIf(r.queue_wait_ms, ${TURN_RAN_SQL}) / sumIf(r.spans, ${TURN_RAN_SQL}) AS queue_avg,
       quantilesExactWeightedMergeIf(${ROLLUP_QUANTILE_LEVELS})(r.queue_wait_q, ${TURN_RAN_SQL})[2] AS queue_p95,
       sumIf(r.handler_wall_ms, ${TURN_RAN_SQL}) AS handler_total
     FROM ${rollup.sql}
     WHERE ${IS_TURN_SQL}
     GROUP BY agent_type
     ORDER BY turns DESC, agent_type
     LIMIT ${MAX_AGENT_TYPES}
     ${FINAL_SETTINGS_SQL}`,
    rollup.params,
  );
  const [rows, usage] = await Promise.all([turnRows, usageByAgent(gateway, tenantId, range, usagePlan)]);
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
