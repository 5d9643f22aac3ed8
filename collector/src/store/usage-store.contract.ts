import { randomUUID } from "node:crypto";
import type { UsageRecord } from "@troupe/contract";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClickHouseUsageStore } from "./clickhouse-usage-store.js";
import type { ContractTarget } from "./store.contract.js";
import type { UsageRecordRow } from "./usage-record-row.js";
import type { UsageStore } from "./usage-store.js";

const DAY_MS = 86_400_000;

function row(overrides: Partial<UsageRecordRow> = {}): UsageRecordRow {
  return {
    id: randomUUID(),
    tenant: "acme",
    agentType: "sühpört \"agent\" \n",
    model: "gpt-4o-mini",
    responseModel: "gpt-4o-mini-2024-07-18",
    provider: "openai",
    inputTokens: Number.MAX_SAFE_INTEGER,
    outputTokens: 2,
    cachedInputTokens: 4,
    reasoningTokens: 1,
    costUsd: 0.1 + 0.2,
    outcome: "rate_limited",
    usageExact: false,
    timeMs: Date.now() - 3_600_000 + 0.75,
    traceId: "0af7651916cd43dd8448eb211c80319c",
    spanId: "b7ad6b7169203331",
    ledgerId: "ledger-7f3a",
    serviceName: "svc",
    retentionDays: 30,
    ...overrides,
  };
}

/** What findStored gives back for a row: the record, its time in whole milliseconds. */
function recordOf({ serviceName: _s, retentionDays: _r, ...record }: UsageRecordRow): UsageRecord {
  return { ...record, timeMs: Math.floor(record.timeMs) };
}

/**
 * The contract of the usage store on every engine (chDB always; a ClickHouse server when
 * configured): exact round trips, the tenant bound, the lookup's days, insert deduplication.
 */
export function describeUsageStoreContract(name: string, makeTarget: () => Promise<ContractTarget>, options: { skip?: boolean } = {}): void {
  describe.skipIf(options.skip ?? false)(`UsageStore contract: ${name}`, () => {
    let target: ContractTarget;
    let store: UsageStore;

    beforeAll(async () => {
      target = await makeTarget();
      store = createClickHouseUsageStore(target.gateway);
    });
    afterAll(async () => {
      await target?.dispose();
    });

    it("gives back exactly what it stored, found by tenant and id", async () => {
      const rows = [row(), row({ tenant: "globex", usageExact: true, outcome: "ok", traceId: "", spanId: "", agentType: "", ledgerId: "" }), row({ costUsd: 1e-12, inputTokens: 0 })];
      await store.insertUsage(rows, randomUUID());
      const found = await store.findStored(rows);
      expect(found.sort((a, b) => a.id.localeCompare(b.id))).toEqual(rows.map(recordOf).sort((a, b) => a.id.localeCompare(b.id)));
      const [retention] = await target.gateway.query<{ r: number }>("SELECT max(retention_days) AS r FROM usage_records WHERE record_id = {id:String}", { id: rows[0]!.id });
      expect(Number(retention!.r)).toBe(30);
    });

    it("stores a row spooled before usage records named their ledger (replayed after an upgrade) with ledger \"\"", async () => {
      const { ledgerId: _l, ...old } = row();
      await store.insertUsage([old as UsageRecordRow], randomUUID());
      expect(await store.findStored([old as UsageRecordRow])).toEqual([{ ...recordOf(old as UsageRecordRow), ledgerId: "" }]);
    });

    it("binds the tenant: another tenant's lookup of the same id finds nothing", async () => {
      const r = row();
      await store.insertUsage([r], randomUUID());
      expect(await store.findStored([{ ...r, tenant: "globex" }])).toEqual([]);
      expect(await store.findStored([r])).toHaveLength(1);
    });

    it("looks on the key's day and the day either side, not further", async () => {
      // Noon (UTC) ten days ago, well within the row's retention (an expired row may be dropped by a TTL merge at any time).
      const r = row({ timeMs: Math.floor(Date.now() / DAY_MS) * DAY_MS - 10 * DAY_MS + DAY_MS / 2, retentionDays: 3650 });
      await store.insertUsage([r], randomUUID());
      expect(await store.findStored([{ ...r, timeMs: r.timeMs + DAY_MS }])).toHaveLength(1);
      expect(await store.findStored([{ ...r, timeMs: r.timeMs - DAY_MS }])).toHaveLength(1);
      expect(await store.findStored([{ ...r, timeMs: r.timeMs + 3 * DAY_MS }])).toEqual([]);
    });

    it("writes nothing when the same rows come again with the same dedup token; clamps retention to the column", async () => {
      const rows = [row({ retentionDays: 100_000 }), row()];
      const token = randomUUID();
      await store.insertUsage(rows, token);
      await store.insertUsage(rows, token);
      const counts = await target.gateway.query<{ n: string; r: number }>(
        "SELECT toString(count()) AS n, max(retention_days) AS r FROM usage_records WHERE record_id IN {ids:Array(String)}",
        { ids: rows.map((x) => x.id) },
      );
      expect(counts[0]).toMatchObject({ n: "2" });
      expect(Number(counts[0]!.r)).toBe(65535);
    });

    it("finds thousands of ids in one lookup", async () => {
      const rows = Array.from({ length: 12_000 }, (_, i) => row({ inputTokens: i }));
      await store.insertUsage(rows, randomUUID());
      const found = await store.findStored([...rows, row(), row({ tenant: "initech" })]);
      expect(found).toHaveLength(12_000);
    });
  });
}
