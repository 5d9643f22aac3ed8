import type { Migration } from "./migration.js";

/**
 * The control plane (issue #15): the tenant registry holds every setting its runtimes follow, usage
 * records name the budget ledger that charged them, and runtimes' check-ins are kept. Design choices:
 * - New tenant settings are Nullable columns, NULL meaning "the runtime's own value": rows written
 *   before this migration read as "nothing managed", and alert thresholds default to 0.8 and 0.95.
 * - `ledger_id` defaults to "" (unknown), which no runtime ever excludes.
 * - runtime_checkins is a ReplacingMergeTree keyed by runtime id, the latest `last_seen` winning;
 *   read with FINAL. Runtimes not seen for 7 days expire (a restarted runtime has a new id).
 * Plain ALTER ... ADD COLUMN IF NOT EXISTS and CREATE ... IF NOT EXISTS: the same text runs on chDB
 * and a server, and re-running a half-applied migration is harmless.
 */
export const migration0005: Migration = {
  version: 5,
  name: "control_plane",
  statements: [
    `ALTER TABLE tenants
      ADD COLUMN IF NOT EXISTS max_in_flight_turns Nullable(UInt32),
      ADD COLUMN IF NOT EXISTS max_queued_messages Nullable(UInt32),
      ADD COLUMN IF NOT EXISTS messages_per_second Nullable(Float64),
      ADD COLUMN IF NOT EXISTS turn_timeout_ms Nullable(UInt32),
      ADD COLUMN IF NOT EXISTS weight Nullable(Float64),
      ADD COLUMN IF NOT EXISTS requests_per_minute Nullable(Float64),
      ADD COLUMN IF NOT EXISTS tokens_per_minute Nullable(Float64),
      ADD COLUMN IF NOT EXISTS sampling_ratio Nullable(Float64),
      ADD COLUMN IF NOT EXISTS alert_thresholds Array(Float64) DEFAULT [0.8, 0.95]`,
    `ALTER TABLE usage_records ADD COLUMN IF NOT EXISTS ledger_id LowCardinality(String) DEFAULT ''`,
    `CREATE TABLE IF NOT EXISTS runtime_checkins (
      runtime_id String,
      name String,
      tenants Array(String),
      applied_version UInt64,
      first_seen DateTime64(3, 'UTC'),
      last_seen DateTime64(3, 'UTC')
    ) ENGINE = ReplacingMergeTree(last_seen)
    ORDER BY runtime_id
    TTL toDateTime(last_seen) + toIntervalDay(7)`,
  ],
};
