import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createChdbGateway } from "../chdb-gateway.js";
import { runMigrations } from "../migrate.js";
import { MIGRATIONS } from "./index.js";

const dir = mkdtempSync(join(tmpdir(), "troupe-migrate-0005-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("migration 0005 (control plane)", () => {
  it("applies on a database migrated to 0004 with data in it: old rows read as nothing managed, default thresholds, no ledger", async () => {
    const gateway = createChdbGateway({ dataDir: dir });
    try {
      expect(await runMigrations(gateway, MIGRATIONS.filter((m) => m.version <= 4))).toEqual([1, 2, 3, 4]);
      await gateway.command(
        `INSERT INTO tenants (id, name, tier, retention_days, created_at, updated_at, version) VALUES ('old', 'Old', 'shared', 30, now64(3), now64(3), 1)`,
      );
      await gateway.command(
        `INSERT INTO usage_records (tenant_id, time, record_id, outcome, input_tokens, output_tokens, cost_usd, usage_exact, retention_days)
         VALUES ('old', now64(3), 'r1', 'ok', 1, 2, 0.5, true, 30)`,
      );

      const through5 = MIGRATIONS.filter((m) => m.version <= 5);
      expect(await runMigrations(gateway, through5)).toEqual([5]);
      expect(await runMigrations(gateway, through5)).toEqual([]);

      const [tenant] = await gateway.query<Record<string, unknown>>(
        `SELECT max_in_flight_turns, max_queued_messages, messages_per_second, turn_timeout_ms, weight, requests_per_minute, tokens_per_minute, sampling_ratio, alert_thresholds
         FROM tenants FINAL WHERE id = 'old'`,
      );
      expect(tenant).toEqual({
        max_in_flight_turns: null, max_queued_messages: null, messages_per_second: null, turn_timeout_ms: null, weight: null,
        requests_per_minute: null, tokens_per_minute: null, sampling_ratio: null, alert_thresholds: [0.8, 0.95],
      });
      expect(await gateway.query(`SELECT record_id, ledger_id FROM usage_records`)).toEqual([{ record_id: "r1", ledger_id: "" }]);

      // Recent times: check-ins expire after 7 days (TTL), and an expired row may be gone before the read.
      const at = (secondsAgo: number) => new Date(Date.now() - secondsAgo * 1000).toISOString().replace("T", " ").replace("Z", "");
      await gateway.insert("runtime_checkins", [
        { runtime_id: "rt-1", name: "a", tenants: ["old"], applied_version: 1, first_seen: at(10), last_seen: at(9) },
        { runtime_id: "rt-1", name: "a", tenants: ["old"], applied_version: 2, first_seen: at(10), last_seen: at(8) },
      ]);
      // The latest check-in of a runtime wins.
      const checkIns = await gateway.query<{ runtime_id: string; applied_version: number | string }>(`SELECT runtime_id, applied_version FROM runtime_checkins FINAL`);
      expect(checkIns.map((r) => [r.runtime_id, Number(r.applied_version)])).toEqual([["rt-1", 2]]);

      // Re-running its statements (a half-applied migration) changes nothing.
      for (const statement of MIGRATIONS.find((m) => m.version === 5)!.statements) await gateway.command(statement);
    } finally {
      await gateway.close();
    }
  });
});
