/** Outcomes of a message the runtime refused before it reached a handler (quota, rate, loop guard). */
const REFUSED_OUTCOMES = "('quota_rejected', 'rate_limited', 'loop_dropped', 'dropped')";

/**
 * SQL predicate: the span is one agent turn. The runtime marks a turn's outcome on several spans
 * (send, process, invoke_agent); exactly one of them counts: the `process` span (CONSUMER) of a
 * turn that was delivered, or the `send`/`publish` span (PRODUCER) of a message refused at the door.
 */
export const IS_TURN_SQL = `((kind = 5 AND outcome != '') OR (kind = 4 AND outcome IN ${REFUSED_OUTCOMES}))`;

/** SQL predicate: the turn ran its handler (was not rejected before running). */
export const TURN_RAN_SQL = "(kind = 5 AND outcome IN ('ok', 'error', 'timeout'))";

/** A numeric column value (ClickHouse may send 64-bit numbers as strings) as a JS number. */
export function num(value: unknown): number {
  const n = typeof value === "number" ? value : Number(value);
  return Number.isFinite(n) ? n : 0;
}

/** Rounds a duration or money amount for display without losing meaningful precision. */
export function round(value: number, digits = 6): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/**
 * Appended to every `FROM spans FINAL` query. Both settings are safe for this table because
 * duplicates are identical copies of one span (a replayed or re-sent export):
 * - every sorting key (tenant, hour, trace, span) lies in one day partition, so FINAL can work per
 *   partition instead of merging across all of them (7x faster for all-tenant scans at 10M spans);
 * - copies agree on every column a filter reads, so filtering before FINAL (PREWHERE) keeps
 *   exactly the spans filtering after it would (about 1.5x faster for usage at 10M spans).
 */
export const FINAL_SETTINGS_SQL = "SETTINGS do_not_merge_across_partitions_select_final = 1, optimize_move_to_prewhere_if_final = 1";
