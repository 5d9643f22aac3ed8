import type { ClickHouseGateway } from "../store/clickhouse-gateway.js";
import { clickHouseDateTimeToIso } from "../store/clickhouse-time.js";
import { RollupPlan } from "../rollups/rollup-plan.js";
import { ROLLUP_QUANTILE_LEVELS } from "../rollups/rollup-source.js";
import { SPAN_ROLLUP } from "../rollups/span-rollup.js";
import { USAGE_ROLLUP } from "../rollups/usage-rollup.js";
import type { OverviewPoint, OverviewResponse, OverviewTopAgent } from "@troupe/contract/query-api";
import type { TimeRange } from "./request-params.js";
import { samplingOf } from "./sampling-queries.js";
import { FINAL_SETTINGS_SQL, IS_TURN_SQL, TURN_RAN_SQL, num, round } from "./span-sql.js";

/** Most points in an overview series. */
export const MAX_OVERVIEW_POINTS = 1440;

/** The bucket width: one minute, widened to whole minutes so the range has at most 1440 buckets. */
export function overviewStepSeconds(range: TimeRange): number {
  const minutes = Math.ceil((range.toMs - range.fromMs) / 60_000 / MAX_OVERVIEW_POINTS);
  return Math.max(1, minutes) * 60;
}

interface PointRow {
  t: string;
  spans: number | string;
  errors: number | string;
  traces: number | string;
  ratios: number[];
  llm_calls: number | string;
  input_tokens: number | string;
  output_tokens: number | string;
  cost_usd: number;
  budget_rejections: number | string;
  rate_limited: number | string;
}

/**
 * The console's home page for one tenant: a time series, totals and the busiest agent types. Span
 * figures (spans, errors, traces, turns, latency) come from stored spans, so under trace sampling
 * they cover the kept traces (`sampling` says which ratios were in force); LLM calls, tokens and
 * cost come from usage records and are exact. Both are read through rollups (rollups/rollup-plan.ts):
 * exact as if read with FINAL, at a cost that grows with the range, not the tenant's volume.
 * `traces` counts the traces whose root span started in the range. Latency percentiles are exact
 * (nearest rank) over durations rounded to three significant digits.
 */
export async function overview(gateway: ClickHouseGateway, tenantId: string, range: TimeRange): Promise<Omit<OverviewResponse, "tenantId" | "from" | "to">> {
  const stepSeconds = overviewStepSeconds(range);
  const [spans, usage] = await RollupPlan.makeAll(gateway, [SPAN_ROLLUP, USAGE_ROLLUP], { tenantId }, range, { hours: true, minutes: true });
  const spanSeriesRows = spans.rows(["status_code", "root_ratio", "spans"], { hours: false });
  const usageSeriesRows = usage.rows(["outcome", "calls", "input_tokens", "output_tokens", "cost_usd"], { hours: false });
  const agentRows = spans.rows(["agent_type", "kind", "outcome", "spans", "duration_q"], { hours: true });
  const agentUsageRows = usage.rows(["agent_type", "cost_usd"], { hours: true });
  const step = "toString(toStartOfInterval(r.bucket, toIntervalSecond({step:UInt32}))) AS t";
  // One point per bucket that has spans or usage (a bucket may have usage and no kept span); the
  // totals are the sums of the series (every bucket of the range is in it).
  const [series, agents] = await Promise.all([
    gateway.query<PointRow>(
      `SELECT t, s.spans AS spans, s.errors AS errors, s.traces AS traces, s.ratios AS ratios, u.llm_calls AS llm_calls, u.input_tokens AS input_tokens,
         u.output_tokens AS output_tokens, u.cost_usd AS cost_usd, u.budget_rejections AS budget_rejections, u.rate_limited AS rate_limited
       FROM (
         SELECT ${step}, sum(r.spans) AS spans, sumIf(r.spans, r.status_code = 2) AS errors, sumIf(r.spans, r.root_ratio > 0) AS traces,
           groupUniqArrayIf(r.root_ratio, r.root_ratio > 0) AS ratios
         FROM ${spanSeriesRows.sql} GROUP BY t
       ) AS s
       FULL OUTER JOIN (
         SELECT ${step}, sum(r.calls) AS llm_calls, sum(r.input_tokens) AS input_tokens, sum(r.output_tokens) AS output_tokens, sum(r.cost_usd) AS cost_usd,
           sumIf(r.calls, r.outcome = 'budget_rejected') AS budget_rejections, sumIf(r.calls, r.outcome = 'rate_limited') AS rate_limited
         FROM ${usageSeriesRows.sql} GROUP BY t
       ) AS u USING (t)
       ORDER BY t LIMIT ${MAX_OVERVIEW_POINTS + 2}
       ${FINAL_SETTINGS_SQL}`,
      { ...spanSeriesRows.params, ...usageSeriesRows.params, step: stepSeconds },
    ),
    gateway.query<{ agent_type: string; turns: number | string; errors: number | string; p95: number | null; cost_usd: number }>(
      `SELECT agent_type, a.turns AS turns, a.errors AS errors, a.p95 AS p95, u.cost_usd AS cost_usd
       FROM (
         SELECT r.agent_type AS agent_type, sumIf(r.spans, ${IS_TURN_SQL}) AS turns, sumIf(r.spans, ${IS_TURN_SQL} AND r.outcome = 'error') AS errors,
           quantilesExactWeightedMergeIf(${ROLLUP_QUANTILE_LEVELS})(r.duration_q, ${TURN_RAN_SQL})[2] AS p95
         FROM ${agentRows.sql} WHERE r.agent_type != ''
         GROUP BY agent_type ORDER BY turns DESC, agent_type LIMIT 10
       ) AS a
       LEFT JOIN (SELECT r.agent_type AS agent_type, sum(r.cost_usd) AS cost_usd FROM ${agentUsageRows.sql} GROUP BY agent_type) AS u USING (agent_type)
       ORDER BY turns DESC, agent_type
       ${FINAL_SETTINGS_SQL}`,
      { ...agentRows.params, ...agentUsageRows.params },
    ),
  ]);

  const points: OverviewPoint[] = series.map((r) => ({ time: clickHouseDateTimeToIso(r.t), spans: num(r.spans), errors: num(r.errors), ...usageFigures(r) }));
  const topAgents: OverviewTopAgent[] = agents.map((a) => ({
    agentType: a.agent_type,
    turns: num(a.turns),
    errors: num(a.errors),
    p95Ms: round(num(a.p95)),
    costUsd: round(num(a.cost_usd), 9),
  }));
  const sum = (f: (r: PointRow) => unknown) => series.reduce((n, r) => n + num(f(r)), 0);
  const totals = {
    spans: sum((r) => r.spans),
    errors: sum((r) => r.errors),
    llmCalls: sum((r) => r.llm_calls),
    inputTokens: sum((r) => r.input_tokens),
    outputTokens: sum((r) => r.output_tokens),
    costUsd: round(sum((r) => r.cost_usd), 9),
    traces: sum((r) => r.traces),
    budgetRejections: sum((r) => r.budget_rejections),
    rateLimited: sum((r) => r.rate_limited),
  };
  const sampling = samplingOf(series.flatMap((r) => r.ratios.map(num)));
  return { stepSeconds, series: points, totals, topAgents, sampling };
}

function usageFigures(r: PointRow): Pick<OverviewPoint, "llmCalls" | "inputTokens" | "outputTokens" | "costUsd"> {
  return { llmCalls: num(r.llm_calls), inputTokens: num(r.input_tokens), outputTokens: num(r.output_tokens), costUsd: round(num(r.cost_usd), 9) };
}
