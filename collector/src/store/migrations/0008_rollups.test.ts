import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { overview } from "../../query/overview-queries.js";
import { usageReport } from "../../query/usage-queries.js";
import { rawSpanFigures, rawUsageFigures } from "../../rollups/raw-figures.test-helper.js";
import { RollupPlan } from "../../rollups/rollup-plan.js";
import { RollupSealer } from "../../rollups/rollup-sealer.js";
import { batchRows, type TurnGen } from "../../rollups/rollup-workload.test-helper.js";
import { SPAN_ROLLUP } from "../../rollups/span-rollup.js";
import { USAGE_ROLLUP } from "../../rollups/usage-rollup.js";
import { createChdbGateway } from "../chdb-gateway.js";
import { createClickHouseSpanStore } from "../clickhouse-span-store.js";
import { runMigrations } from "../migrate.js";
import { MIGRATIONS } from "./index.js";

const dir = mkdtempSync(join(tmpdir(), "troupe-migrate-0008-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const HOUR = 3_600_000;

function turn(hour: number, minute: number, o: Partial<TurnGen> = {}): TurnGen {
  return {
    tenant: 0, agent: "planner", hour, minute, ms: 12_345, durationUs: 120_000 + minute * 997, outcome: minute % 5 === 0 ? "error" : "ok", llm: true, llmError: false,
    model: minute % 2 ? "gpt-4o" : "small", inputTokens: 50 + minute, outputTokens: 5, costMicros: 700, ratio: null, refusedSend: null, queueWaitUs: 1_500, handlerUs: 90_000,
    ledger: "", usageOutcome: "ok", ...o,
  };
}

describe("migration 0008 (rollups)", () => {
  it("marks what was stored before it, so the sealer builds its rollups; figures stay exact before and after", async () => {
    const gateway = createChdbGateway({ dataDir: dir });
    try {
      expect(await runMigrations(gateway, MIGRATIONS.filter((m) => m.version <= 7))).toEqual([1, 2, 3, 4, 5, 6, 7]);
      const baseMs = Math.floor(Date.now() / HOUR) * HOUR - 3 * HOUR;
      const turns = [...Array.from({ length: 40 }, (_, i) => turn(i % 3, (i * 7) % 60)), turn(1, 3, { tenant: 1, agent: "coder" })];
      const { spans, usage } = batchRows(turns, ["old", "older"], baseMs);
      const store = createClickHouseSpanStore(gateway);
      await store.insertSpans(spans, "before-0008");
      await store.insertSpans(spans.slice(0, 10), "before-0008-resent");
      await gateway.insert("usage_records", usage, { dedupToken: "before-0008" });
      const range = { fromMs: baseMs, toMs: baseMs + 3 * HOUR };
      const expected = await rawSpanFigures(gateway, "old", range);
      const expectedUsage = await rawUsageFigures(gateway, ["old"], range, "model");

      // 0009 too: reads of recent raw usage use its table.
      expect(await runMigrations(gateway, MIGRATIONS.filter((m) => m.version <= 9))).toEqual([8, 9]);
      // Every minute stored is marked; nothing is built yet, and reads of it use the raw tables.
      const [{ marked }] = (await gateway.query<{ marked: string }>("SELECT count() AS marked FROM (SELECT DISTINCT tenant_id, bucket FROM span_marks_1m)")) as [{ marked: string }];
      const [{ minutes }] = (await gateway.query<{ minutes: string }>("SELECT uniqExact(tenant_id, toStartOfMinute(start_time)) AS minutes FROM spans")) as [{ minutes: string }];
      expect(Number(marked)).toBe(Number(minutes));
      const plan = () => RollupPlan.make(gateway, SPAN_ROLLUP, { tenantId: "old" }, range, { hours: true });
      expect((await plan()).describe()).toMatchObject({ staleHours: 3, allRaw: false });
      const check = async () => {
        const o = await overview(gateway, "old", range);
        expect(o.totals).toMatchObject(expected.totals);
        expect(o.topAgents.map(({ costUsd: _c, ...a }) => a)).toEqual(expected.topAgents);
        const byModel = await usageReport(gateway, "old", range, "model");
        expect(Object.fromEntries(byModel.rows.map(({ group, ...f }) => [group, f.calls]))).toEqual(Object.fromEntries([...expectedUsage].map(([g, f]) => [g, f.calls])));
      };
      await check();

      const sealer = new RollupSealer({ gateway });
      await sealer.sealAll(0);
      expect((await plan()).describe()).toEqual({ staleHours: 0, staleMinutes: 0, allRaw: false });
      const usagePlan = await RollupPlan.make(gateway, USAGE_ROLLUP, { tenantId: "old" }, range, { hours: true });
      expect(usagePlan.describe()).toEqual({ staleHours: 0, staleMinutes: 0, allRaw: false });
      await check();

      // Re-running its statements (a half-applied migration) marks again; the figures do not move.
      for (const statement of MIGRATIONS.find((m) => m.version === 8)!.statements) await gateway.command(statement);
      await check();
      await sealer.sealAll(0);
      await check();
      await sealer.close();
    } finally {
      await gateway.close();
    }
  });
});
