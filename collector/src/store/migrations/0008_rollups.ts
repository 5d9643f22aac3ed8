import type { Migration } from "./migration.js";

/**
 * Minute tables by day, so that a read of all tenants over a range (the operator's list) reads the
 * days of the range, not the month; hour tables by month.
 */
const PARTITION = { "1m": "toYYYYMMDD(bucket)", "1h": "toYYYYMM(bucket)" } as const;

/** One minute/hour rollup table pair: the same columns, one row per (tenant, bucket). */
function rollupTables(name: string, columns: string): string[] {
  return (["1m", "1h"] as const).map(
    (level) => `CREATE TABLE IF NOT EXISTS ${name}_${level} (
      tenant_id LowCardinality(String),
      bucket DateTime('UTC'),
      version DateTime64(3, 'UTC'),
      retention_days UInt16,
      ${columns}
    )
    ENGINE = ReplacingMergeTree(version)
    PARTITION BY ${PARTITION[level]}
    ORDER BY (tenant_id, bucket)
    TTL bucket + toIntervalDay(retention_days)`,
  );
}

/** The marks of one raw table: when rows last arrived for each (tenant, minute) and (tenant, hour). */
function marks(name: string, source: string, timeColumn: string): string[] {
  const levels = [
    ["1m", "toStartOfMinute"],
    ["1h", "toStartOfHour"],
  ] as const;
  return levels.flatMap(([level, bucketOf]) => [
    `CREATE TABLE IF NOT EXISTS ${name}_${level} (
      tenant_id LowCardinality(String),
      bucket DateTime('UTC'),
      last_insert_at SimpleAggregateFunction(max, DateTime64(3, 'UTC')),
      retention_days SimpleAggregateFunction(max, UInt16),
      INDEX idx_last_insert_at last_insert_at TYPE minmax GRANULARITY 1
    )
    ENGINE = AggregatingMergeTree
    PARTITION BY ${PARTITION[level]}
    ORDER BY (tenant_id, bucket)
    TTL bucket + toIntervalDay(retention_days)`,
    `CREATE MATERIALIZED VIEW IF NOT EXISTS ${name}_${level}_mv TO ${name}_${level} AS
      SELECT tenant_id, toDateTime(${bucketOf}(${timeColumn}), 'UTC') AS bucket, now64(3, 'UTC') AS last_insert_at, max(retention_days) AS retention_days
      FROM ${source}
      GROUP BY tenant_id, bucket`,
    // What was stored before this migration is marked as arriving now: the sealer builds its rollups.
    `INSERT INTO ${name}_${level} (tenant_id, bucket, last_insert_at, retention_days)
      SELECT tenant_id, toDateTime(${bucketOf}(${timeColumn}), 'UTC') AS bucket, now64(3, 'UTC'), max(retention_days)
      FROM ${source}
      GROUP BY tenant_id, bucket`,
  ]);
}

const QUANTILES = "AggregateFunction(quantilesExactWeighted(0.5, 0.95, 0.99), Float64, UInt64)";

/**
 * Rollups (docs/rollups.md): what the overview, agents, usage and operator pages read instead of raw
 * spans and usage records, so that a page costs what its time range costs, not what the tenant sent.
 * Design choices:
 * - span_rollups_1m / _1h and usage_rollups_1m / _1h hold ONE row per (tenant, minute or hour): the
 *   bucket's whole breakdown as parallel arrays (spans: agent type, model, operation, kind, status,
 *   outcome, root sampling ratio → span count, queue-wait and handler-time sums, quantile states of
 *   durations and queue waits; usage: agent type, model, outcome, ledger → calls, tokens, cost).
 *   ReplacingMergeTree(version): a rebuild replaces the row, and since a row is written whole, a
 *   reader (FINAL) always sees one complete build of a bucket, never a mix of two.
 * - Rows are built by the rollup sealer (collector/src/rollups/rollup-sealer.ts) from `spans FINAL`
 *   / `usage_records FINAL`, never incremented by a materialized view: a span or record re-sent in a
 *   new batch is collapsed by the raw table's ReplacingMergeTree, which an incrementing view cannot
 *   see, so it would count it twice. A row's `version` is "every insert marked up to this time is in it".
 * - span_marks_1m / _1h and usage_marks_1m / _1h, filled by materialized views on every insert into
 *   the raw tables: when rows last arrived for each (tenant, minute) and (tenant, hour) (hour marks
 *   keep the check of a month to a row per tenant and hour). A bucket whose mark is newer than its
 *   rollup's version is read from the raw table until the sealer rebuilds it, so reads are exact at
 *   once, whatever was re-sent. The marks tables keep no deduplication window on purpose: a replayed
 *   batch that the raw table drops may still mark its minutes, which costs one needless rebuild,
 *   while a mark dropped for rows that were stored would leave a stale rollup in use.
 * - The durations and queue waits of turns that ran enter quantile states rounded to three
 *   significant digits (the precision the console shows), so a state holds at most ~900 values per
 *   decade whatever the volume.
 * - Backfill: the minutes already stored are marked now; the sealer builds their rollups in bounded
 *   batches after start (newest first), and until then reads of those minutes use the raw tables.
 * - Same per-tenant retention as the raw rows (TTL on the bucket's start). Plain CREATE ... IF NOT
 *   EXISTS and INSERT ... SELECT: the same text runs on chDB and a server; a re-run marks again.
 */
export const migration0008: Migration = {
  version: 8,
  name: "rollups",
  statements: [
    ...rollupTables(
      "span_rollups",
      `agent_type Array(LowCardinality(String)),
      model Array(LowCardinality(String)),
      operation Array(LowCardinality(String)),
      kind Array(UInt8),
      status_code Array(UInt8),
      outcome Array(LowCardinality(String)),
      root_ratio Array(Float64),
      spans Array(UInt64),
      queue_wait_ms Array(Float64),
      handler_wall_ms Array(Float64),
      duration_q Array(${QUANTILES}),
      queue_wait_q Array(${QUANTILES})`,
    ),
    ...rollupTables(
      "usage_rollups",
      `agent_type Array(LowCardinality(String)),
      model Array(LowCardinality(String)),
      outcome Array(LowCardinality(String)),
      ledger_id Array(LowCardinality(String)),
      calls Array(UInt64),
      input_tokens Array(UInt64),
      output_tokens Array(UInt64),
      cached_input_tokens Array(UInt64),
      reasoning_tokens Array(UInt64),
      cost_usd Array(Float64)`,
    ),
    ...marks("span_marks", "spans", "start_time"),
    ...marks("usage_marks", "usage_records", "time"),
  ],
};
