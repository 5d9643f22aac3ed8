import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ClickHouseGateway } from "../store/clickhouse-gateway.js";
import { openTempChdb } from "../store/temp-chdb.test-helper.js";
import { createTenantRegistry, type TenantRegistry } from "../tenants/tenant-registry.js";
import { SettingsWatch } from "./settings-watch.js";

let chdb: { gateway: ClickHouseGateway; dispose: () => Promise<void> };
let registry: TenantRegistry;

beforeAll(async () => {
  chdb = await openTempChdb();
  registry = createTenantRegistry(chdb.gateway);
  await registry.createTenant({ id: "acme" });
  await registry.createTenant({ id: "beta" });
});
afterAll(async () => chdb?.dispose());

const versionOf = async (id: string) => (await registry.getTenant(id))!.settingsVersion;

describe("SettingsWatch", () => {
  it("wakes the waits on a changed tenant at once, and only those", async () => {
    const watch = new SettingsWatch(registry, { pollIntervalMs: 60_000 });
    try {
      const acme = watch.wait({ tenants: ["acme"], version: await versionOf("acme") }, 10_000);
      const all = watch.wait({ tenants: "all", version: await registry.maxSettingsVersion() }, 10_000);
      const beta = watch.wait({ tenants: ["beta"], version: await versionOf("beta") }, 300);
      expect(watch.waiting).toBe(3);
      await registry.updateTenant("acme", { samplingRatio: 0.5 });
      expect(await acme).toBe("changed");
      expect(await all).toBe("changed");
      expect(await beta).toBe("timeout");
      expect(watch.waiting).toBe(0);
    } finally {
      watch.close();
    }
  });

  it("catches another instance's change on its shared timer", async () => {
    const watch = new SettingsWatch(registry, { pollIntervalMs: 100 });
    try {
      const waited = watch.wait({ tenants: ["beta", "acme"], version: Math.max(await versionOf("acme"), await versionOf("beta")) }, 10_000);
      const unchanged = watch.wait({ tenants: ["acme"], version: await versionOf("acme") }, 600);
      await createTenantRegistry(chdb.gateway).updateTenant("beta", { quotas: { weight: 2 } });
      expect(await waited).toBe("changed");
      expect(await unchanged).toBe("timeout");
    } finally {
      watch.close();
    }
  });

  it("holds at most maxWaiters (503 past it), lets go of aborted waits, and answers every wait on close", async () => {
    const watch = new SettingsWatch(registry, { maxWaiters: 2 });
    const version = await versionOf("acme");
    const abort = new AbortController();
    const first = watch.wait({ tenants: ["acme"], version }, 10_000, abort.signal);
    const second = watch.wait({ tenants: ["acme"], version }, 10_000);
    expect(() => watch.wait({ tenants: ["acme"], version }, 10_000)).toThrow(expect.objectContaining({ code: "overloaded", retryAfterS: 1 }));
    abort.abort();
    expect(await first).toBe("aborted");
    expect(watch.waiting).toBe(1);
    watch.close();
    expect(await second).toBe("closed");
    expect(await watch.wait({ tenants: ["acme"], version }, 10_000)).toBe("closed");
    expect(watch.waiting).toBe(0);
  });
});
