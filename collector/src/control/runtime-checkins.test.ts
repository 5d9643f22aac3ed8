import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ClickHouseGateway } from "../store/clickhouse-gateway.js";
import { openTempChdb } from "../store/temp-chdb.test-helper.js";
import { createRuntimeCheckIns } from "./runtime-checkins.js";

let chdb: { gateway: ClickHouseGateway; dispose: () => Promise<void> };

beforeAll(async () => {
  chdb = await openTempChdb();
});
afterAll(async () => chdb?.dispose());

async function storedRows(runtimeId: string): Promise<{ applied_version: number | string; first_ms: number | string; last_ms: number | string }[]> {
  return chdb.gateway.query(
    "SELECT applied_version, toUnixTimestamp64Milli(first_seen) AS first_ms, toUnixTimestamp64Milli(last_seen) AS last_ms FROM runtime_checkins WHERE runtime_id = {id:String} ORDER BY last_seen",
    { id: runtimeId },
  );
}

describe("runtime check-ins", () => {
  it("writes a runtime when first seen and when it changes, an idle one at most once per refresh interval", async () => {
    let clock = Date.parse("2030-01-01T00:00:00Z");
    const checkIns = createRuntimeCheckIns(chdb.gateway, { now: () => clock, flushDelayMs: 10, refreshIntervalMs: 30_000 });
    const report = { runtimeId: "rt-idle", name: "svc@host", tenants: ["b", "a"], appliedVersion: 5 };
    checkIns.record(report);
    // Visible on this instance at once.
    expect(await checkIns.forTenant("a", 0)).toEqual([
      { runtimeId: "rt-idle", name: "svc@host", tenants: ["a", "b"], appliedVersion: 5, firstSeenAt: "2030-01-01T00:00:00.000Z", lastSeenAt: "2030-01-01T00:00:00.000Z" },
    ]);
    for (let i = 0; i < 20; i++) {
      clock += 1_000;
      checkIns.record(report);
    }
    await checkIns.close();
    expect((await storedRows("rt-idle")).map((r) => Number(r.applied_version))).toEqual([5]);
    // The in-memory last sighting is newer than the stored row.
    expect((await checkIns.forTenant("a", 0))[0]!.lastSeenAt).toBe("2030-01-01T00:00:20.000Z");

    const again = createRuntimeCheckIns(chdb.gateway, { now: () => clock, flushDelayMs: 10, refreshIntervalMs: 30_000 });
    clock += 15_000; // 35 s after the first write: due for a refresh
    again.record(report);
    clock += 1_000;
    again.record({ ...report, appliedVersion: 6 }); // news: written whatever the interval
    await again.close();
    const rows = await storedRows("rt-idle");
    expect(rows.map((r) => Number(r.applied_version))).toEqual([5, 6]);
    // Another instance keeps the first sighting the store already had.
    expect(rows.map((r) => new Date(Number(r.first_ms)).toISOString())).toEqual(["2030-01-01T00:00:00.000Z", "2030-01-01T00:00:00.000Z"]);
    expect(await createRuntimeCheckIns(chdb.gateway).forTenant("b", 0)).toEqual([
      { runtimeId: "rt-idle", name: "svc@host", tenants: ["a", "b"], appliedVersion: 6, firstSeenAt: "2030-01-01T00:00:00.000Z", lastSeenAt: "2030-01-01T00:00:36.000Z" },
    ]);
  });

  it("lists the runtimes of a tenant seen since a time, newest first, by their last check-in's tenants", async () => {
    let clock = Date.parse("2031-01-01T00:00:00Z");
    const checkIns = createRuntimeCheckIns(chdb.gateway, { now: () => clock, flushDelayMs: 10 });
    checkIns.record({ runtimeId: "old", name: "", tenants: ["t"], appliedVersion: 1 });
    clock += 60_000;
    checkIns.record({ runtimeId: "moved", name: "", tenants: ["t"], appliedVersion: 1 });
    checkIns.record({ runtimeId: "new", name: "", tenants: ["t", "u"], appliedVersion: 1 });
    clock += 1_000;
    checkIns.record({ runtimeId: "moved", name: "", tenants: ["u"], appliedVersion: 1 });
    await checkIns.close();
    const since = Date.parse("2031-01-01T00:00:30Z");
    expect((await checkIns.forTenant("t", since)).map((r) => r.runtimeId)).toEqual(["new"]);
    expect((await checkIns.forTenant("u", since)).map((r) => r.runtimeId)).toEqual(["moved", "new"]);
    expect((await createRuntimeCheckIns(chdb.gateway).forTenant("t", 0)).map((r) => r.runtimeId)).toEqual(["new", "old"]);
  });
});
