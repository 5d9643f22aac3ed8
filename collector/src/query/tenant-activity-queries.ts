import type { ClickHouseGateway } from "../store/clickhouse-gateway.js";
import type { BudgetStatus, TenantActivity, TenantBudgets } from "@troupe/contract/query-api";
import { RollupPlan } from "../rollups/rollup-plan.js";
import { SPAN_ROLLUP } from "../rollups/span-rollup.js";
import { USAGE_ROLLUP } from "../rollups/usage-rollup.js";
import type { TimeRange } from "./request-params.js";
import { FINAL_SETTINGS_SQL, IS_TURN_SQL, TURN_RAN_SQL, num, round } from "./span-sql.js";
import { USAGE_FINAL_SETTINGS_SQL, USAGE_ROLLUP_AGGREGATES_SQL, USAGE_ROLLUP_COLUMNS, emptyUsage, toUsageFigures, type UsageDbColumns } from "./usage-sql.js";

/** Budget usage counts records dated before this (2100-01-01 UTC; a DateTime bucket ends in 2106). */
const USAGE_TIME_LIMIT_MS = Date.UTC(2100, 0, 1);

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
 * spans, both read through rollups (rollups/rollup-plan.ts), so its cost grows with the range and
 * the number of tenants, not with their volume. Shares are of the tenants returned. Exact under
 * retries, as if read with FINAL.
 */
export async function tenantActivity(gateway: ClickHouseGateway, range: TimeRange, tenantIds?: readonly string[]): Promise<Map<string, TenantActivity>> {
  const scope = { tenantIds };
  const [spans, usage] = await RollupPlan.makeAll(gateway, [SPAN_ROLLUP, USAGE_ROLLUP], scope, range, { hours: true });
  const spanRows = spans.rows(["kind", "status_code", "outcome", "spans", "queue_wait_ms", "handler_wall_ms"], { hours: true });
  const usageRows = usage.rows([...USAGE_ROLLUP_COLUMNS], { hours: true });
  const rows = await gateway.query<ActivityRow & UsageDbColumns>(
    `SELECT tenant_id, s.spans AS spans, s.span_errors AS span_errors, s.turns AS turns, s.queue_wait AS queue_wait, s.handler_wall AS handler_wall,
       u.calls AS calls, u.input_tokens AS input_tokens, u.output_tokens AS output_tokens, u.cached_input_tokens AS cached_input_tokens,
       u.reasoning_tokens AS reasoning_tokens, u.cost_usd AS cost_usd, u.errors AS errors, u.timeouts AS timeouts, u.rate_limited AS rate_limited,
       u.budget_rejections AS budget_rejections
     FROM (
       SELECT r.tenant_id AS tenant_id, sum(r.spans) AS spans, sumIf(r.spans, r.status_code = 2) AS span_errors, sumIf(r.spans, ${IS_TURN_SQL}) AS turns,
         sumIf(r.queue_wait_ms, ${TURN_RAN_SQL}) AS queue_wait, sumIf(r.handler_wall_ms, ${TURN_RAN_SQL}) AS handler_wall
       FROM ${spanRows.sql}
       GROUP BY tenant_id
     ) AS s
     FULL OUTER JOIN (
       SELECT r.tenant_id AS tenant_id, ${USAGE_ROLLUP_AGGREGATES_SQL}
       FROM ${usageRows.sql}
       GROUP BY tenant_id
     ) AS u USING (tenant_id)
     ${FINAL_SETTINGS_SQL}`,
    { ...spanRows.params, ...usageRows.params },
  );
  const totalQueue = rows.reduce((s, r) => s + num(r.queue_wait), 0);
  const totalHandler = rows.reduce((s, r) => s + num(r.handler_wall), 0);
  const out = new Map<string, TenantActivity>();
  for (const r of rows) {
    out.set(r.tenant_id, {
      ...toUsageFigures(r),
      spans: num(r.spans),
      spanErrors: num(r.span_errors),
      turns: num(r.turns),
      queueWaitMsTotal: round(num(r.queue_wait)),
      handlerWallMsTotal: round(num(r.handler_wall)),
      queueWaitShare: totalQueue > 0 ? round(num(r.queue_wait) / totalQueue) : 0,
      handlerTimeShare: totalHandler > 0 ? round(num(r.handler_wall) / totalHandler) : 0,
    });
  }
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
 * everyone else spent; "" excludes nothing, as records without a ledger carry ""). Read through
 * rollups (rollups/rollup-plan.ts): its cost grows with the tenants and days of the month, not
 * their volume. Records dated after USAGE_TIME_LIMIT_MS are not counted.
 */
export async function budgetUsage(gateway: ClickHouseGateway, nowMs: number, tenantIds?: readonly string[], excludeLedger = ""): Promise<Map<string, BudgetUsage>> {
  const now = new Date(nowMs);
  const dayStart = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  const monthStart = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1);
  const plan = await RollupPlan.make(gateway, USAGE_ROLLUP, { tenantIds }, { fromMs: monthStart, toMs: USAGE_TIME_LIMIT_MS }, { hours: true });
  const rollup = plan.rows(["ledger_id", "input_tokens", "output_tokens", "cost_usd"], { hours: true });
  const rows = await gateway.query<{ tenant_id: string; day_tokens: number | string; month_tokens: number | string; day_cost: number; month_cost: number }>(
    `SELECT r.tenant_id AS tenant_id,
       sumIf(r.input_tokens + r.output_tokens, r.bucket >= toDateTime({dayS:UInt32}, 'UTC')) AS day_tokens,
       sum(r.input_tokens + r.output_tokens) AS month_tokens,
       sumIf(r.cost_usd, r.bucket >= toDateTime({dayS:UInt32}, 'UTC')) AS day_cost,
       sum(r.cost_usd) AS month_cost
     FROM ${rollup.sql}
     ${excludeLedger !== "" ? "WHERE r.ledger_id != {excludeLedger:String}" : ""}
     GROUP BY tenant_id
     ${USAGE_FINAL_SETTINGS_SQL}`,
    { ...rollup.params, dayS: dayStart / 1000, ...(excludeLedger !== "" ? { excludeLedger } : {}) },
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
