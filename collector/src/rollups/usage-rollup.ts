import type { RollupSource } from "./rollup-source.js";

/**
 * Rollups of usage records: per bucket, by agent type, requested model, outcome and budget ledger.
 * Measured: calls (attempts), the four token counts and cost.
 */
export const USAGE_ROLLUP: RollupSource = {
  name: "usage",
  rawTable: "usage_records",
  timeColumn: "time",
  finalSettingsSql: "SETTINGS do_not_merge_across_partitions_select_final = 1, optimize_move_to_prewhere_if_final = 1",
  minuteMarksTable: "usage_marks_1m",
  hourMarksTable: "usage_marks_1h",
  minuteTable: "usage_rollups_1m",
  hourTable: "usage_rollups_1h",
  // Kept three days (migration 0008); read for ranges of the last two.
  recent: { table: "usage_recent", windowMs: 2 * 86_400_000 },
  dimensions: [
    { name: "agent_type", rawSql: "agent_type" },
    { name: "model", rawSql: "model" },
    { name: "outcome", rawSql: "outcome" },
    { name: "ledger_id", rawSql: "ledger_id" },
  ],
  measures: [
    { name: "calls", rawSql: "count()" },
    { name: "input_tokens", rawSql: "sum(input_tokens)" },
    { name: "output_tokens", rawSql: "sum(output_tokens)" },
    { name: "cached_input_tokens", rawSql: "sum(cached_input_tokens)" },
    { name: "reasoning_tokens", rawSql: "sum(reasoning_tokens)" },
    { name: "cost_usd", rawSql: "sum(cost_usd)" },
  ],
};
