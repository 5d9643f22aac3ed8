import type { Migration } from "./migration.js";

/**
 * Console sessions that were signed out, by SHA-256 digest of the session cookie (never the cookie),
 * kept until the session would have expired: every console instance refuses them, across restarts.
 */
export const migration0003: Migration = {
  version: 3,
  name: "ended_sessions",
  statements: [
    `CREATE TABLE IF NOT EXISTS ended_sessions (
      digest String,
      key_id String,
      ended_at DateTime64(3, 'UTC'),
      expires_at DateTime64(3, 'UTC')
    ) ENGINE = ReplacingMergeTree ORDER BY digest TTL toDateTime(expires_at)`,
  ],
};
