import type { ClickHouseGateway } from "./clickhouse-gateway.js";
import type { Migration } from "./migrations/migration.js";
import { MIGRATIONS } from "./migrations/index.js";
import { toClickHouseDateTime } from "./clickhouse-time.js";

/**
 * Applies the migrations not yet recorded in `schema_migrations`, in version order, and records
 * each. Idempotent: running it again (a restart) applies nothing. Returns the versions applied now.
 */
export async function runMigrations(gateway: ClickHouseGateway, migrations: readonly Migration[] = MIGRATIONS): Promise<number[]> {
  await gateway.command(
    `CREATE TABLE IF NOT EXISTS schema_migrations (version UInt32, name String, applied_at DateTime64(3, 'UTC')) ENGINE = MergeTree ORDER BY version`,
  );
  const rows = await gateway.query<{ version: number }>("SELECT DISTINCT version FROM schema_migrations");
  const applied = new Set(rows.map((r) => Number(r.version)));
  const sorted = [...migrations].sort((a, b) => a.version - b.version);
  const now: number[] = [];
  for (const m of sorted) {
    if (applied.has(m.version)) continue;
    for (const statement of m.statements) await gateway.command(statement);
    await gateway.insert("schema_migrations", [{ version: m.version, name: m.name, applied_at: toClickHouseDateTime(Date.now()) }]);
    now.push(m.version);
  }
  return now;
}
