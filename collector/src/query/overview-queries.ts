import type { ClickHouseGateway } from "../store/clickhouse-gateway.js";
import { clickHouseDateTimeToIso } from "../store/clickhouse-time.js";
import type { OverviewPoint, OverviewResponse, OverviewTopAgent } from "./api-types.js";
import { RANGE_SQL, rangeParams, type TimeRange } from "./request-params.js";
import { samplingInForce } from "./sampling-queries.js";
import { FINAL_SETTINGS_SQL, IS_TURN_SQL, TURN_RAN_SQL, num, round } from "./span-sql.js";
import { usageByAgent } from "./usage-queries.js";
import { USAGE_FINAL_SETTINGS_SQL, USAGE_RANGE_SQL } from "./usage-sql.js";

/** Most points in an overview series. */
export const MAX_OVERVIEW_POINTS = 1440;

/** The bucket width: one minute, widened to whole minutes so the range has at most 1440 buckets. */
export function overviewStepSeconds(range: TimeRange): number {
  const minutes = Math.ceil((range.toMs - range.fromMs) / 60_000 / MAX_OVERVIEW_POINTS);
  return Math.max(1, minutes) * 60;
}

interface SpanPointRow {
  t: string;
  spans: number | string;
  errors: number | string;
  traces?: number | string;
}

interface UsagePointRow {
  t: string;
  llm_calls: number | string;
  input_tokens: number | string;
  output_tokens: number | string;
  cost_usd: number;
  budget_rejections?: number | string;
  rate_limited?: number | string;
}

const SPAN_FIGURES_SQL = "count() AS spans, countIf(status_code = 2) AS errors";
const USAGE_FIGURES_SQL = "count() AS llm_calls, sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens, sum(cost_usd) AS cost_usd";

/**
 * The console's home page for one tenant: a time series, totals and the busiest agent types. Span
 * figures (spans, errors, traces, turns, latency) come from stored spans, so under trace sampling
 * they cover the kept traces (`sampling` says which ratios were in force); LLM calls, tokens and
 * cost come from usage records and are exact. Both read with FINAL.
 */
export async function overview(gateway: ClickHouseGateway, tenantId: string, range: TimeRange): Promise<Omit<OverviewResponse, "tenantId" | "from" | "to">> {
  const stepSeconds = overviewStepSeconds(range);
  const params = { tenant: tenantId, ...rangeParams(range), step: stepSeconds };
  const spansWhere = `tenant_id = {tenant:String} AND ${RANGE_SQL}`;
  const usageWhere = `tenant_id = {tenant:String} AND ${USAGE_RANGE_SQL}`;
  const [spanSeries, usageSeries, [spanTotals], [usageTotals], agents, agentUsage, sampling] = await Promise.all([
    gateway.query<SpanPointRow>(
      `SELECT toString(toStartOfInterval(start_time, toIntervalSecond({step:UInt32}))) AS t, ${SPAN_FIGURES_SQL}
       FROM spans FINAL WHERE ${spansWhere} GROUP BY t ORDER BY t LIMIT ${MAX_OVERVIEW_POINTS + 2}
       ${FINAL_SETTINGS_SQL}`,
      params,
    ),
    gateway.query<UsagePointRow>(
      `SELECT toString(toStartOfInterval(time, toIntervalSecond({step:UInt32}))) AS t, ${USAGE_FIGURES_SQL}
       FROM usage_records FINAL WHERE ${usageWhere} GROUP BY t ORDER BY t LIMIT ${MAX_OVERVIEW_POINTS + 2}
       ${USAGE_FINAL_SETTINGS_SQL}`,
      params,
    ),
    gateway.query<SpanPointRow>(
      `SELECT '' AS t, ${SPAN_FIGURES_SQL}, uniqExact(trace_id) AS traces FROM spans FINAL WHERE ${spansWhere}
       ${FINAL_SETTINGS_SQL}`,
      params,
    ),
    gateway.query<UsagePointRow>(
      `SELECT '' AS t, ${USAGE_FIGURES_SQL}, countIf(outcome = 'budget_rejected') AS budget_rejections, countIf(outcome = 'rate_limited') AS rate_limited
       FROM usage_records FINAL WHERE ${usageWhere}
       ${USAGE_FINAL_SETTINGS_SQL}`,
      params,
    ),
    gateway.query<{ agent_type: string; turns: number | string; errors: number | string; p95: number }>(
      `SELECT agent_type, countIf(${IS_TURN_SQL}) AS turns, countIf(${IS_TURN_SQL} AND outcome = 'error') AS errors,
         quantileExactIf(0.95)(duration_ns / 1e6, ${TURN_RAN_SQL}) AS p95
       FROM spans FINAL WHERE ${spansWhere} AND agent_type != ''
       GROUP BY agent_type ORDER BY turns DESC, agent_type LIMIT 10
       ${FINAL_SETTINGS_SQL}`,
      params,
    ),
    usageByAgent(gateway, tenantId, range),
    samplingInForce(gateway, tenantId, range),
  ]);

  // One point per bucket that has spans or usage (a bucket may have usage and no kept span).
  const points = new Map<string, OverviewPoint>();
  const point = (t: string): OverviewPoint => {
    const time = clickHouseDateTimeToIso(t);
    let p = points.get(time);
    if (!p) points.set(time, (p = { time, spans: 0, errors: 0, llmCalls: 0, inputTokens: 0, outputTokens: 0, costUsd: 0 }));
    return p;
  };
  for (const r of spanSeries) Object.assign(point(r.t), { spans: num(r.spans), errors: num(r.errors) });
  for (const r of usageSeries) Object.assign(point(r.t), usageFigures(r));
  const series = [...points.values()].sort((a, b) => a.time.localeCompare(b.time));

  const topAgents: OverviewTopAgent[] = agents.map((a) => ({
    agentType: a.agent_type,
    turns: num(a.turns),
    errors: num(a.errors),
    p95Ms: round(num(a.p95)),
    costUsd: agentUsage.get(a.agent_type)?.costUsd ?? 0,
  }));
  const totals = {
    spans: num(spanTotals?.spans),
    errors: num(spanTotals?.errors),
    ...usageFigures(usageTotals ?? { t: "", llm_calls: 0, input_tokens: 0, output_tokens: 0, cost_usd: 0 }),
    traces: num(spanTotals?.traces),
    budgetRejections: num(usageTotals?.budget_rejections),
    rateLimited: num(usageTotals?.rate_limited),
  };
  return { stepSeconds, series, totals, topAgents, sampling };
}

function usageFigures(r: UsagePointRow): Pick<OverviewPoint, "llmCalls" | "inputTokens" | "outputTokens" | "costUsd"> {
  return { llmCalls: num(r.llm_calls), inputTokens: num(r.input_tokens), outputTokens: num(r.output_tokens), costUsd: round(num(r.cost_usd), 9) };
}
