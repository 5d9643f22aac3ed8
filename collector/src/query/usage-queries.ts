import type { ClickHouseGateway } from "../store/clickhouse-gateway.js";
import { clickHouseDateTimeToIso } from "../store/clickhouse-time.js";
import type { UsageFigures, UsageGroupBy, UsageRow } from "./api-types.js";
import { RANGE_SQL, rangeParams, type TimeRange } from "./request-params.js";
import { FINAL_SETTINGS_SQL, IS_LLM_SQL, num, round } from "./span-sql.js";

/** The grouping expression of each groupBy value: a fixed allow-list, never request text. */
const GROUP_SQL: Record<UsageGroupBy, string> = {
  hour: "toString(toStartOfHour(start_time))",
  day: "toString(toStartOfDay(start_time))",
  model: "model",
  agent: "agent_type",
};

/** The aggregate columns of usage figures, shared by every usage-shaped query (fixed SQL). */
export const USAGE_AGGREGATES_SQL = `
  countIf(${IS_LLM_SQL}) AS calls,
  sumIf(input_tokens, ${IS_LLM_SQL}) AS input_tokens,
  sumIf(output_tokens, ${IS_LLM_SQL}) AS output_tokens,
  sumIf(cost_usd, ${IS_LLM_SQL}) AS cost_usd,
  countIf(${IS_LLM_SQL} AND status_code = 2) AS errors,
  countIf(outcome = 'budget_rejected') AS budget_rejections`;

/** Raw usage aggregate columns as they come back. */
export interface UsageDbColumns {
  calls: number | string;
  input_tokens: number | string;
  output_tokens: number | string;
  cost_usd: number;
  errors: number | string;
  budget_rejections: number | string;
}

/** Converts the usage aggregate columns to figures. */
export function toUsageFigures(r: UsageDbColumns): UsageFigures {
  return {
    calls: num(r.calls),
    inputTokens: num(r.input_tokens),
    outputTokens: num(r.output_tokens),
    costUsd: round(num(r.cost_usd), 9),
    errors: num(r.errors),
    budgetRejections: num(r.budget_rejections),
  };
}

/** The sum of usage figures. */
export function sumUsage(rows: readonly UsageFigures[]): UsageFigures {
  const t: UsageFigures = { calls: 0, inputTokens: 0, outputTokens: 0, costUsd: 0, errors: 0, budgetRejections: 0 };
  for (const r of rows) {
    t.calls += r.calls;
    t.inputTokens += r.inputTokens;
    t.outputTokens += r.outputTokens;
    t.costUsd += r.costUsd;
    t.errors += r.errors;
    t.budgetRejections += r.budgetRejections;
  }
  t.costUsd = round(t.costUsd, 9);
  return t;
}

/**
 * One tenant's usage in the range, grouped. Exact: reads with FINAL, so a span inserted twice (a
 * replayed batch, a re-sent export) counts once. Time groups ascending; model/agent by cost descending.
 */
export async function usageReport(gateway: ClickHouseGateway, tenantId: string, range: TimeRange, groupBy: UsageGroupBy): Promise<{ rows: UsageRow[]; totals: UsageFigures }> {
  const timeGroup = groupBy === "hour" || groupBy === "day";
  const rows = await gateway.query<UsageDbColumns & { grp: string }>(
    `SELECT ${GROUP_SQL[groupBy]} AS grp, ${USAGE_AGGREGATES_SQL}
     FROM spans FINAL
     WHERE tenant_id = {tenant:String} AND ${RANGE_SQL} AND (${IS_LLM_SQL} OR outcome = 'budget_rejected')
     GROUP BY grp
     ORDER BY ${timeGroup ? "grp" : "cost_usd DESC, grp"}
     LIMIT 100000
     ${FINAL_SETTINGS_SQL}`,
    { tenant: tenantId, ...rangeParams(range) },
  );
  const out: UsageRow[] = rows.map((r) => ({ group: timeGroup ? clickHouseDateTimeToIso(r.grp) : r.grp, ...toUsageFigures(r) }));
  return { rows: out, totals: sumUsage(out) };
}
