import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createChdbGateway } from "../chdb-gateway.js";
import type { ClickHouseGateway } from "../clickhouse-gateway.js";
import { runMigrations } from "../migrate.js";
import { MIGRATIONS } from "./index.js";

const dir = mkdtempSync(join(tmpdir(), "troupe-migrate-0010-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Inserts a batch of about 14 MB uncompressed (past the engine's 10 MiB default for wide parts); its new part's type and file count. */
async function insertBatch(gateway: ClickHouseGateway, tenant: string): Promise<{ type: string; files: number }> {
  await gateway.command(
    `INSERT INTO spans (tenant_id, trace_id, span_id, name, start_time, duration_ns, attributes, retention_days)
     SELECT {tenant:String}, hex(rand64()), hex(rand64()), 'llm.call', now64(9) - number, 1000, map('troupe.agent.type', 'support', 'x', repeat('z', 400)), 30
     FROM numbers(30000)`,
    { tenant },
  );
  const parts = await gateway.query<{ part_type: string; path: string }>(
    "SELECT part_type, path FROM system.parts WHERE active AND database = currentDatabase() AND table = 'spans' ORDER BY modification_time DESC, name DESC LIMIT 1",
  );
  return { type: parts[0]!.part_type, files: readdirSync(parts[0]!.path).length };
}

describe("migration 0010 (compact span parts)", () => {
  it("makes a batch's new spans part one compact part of a few files instead of a wide part of a file per column stream", async () => {
    const gateway = createChdbGateway({ dataDir: dir });
    try {
      await runMigrations(gateway, MIGRATIONS.filter((m) => m.version <= 9));
      await gateway.command("SYSTEM STOP MERGES spans");
      const wide = await insertBatch(gateway, "before");
      expect(wide.type).toBe("Wide");

      expect(await runMigrations(gateway)).toEqual([10]);
      const compact = await insertBatch(gateway, "after");
      expect(compact.type).toBe("Compact");
      expect(compact.files).toBeLessThan(wide.files / 5);

      // Rows read back the same from either kind of part.
      const rows = await gateway.query<{ tenant_id: string; n: string; agent: string; padding: string }>(
        "SELECT tenant_id, count() AS n, any(agent_type) AS agent, min(length(attributes['x'])) AS padding FROM spans GROUP BY tenant_id ORDER BY tenant_id",
      );
      expect(rows.map((r) => [r.tenant_id, Number(r.n), r.agent, Number(r.padding)])).toEqual([
        ["after", 30000, "support", 400],
        ["before", 30000, "support", 400],
      ]);
    } finally {
      await gateway.close();
    }
  });
});
