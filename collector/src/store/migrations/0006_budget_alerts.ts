import type { Migration } from "./migration.js";

/**
 * Budget alerts, their webhook deliveries and each tenant's webhook. Design choices:
 * - budget_alerts is ReplacingMergeTree(version) keyed (tenant_id, alert_key): an alert is raised once
 *   per key ever (`day:2026-12-06:tokens:0.8`, `day:2026-12-06:rejected`). Two instances raising the
 *   same key write rows that collapse to one; a delivery state change is a new row with a higher
 *   version. Read with FINAL. Kept ~400 days (a year of monthly windows, and some).
 * - webhook_deliveries logs every delivery attempt (append only), kept 30 days.
 * - tenant_webhooks holds the signing secret AS IS, not hashed: the collector must compute
 *   HMAC-SHA256 with it on every delivery, so a digest would be useless. It leaves the collector only
 *   in the answer of the PUT that creates it, and is never logged nor audited. Deleting a webhook is
 *   a row with deleted = 1 and an empty secret (the old secret goes at the next merge).
 */
export const migration0006: Migration = {
  version: 6,
  name: "budget_alerts",
  statements: [
    `CREATE TABLE IF NOT EXISTS budget_alerts (
      tenant_id LowCardinality(String),
      alert_id String,
      alert_key String,
      kind LowCardinality(String),
      window LowCardinality(String),
      window_key String,
      metric LowCardinality(String),
      threshold Nullable(Float64),
      used Float64,
      limit Nullable(Float64),
      raised_at DateTime64(3, 'UTC'),
      delivery LowCardinality(String),
      version UInt64
    ) ENGINE = ReplacingMergeTree(version)
    ORDER BY (tenant_id, alert_key)
    TTL toDateTime(raised_at) + toIntervalDay(400)`,
    `CREATE TABLE IF NOT EXISTS webhook_deliveries (
      tenant_id LowCardinality(String),
      alert_id String,
      attempt UInt16,
      at DateTime64(3, 'UTC'),
      url String,
      status_code Nullable(UInt16),
      outcome LowCardinality(String),
      error Nullable(String),
      duration_ms Float64
    ) ENGINE = MergeTree
    ORDER BY (tenant_id, at)
    TTL toDateTime(at) + toIntervalDay(30)`,
    `CREATE TABLE IF NOT EXISTS tenant_webhooks (
      tenant_id String,
      url String,
      secret String,
      updated_at DateTime64(3, 'UTC'),
      deleted UInt8,
      version UInt64
    ) ENGINE = ReplacingMergeTree(version)
    ORDER BY tenant_id`,
  ],
};
