import type { Migration } from "./migration.js";

/**
 * Tenants, API keys and the admin audit log. Tenants and keys are ReplacingMergeTree with a
 * version: an update is a new row with a higher version, read with FINAL. Keys hold only the
 * SHA-256 of their secret.
 */
export const migration0002: Migration = {
  version: 2,
  name: "tenants_keys_audit",
  statements: [
    `CREATE TABLE IF NOT EXISTS tenants (
      id String,
      name String,
      tier LowCardinality(String),
      retention_days UInt16,
      daily_tokens Nullable(UInt64),
      monthly_tokens Nullable(UInt64),
      daily_cost_usd Nullable(Float64),
      monthly_cost_usd Nullable(Float64),
      created_at DateTime64(3, 'UTC'),
      updated_at DateTime64(3, 'UTC'),
      version UInt64
    ) ENGINE = ReplacingMergeTree(version) ORDER BY id`,
    `CREATE TABLE IF NOT EXISTS api_keys (
      key_id String,
      secret_hash String,
      kind LowCardinality(String),
      tenant_id String,
      allowed_tenants Array(String),
      created_at DateTime64(3, 'UTC'),
      revoked_at Nullable(DateTime64(3, 'UTC')),
      version UInt64,
      INDEX idx_secret_hash secret_hash TYPE bloom_filter(0.001) GRANULARITY 1
    ) ENGINE = ReplacingMergeTree(version) ORDER BY key_id`,
    `CREATE TABLE IF NOT EXISTS audit_log (
      at DateTime64(3, 'UTC'),
      actor String,
      action LowCardinality(String),
      target String,
      details String
    ) ENGINE = MergeTree ORDER BY at`,
  ],
};
