import type { UsageFigures } from "@troupe/contract/query-api";
import { num, round } from "./span-sql.js";

/**
 * SQL fragments over the `usage_records` table (migration 0004): one row per LLM call attempt,
 * whatever the trace sampling. Every usage figure (reports, budgets, the console) reads these; spans
 * keep their usage attributes for the trace view only.
 */

/** The WHERE fragment for a range over a record's `time` (fixed text; the values are bound). */
export const USAGE_RANGE_SQL = "time >= fromUnixTimestamp64Milli({fromMs:Int64}, 'UTC') AND time < fromUnixTimestamp64Milli({toMs:Int64}, 'UTC')";

/**
 * Appended to every `FROM usage_records FINAL` query. Both settings are safe for this table because
 * the copies of a record are identical (a re-sent record with other numbers is refused by the writer):
 * - every sorting key (tenant, day, record id) lies in one month partition, so FINAL can work per
 *   partition instead of merging across all of them;
 * - copies agree on every column a filter reads, so filtering before FINAL (PREWHERE) keeps
 *   exactly the records filtering after it would.
 */
export const USAGE_FINAL_SETTINGS_SQL = "SETTINGS do_not_merge_across_partitions_select_final = 1, optimize_move_to_prewhere_if_final = 1";

/**
 * The aggregate columns of usage figures (fixed SQL). `calls` counts every attempt; the outcome
 * counts split the attempts that did not succeed, so calls = ok + errors + timeouts + rate limited +
 * budget rejections. Tokens and cost are what each attempt was charged (0 for a refused one).
 */
export const USAGE_AGGREGATES_SQL = `
  count() AS calls,
  sum(input_tokens) AS input_tokens,
  sum(output_tokens) AS output_tokens,
  sum(cached_input_tokens) AS cached_input_tokens,
  sum(reasoning_tokens) AS reasoning_tokens,
  sum(cost_usd) AS cost_usd,
  countIf(outcome = 'error') AS errors,
  countIf(outcome = 'timeout') AS timeouts,
  countIf(outcome = 'rate_limited') AS rate_limited,
  countIf(outcome = 'budget_rejected') AS budget_rejections`;

/**
 * USAGE_AGGREGATES_SQL over usage rollup rows aliased `r` (rollups/usage-rollup.ts: `calls` counts
 * the attempts of a row's bucket and breakdown). Reads the columns in USAGE_ROLLUP_COLUMNS.
 */
export const USAGE_ROLLUP_AGGREGATES_SQL = `
  sum(r.calls) AS calls,
  sum(r.input_tokens) AS input_tokens,
  sum(r.output_tokens) AS output_tokens,
  sum(r.cached_input_tokens) AS cached_input_tokens,
  sum(r.reasoning_tokens) AS reasoning_tokens,
  sum(r.cost_usd) AS cost_usd,
  sumIf(r.calls, r.outcome = 'error') AS errors,
  sumIf(r.calls, r.outcome = 'timeout') AS timeouts,
  sumIf(r.calls, r.outcome = 'rate_limited') AS rate_limited,
  sumIf(r.calls, r.outcome = 'budget_rejected') AS budget_rejections`;

/** The usage rollup columns USAGE_ROLLUP_AGGREGATES_SQL reads. */
export const USAGE_ROLLUP_COLUMNS = ["outcome", "calls", "input_tokens", "output_tokens", "cached_input_tokens", "reasoning_tokens", "cost_usd"] as const;

/** Raw usage aggregate columns as they come back (64-bit counts may arrive as strings). */
export interface UsageDbColumns {
  calls: number | string;
  input_tokens: number | string;
  output_tokens: number | string;
  cached_input_tokens: number | string;
  reasoning_tokens: number | string;
  cost_usd: number;
  errors: number | string;
  timeouts: number | string;
  rate_limited: number | string;
  budget_rejections: number | string;
}

/** Converts the usage aggregate columns to figures. */
export function toUsageFigures(r: UsageDbColumns): UsageFigures {
  return {
    calls: num(r.calls),
    inputTokens: num(r.input_tokens),
    outputTokens: num(r.output_tokens),
    cachedInputTokens: num(r.cached_input_tokens),
    reasoningTokens: num(r.reasoning_tokens),
    costUsd: round(num(r.cost_usd), 9),
    errors: num(r.errors),
    timeouts: num(r.timeouts),
    rateLimited: num(r.rate_limited),
    budgetRejections: num(r.budget_rejections),
  };
}

/** Usage figures of nothing (no LLM call in the range). */
export function emptyUsage(): UsageFigures {
  return { calls: 0, inputTokens: 0, outputTokens: 0, cachedInputTokens: 0, reasoningTokens: 0, costUsd: 0, errors: 0, timeouts: 0, rateLimited: 0, budgetRejections: 0 };
}

/** The sum of usage figures. */
export function sumUsage(rows: readonly UsageFigures[]): UsageFigures {
  const t = emptyUsage();
  for (const r of rows) {
    t.calls += r.calls;
    t.inputTokens += r.inputTokens;
    t.outputTokens += r.outputTokens;
    t.cachedInputTokens += r.cachedInputTokens;
    t.reasoningTokens += r.reasoningTokens;
    t.costUsd += r.costUsd;
    t.errors += r.errors;
    t.timeouts += r.timeouts;
    t.rateLimited += r.rateLimited;
    t.budgetRejections += r.budgetRejections;
  }
  t.costUsd = round(t.costUsd, 9);
  return t;
}
