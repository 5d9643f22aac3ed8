import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { insertUsage, insertUsageRows } from "../../query/seed-usage.test-helper.js";
import { createChdbGateway } from "../chdb-gateway.js";
import { runMigrations } from "../migrate.js";
import { MIGRATIONS } from "./index.js";

const dir = mkdtempSync(join(tmpdir(), "troupe-migrate-0009-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const DAY = 86_400_000;

describe("migration 0009 (usage_recent)", () => {
  it("copies the last three days of usage records, keeps later inserts, and counts a re-sent record once", async () => {
    const gateway = createChdbGateway({ dataDir: dir });
    try {
      expect(await runMigrations(gateway, MIGRATIONS.filter((m) => m.version <= 8))).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
      const now = Date.now();
      const recent = await insertUsage(gateway, [
        { tenantId: "acme", timeMs: now - 60_000 },
        { tenantId: "acme", timeMs: now - 2 * DAY },
      ]);
      await insertUsage(gateway, [{ tenantId: "acme", timeMs: now - 5 * DAY }]);

      expect(await runMigrations(gateway, MIGRATIONS.filter((m) => m.version <= 9))).toEqual([9]);
      const count = async () => {
        const [{ n }] = (await gateway.query<{ n: string }>("SELECT count() AS n FROM usage_recent FINAL WHERE tenant_id = 'acme'")) as [{ n: string }];
        return Number(n);
      };
      expect(await count()).toBe(2);

      // New records arrive through the view; a record re-sent in a new batch collapses.
      await insertUsage(gateway, [{ tenantId: "acme", timeMs: now }]);
      await insertUsageRows(gateway, [recent[0]!], "resent");
      expect(await count()).toBe(3);

      // Re-running its statements (a half-applied migration) copies again; nothing counts twice.
      for (const statement of MIGRATIONS.find((m) => m.version === 9)!.statements) await gateway.command(statement);
      expect(await count()).toBe(3);
    } finally {
      await gateway.close();
    }
  });
});
