import { TURN_RAN_SQL } from "../query/span-sql.js";
import { quantileStateSql, type RollupSource } from "./rollup-source.js";

/** The sampling ratio a kept trace's root carries (query/sampling-queries.ts names it too). */
const RATIO = "toFloat64OrZero(attributes['troupe.sampling.ratio'])";

/**
 * Rollups of spans: per bucket, by agent type, model, operation, kind, status and outcome, and for
 * root spans the sampling ratio their trace was kept at (in (0, 1]; 0 marks a span that is not a
 * root, so `root_ratio > 0` counts traces by their roots). Measured: spans, queue-wait and
 * handler-time sums, and quantile states of the durations (ms) and queue waits of turns that ran
 * (TURN_RAN_SQL; empty for other spans, so a read merges only the states it uses).
 */
export const SPAN_ROLLUP: RollupSource = {
  name: "spans",
  rawTable: "spans",
  timeColumn: "start_time",
  finalSettingsSql: "SETTINGS do_not_merge_across_partitions_select_final = 1, optimize_move_to_prewhere_if_final = 1",
  minuteMarksTable: "span_marks_1m",
  hourMarksTable: "span_marks_1h",
  minuteTable: "span_rollups_1m",
  hourTable: "span_rollups_1h",
  dimensions: [
    { name: "agent_type", rawSql: "agent_type" },
    { name: "model", rawSql: "model" },
    { name: "operation", rawSql: "operation" },
    { name: "kind", rawSql: "kind" },
    { name: "status_code", rawSql: "status_code" },
    { name: "outcome", rawSql: "outcome" },
    { name: "root_ratio", rawSql: `if(parent_span_id = '', if(isFinite(${RATIO}) AND ${RATIO} > 0 AND ${RATIO} < 1, ${RATIO}, 1), 0)` },
  ],
  measures: [
    { name: "spans", rawSql: "count()" },
    { name: "queue_wait_ms", rawSql: "sum(queue_wait_ms)" },
    { name: "handler_wall_ms", rawSql: "sum(handler_wall_ms)" },
    { name: "duration_q", rawSql: quantileStateSql("duration_ns / 1e6", TURN_RAN_SQL) },
    { name: "queue_wait_q", rawSql: quantileStateSql("queue_wait_ms", TURN_RAN_SQL) },
  ],
};
