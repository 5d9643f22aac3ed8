import type { ClickHouseGateway } from "../store/clickhouse-gateway.js";
import { clickHouseDateTimeToIso } from "../store/clickhouse-time.js";
import type { OverviewPoint, OverviewResponse, OverviewTopAgent } from "./api-types.js";
import { RANGE_SQL, rangeParams, type TimeRange } from "./request-params.js";
import { FINAL_SETTINGS_SQL, IS_LLM_SQL, IS_TURN_SQL, TURN_RAN_SQL, num, round } from "./span-sql.js";

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
  llm_calls: number | string;
  input_tokens: number | string;
  output_tokens: number | string;
  cost_usd: number;
  traces?: number | string;
}

/** The console's home page for one tenant: a time series, totals and the busiest agent types. */
export async function overview(gateway: ClickHouseGateway, tenantId: string, range: TimeRange): Promise<Omit<OverviewResponse, "tenantId" | "from" | "to">> {
  const stepSeconds = overviewStepSeconds(range);
  const params = { tenant: tenantId, ...rangeParams(range), step: stepSeconds };
  const figures = `count() AS spans, countIf(status_code = 2) AS errors, countIf(${IS_LLM_SQL}) AS llm_calls,
    sumIf(input_tokens, ${IS_LLM_SQL}) AS input_tokens, sumIf(output_tokens, ${IS_LLM_SQL}) AS output_tokens,
    sumIf(cost_usd, ${IS_LLM_SQL}) AS cost_usd`;
  const where = `tenant_id = {tenant:String} AND ${RANGE_SQL}`;
  const series = await gateway.query<PointRow>(
    `SELECT toString(toStartOfInterval(start_time, toIntervalSecond({step:UInt32}))) AS t, ${figures}
     FROM spans FINAL WHERE ${where} GROUP BY t ORDER BY t LIMIT ${MAX_OVERVIEW_POINTS + 2}
     ${FINAL_SETTINGS_SQL}`,
    params,
  );
  const totalsRows = await gateway.query<PointRow>(
    `SELECT '' AS t, ${figures}, uniqExact(trace_id) AS traces FROM spans FINAL WHERE ${where}
     ${FINAL_SETTINGS_SQL}`,
    params,
  );
  const agents = await gateway.query<{ agent_type: string; turns: number | string; errors: number | string; p95: number; cost_usd: number }>(
    `SELECT agent_type, countIf(${IS_TURN_SQL}) AS turns, countIf(${IS_TURN_SQL} AND outcome = 'error') AS errors,
       quantileExactIf(0.95)(duration_ns / 1e6, ${TURN_RAN_SQL}) AS p95, sumIf(cost_usd, ${IS_LLM_SQL}) AS cost_usd
     FROM spans FINAL WHERE ${where} AND agent_type != ''
     GROUP BY agent_type ORDER BY turns DESC, agent_type LIMIT 10
     ${FINAL_SETTINGS_SQL}`,
    params,
  );
  const toPoint = (r: PointRow): OverviewPoint => ({
    time: clickHouseDateTimeToIso(r.t),
    spans: num(r.spans),
    errors: num(r.errors),
    llmCalls: num(r.llm_calls),
    inputTokens: num(r.input_tokens),
    outputTokens: num(r.output_tokens),
    costUsd: round(num(r.cost_usd), 9),
  });
  const t = totalsRows[0];
  const topAgents: OverviewTopAgent[] = agents.map((a) => ({
    agentType: a.agent_type,
    turns: num(a.turns),
    errors: num(a.errors),
    p95Ms: round(num(a.p95)),
    costUsd: round(num(a.cost_usd), 9),
  }));
  const { time: _time, ...totals } = t ? toPoint(t) : toPoint({ t: "", spans: 0, errors: 0, llm_calls: 0, input_tokens: 0, output_tokens: 0, cost_usd: 0 });
  return { stepSeconds, series: series.map(toPoint), totals: { ...totals, traces: num(t?.traces) }, topAgents };
}
