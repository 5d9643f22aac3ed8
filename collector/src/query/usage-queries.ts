import type { ClickHouseGateway } from "../store/clickhouse-gateway.js";
import { clickHouseDateTimeToIso } from "../store/clickhouse-time.js";
import { RollupPlan } from "../rollups/rollup-plan.js";
import { USAGE_ROLLUP } from "../rollups/usage-rollup.js";
import type { UsageFigures, UsageGroupBy, UsageRow } from "@troupe/contract/query-api";
import type { TimeRange } from "./request-params.js";
import { USAGE_FINAL_SETTINGS_SQL, USAGE_ROLLUP_AGGREGATES_SQL, USAGE_ROLLUP_COLUMNS, sumUsage, toUsageFigures, type UsageDbColumns } from "./usage-sql.js";

/** The grouping expression (over rollup rows) and rollup column of each groupBy value: a fixed allow-list, never request text. */
const GROUP_SQL: Record<UsageGroupBy, { sql: string; column?: string }> = {
  hour: { sql: "toString(toStartOfHour(r.bucket))" },
  day: { sql: "toString(toStartOfDay(r.bucket))" },
  model: { sql: "r.model", column: "model" },
  agent: { sql: "r.agent_type", column: "agent_type" },
};

/**
 * One tenant's usage in the range, grouped, from its usage records (one per LLM call attempt,
 * whatever the trace sampling), read through rollups (rollups/rollup-plan.ts). Exact: a record
 * re-sent in any batch counts once. Time groups ascending; model/agent by cost descending. `model`
 * is the requested model.
 */
export async function usageReport(gateway: ClickHouseGateway, tenantId: string, range: TimeRange, groupBy: UsageGroupBy): Promise<{ rows: UsageRow[]; totals: UsageFigures }> {
  const timeGroup = groupBy === "hour" || groupBy === "day";
  const group = GROUP_SQL[groupBy];
  const plan = await RollupPlan.make(gateway, USAGE_ROLLUP, { tenantId }, range, { hours: true });
  const rollup = plan.rows([...(group.column ? [group.column] : []), ...USAGE_ROLLUP_COLUMNS], { hours: true });
  const rows = await gateway.query<UsageDbColumns & { grp: string }>(
    `SELECT ${group.sql} AS grp, ${USAGE_ROLLUP_AGGREGATES_SQL}
     FROM ${rollup.sql}
     GROUP BY grp
     ORDER BY ${timeGroup ? "grp" : "cost_usd DESC, grp"}
     LIMIT 100000
     ${USAGE_FINAL_SETTINGS_SQL}`,
    rollup.params,
  );
  const out: UsageRow[] = rows.map((r) => ({ group: timeGroup ? clickHouseDateTimeToIso(r.grp) : r.grp, ...toUsageFigures(r) }));
  return { rows: out, totals: sumUsage(out) };
}

/**
 * One tenant's usage in the range per agent type ("" for calls that named no agent). Exact, through
 * rollups; `plan` reuses a usage plan of the same tenant and range made with hours.
 */
export async function usageByAgent(gateway: ClickHouseGateway, tenantId: string, range: TimeRange, plan?: RollupPlan): Promise<Map<string, UsageFigures>> {
  const usagePlan = plan ?? (await RollupPlan.make(gateway, USAGE_ROLLUP, { tenantId }, range, { hours: true }));
  const rollup = usagePlan.rows(["agent_type", ...USAGE_ROLLUP_COLUMNS], { hours: true });
  const rows = await gateway.query<UsageDbColumns & { agent_type: string }>(
    `SELECT r.agent_type AS agent_type, ${USAGE_ROLLUP_AGGREGATES_SQL}
     FROM ${rollup.sql}
     GROUP BY agent_type
     LIMIT 100000
     ${USAGE_FINAL_SETTINGS_SQL}`,
    rollup.params,
  );
  return new Map(rows.map((r) => [r.agent_type, toUsageFigures(r)]));
}
