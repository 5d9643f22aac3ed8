import type { ClickHouseGateway } from "../store/clickhouse-gateway.js";
import { clickHouseDateTimeToIso } from "../store/clickhouse-time.js";
import type { UsageFigures, UsageGroupBy, UsageRow } from "./api-types.js";
import { rangeParams, type TimeRange } from "./request-params.js";
import { USAGE_AGGREGATES_SQL, USAGE_FINAL_SETTINGS_SQL, USAGE_RANGE_SQL, sumUsage, toUsageFigures, type UsageDbColumns } from "./usage-sql.js";

/** The grouping expression of each groupBy value: a fixed allow-list, never request text. */
const GROUP_SQL: Record<UsageGroupBy, string> = {
  hour: "toString(toStartOfHour(time))",
  day: "toString(toStartOfDay(time))",
  model: "model",
  agent: "agent_type",
};

/**
 * One tenant's usage in the range, grouped, from its usage records (one per LLM call attempt,
 * whatever the trace sampling). Exact: reads with FINAL, so a record re-sent in any batch counts
 * once. Time groups ascending; model/agent by cost descending. `model` is the requested model.
 */
export async function usageReport(gateway: ClickHouseGateway, tenantId: string, range: TimeRange, groupBy: UsageGroupBy): Promise<{ rows: UsageRow[]; totals: UsageFigures }> {
  const timeGroup = groupBy === "hour" || groupBy === "day";
  const rows = await gateway.query<UsageDbColumns & { grp: string }>(
    `SELECT ${GROUP_SQL[groupBy]} AS grp, ${USAGE_AGGREGATES_SQL}
     FROM usage_records FINAL
     WHERE tenant_id = {tenant:String} AND ${USAGE_RANGE_SQL}
     GROUP BY grp
     ORDER BY ${timeGroup ? "grp" : "cost_usd DESC, grp"}
     LIMIT 100000
     ${USAGE_FINAL_SETTINGS_SQL}`,
    { tenant: tenantId, ...rangeParams(range) },
  );
  const out: UsageRow[] = rows.map((r) => ({ group: timeGroup ? clickHouseDateTimeToIso(r.grp) : r.grp, ...toUsageFigures(r) }));
  return { rows: out, totals: sumUsage(out) };
}

/** One tenant's usage in the range per agent type ("" for calls that named no agent). Exact (FINAL). */
export async function usageByAgent(gateway: ClickHouseGateway, tenantId: string, range: TimeRange): Promise<Map<string, UsageFigures>> {
  const rows = await gateway.query<UsageDbColumns & { agent_type: string }>(
    `SELECT agent_type, ${USAGE_AGGREGATES_SQL}
     FROM usage_records FINAL
     WHERE tenant_id = {tenant:String} AND ${USAGE_RANGE_SQL}
     GROUP BY agent_type
     LIMIT 100000
     ${USAGE_FINAL_SETTINGS_SQL}`,
    { tenant: tenantId, ...rangeParams(range) },
  );
  return new Map(rows.map((r) => [r.agent_type, toUsageFigures(r)]));
}
