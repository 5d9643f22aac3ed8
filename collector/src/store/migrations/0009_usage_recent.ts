import type { Migration } from "./migration.js";

/**
 * The usage records of the last days sorted by tenant and minute (docs/rollups.md). `usage_records`
 * sorts a tenant's day by record id, so reading a few of its minutes (the open edge of a page, a
 * minute the sealer rebuilds) costs the whole day; this copy costs those minutes.
 *
 * - Filled by a materialized view on every insert into `usage_records`; backfilled with the last
 *   three days. Kept three days (or less when the tenant's retention is shorter); read for minutes
 *   of the last two (`USAGE_ROLLUP.recent`), so a read never falls off its end.
 * - A ReplacingMergeTree keyed by (tenant, minute, record id): a record re-sent in a new batch, or a
 *   replayed batch, collapses here as it does in `usage_records`, and reads use FINAL.
 */
export const migration0009: Migration = {
  version: 9,
  name: "usage_recent",
  statements: [
    `CREATE TABLE IF NOT EXISTS usage_recent (
      tenant_id LowCardinality(String),
      time DateTime64(3, 'UTC'),
      record_id String,
      agent_type LowCardinality(String),
      model LowCardinality(String),
      outcome LowCardinality(String),
      ledger_id LowCardinality(String),
      input_tokens UInt64,
      output_tokens UInt64,
      cached_input_tokens UInt64,
      reasoning_tokens UInt64,
      cost_usd Float64,
      retention_days UInt16
    )
    ENGINE = ReplacingMergeTree
    PARTITION BY toYYYYMMDD(time)
    ORDER BY (tenant_id, toStartOfMinute(time), record_id)
    TTL toDateTime(time) + toIntervalDay(least(3, retention_days))`,
    `CREATE MATERIALIZED VIEW IF NOT EXISTS usage_recent_mv TO usage_recent AS
      SELECT tenant_id, time, record_id, agent_type, model, outcome, ledger_id, input_tokens, output_tokens, cached_input_tokens, reasoning_tokens, cost_usd, retention_days
      FROM usage_records`,
    // A re-run after a partial apply copies again; the copies collapse (same key).
    `INSERT INTO usage_recent
      SELECT tenant_id, time, record_id, agent_type, model, outcome, ledger_id, input_tokens, output_tokens, cached_input_tokens, reasoning_tokens, cost_usd, retention_days
      FROM usage_records
      WHERE time >= now64(3, 'UTC') - toIntervalDay(3)`,
  ],
};
