import type { ClickHouseGateway } from "../store/clickhouse-gateway.js";
import type { BudgetStatus, TenantActivity, TenantBudgets } from "./api-types.js";
import { RANGE_SQL, rangeParams, type TimeRange } from "./request-params.js";
import { FINAL_SETTINGS_SQL, IS_TURN_SQL, TURN_RAN_SQL, num, round } from "./span-sql.js";
import { USAGE_AGGREGATES_SQL, USAGE_FINAL_SETTINGS_SQL, USAGE_RANGE_SQL, emptyUsage, toUsageFigures, type UsageDbColumns } from "./usage-sql.js";

interface ActivityRow {
  tenant_id: string;
  spans: number | string;
  span_errors: number | string;
  turns: number | string;
  queue_wait: number;
  handler_wall: number;
}

/**
 * Activity per tenant over the range (admin only: this is the one query not scoped to one tenant,
 * unless `tenantIds` narrows it): usage figures from usage records, span, turn and time figures from
 * spans. Shares are of the tenants returned. Exact under retries (FINAL).
 */
export async function tenantActivity(gateway: ClickHouseGateway, range: TimeRange, tenantIds?: readonly string[]): Promise<Map<string, TenantActivity>> {
  const filter = tenantIds ? "AND tenant_id IN {tenants:Array(String)}" : "";
  const params = { ...rangeParams(range), ...(tenantIds ? { tenants: [...tenantIds] } : {}) };
  const [rows, usageRows] = await Promise.all([
    gateway.query<ActivityRow>(
      `SELECT tenant_id, count() AS spans, countIf(status_code = 2) AS span_errors, countIf(${IS_TURN_SQL}) AS turns,
         sumIf(queue_wait_ms, ${TURN_RAN_SQL}) AS queue_wait, sumIf(handler_wall_ms, ${TURN_RAN_SQL}) AS handler_wall
       FROM spans FINAL
       WHERE ${RANGE_SQL} ${filter}
       GROUP BY tenant_id
       ${FINAL_SETTINGS_SQL}`,
      params,
    ),
    gateway.query<UsageDbColumns & { tenant_id: string }>(
      `SELECT tenant_id, ${USAGE_AGGREGATES_SQL}
       FROM usage_records FINAL
       WHERE ${USAGE_RANGE_SQL} ${filter}
       GROUP BY tenant_id
       ${USAGE_FINAL_SETTINGS_SQL}`,
      params,
    ),
  ]);
  const totalQueue = rows.reduce((s, r) => s + num(r.queue_wait), 0);
  const totalHandler = rows.reduce((s, r) => s + num(r.handler_wall), 0);
  const out = new Map<string, TenantActivity>();
  for (const r of rows) {
    out.set(r.tenant_id, {
      ...emptyUsage(),
      spans: num(r.spans),
      spanErrors: num(r.span_errors),
      turns: num(r.turns),
      queueWaitMsTotal: round(num(r.queue_wait)),
      handlerWallMsTotal: round(num(r.handler_wall)),
      queueWaitShare: totalQueue > 0 ? round(num(r.queue_wait) / totalQueue) : 0,
      handlerTimeShare: totalHandler > 0 ? round(num(r.handler_wall) / totalHandler) : 0,
    });
  }
  for (const u of usageRows) out.set(u.tenant_id, { ...(out.get(u.tenant_id) ?? emptyActivity()), ...toUsageFigures(u) });
  return out;
}

/** An activity with nothing in it (a tenant that sent no spans and no usage in the range). */
export function emptyActivity(): TenantActivity {
  return { ...emptyUsage(), spans: 0, spanErrors: 0, turns: 0, queueWaitMsTotal: 0, handlerWallMsTotal: 0, queueWaitShare: 0, handlerTimeShare: 0 };
}

/** Tokens and cost used today and this month (UTC), per tenant. */
export interface BudgetUsage {
  dailyTokensUsed: number;
  monthlyTokensUsed: number;
  dailyCostUsdUsed: number;
  monthlyCostUsdUsed: number;
}

/**
 * Budget usage of the given tenants (or all) as of `nowMs`, from usage records: tokens and cost
 * charged today and this month (UTC), exact whatever the trace sampling and under re-sent batches.
 * With `excludeLedger`, records charged by that budget ledger are left out (a runtime asking what
 * everyone else spent; "" excludes nothing, as records without a ledger carry "").
 */
export async function budgetUsage(gateway: ClickHouseGateway, nowMs: number, tenantIds?: readonly string[], excludeLedger = ""): Promise<Map<string, BudgetUsage>> {
  const now = new Date(nowMs);
  const dayStart = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  const monthStart = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1);
  const filter = `${tenantIds ? "AND tenant_id IN {tenants:Array(String)}" : ""} ${excludeLedger !== "" ? "AND ledger_id != {excludeLedger:String}" : ""}`;
  const rows = await gateway.query<{ tenant_id: string; day_tokens: number | string; month_tokens: number | string; day_cost: number; month_cost: number }>(
    `SELECT tenant_id,
       sumIf(input_tokens + output_tokens, time >= fromUnixTimestamp64Milli({dayMs:Int64}, 'UTC')) AS day_tokens,
       sum(input_tokens + output_tokens) AS month_tokens,
       sumIf(cost_usd, time >= fromUnixTimestamp64Milli({dayMs:Int64}, 'UTC')) AS day_cost,
       sum(cost_usd) AS month_cost
     FROM usage_records FINAL
     WHERE time >= fromUnixTimestamp64Milli({monthMs:Int64}, 'UTC') ${filter}
     GROUP BY tenant_id
     ${USAGE_FINAL_SETTINGS_SQL}`,
    { dayMs: dayStart, monthMs: monthStart, ...(tenantIds ? { tenants: [...tenantIds] } : {}), ...(excludeLedger !== "" ? { excludeLedger } : {}) },
  );
  return new Map(
    rows.map((r) => [
      r.tenant_id,
      {
        dailyTokensUsed: num(r.day_tokens),
        monthlyTokensUsed: num(r.month_tokens),
        dailyCostUsdUsed: round(num(r.day_cost), 9),
        monthlyCostUsdUsed: round(num(r.month_cost), 9),
      },
    ]),
  );
}

/** Where usage stands against budgets: "over" at ≥ 100% of any set budget, "near" at ≥ 80%. */
export function budgetStatus(budgets: TenantBudgets, used: BudgetUsage | undefined): BudgetStatus {
  const u = used ?? { dailyTokensUsed: 0, monthlyTokensUsed: 0, dailyCostUsdUsed: 0, monthlyCostUsdUsed: 0 };
  const ratios: number[] = [];
  const add = (usedValue: number, limit: number | null) => {
    if (limit === null) return;
    ratios.push(limit === 0 ? (usedValue > 0 ? Number.POSITIVE_INFINITY : 1) : usedValue / limit);
  };
  add(u.dailyTokensUsed, budgets.dailyTokens);
  add(u.monthlyTokensUsed, budgets.monthlyTokens);
  add(u.dailyCostUsdUsed, budgets.dailyCostUsd);
  add(u.monthlyCostUsdUsed, budgets.monthlyCostUsd);
  const max = ratios.length > 0 ? Math.max(...ratios) : null;
  const finite = max === null ? null : Number.isFinite(max) ? round(max) : 1e9;
  return { ...u, maxUtilization: finite, state: max === null ? "ok" : max >= 1 ? "over" : max >= 0.8 ? "near" : "ok" };
}
