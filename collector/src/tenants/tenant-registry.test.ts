import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ClickHouseGateway } from "../store/clickhouse-gateway.js";
import { openTempChdb } from "../store/temp-chdb.test-helper.js";
import { createClickHouseSpanStore } from "../store/clickhouse-span-store.js";
import { SECRET_PATTERN, hashSecret } from "./api-key.js";
import type { TenantRecord } from "@troupe/contract/query-api";
import { insertUsage } from "../query/seed-usage.test-helper.js";
import { createTenantRegistry, type TenantRegistry } from "./tenant-registry.js";
import { plainSpanFields } from "../store/span-row.js";

const ADMIN = "admin-secret-0123456789";
let gateway: ClickHouseGateway;
let dispose: () => Promise<void>;
let registry: TenantRegistry;

beforeAll(async () => {
  ({ gateway, dispose } = await openTempChdb());
  registry = createTenantRegistry(gateway, { adminKey: ADMIN });
});
afterAll(async () => dispose());

describe("tenant registry", () => {
  it("creates, reads, lists and updates tenants; refuses duplicates and bad ids", async () => {
    const t = await registry.createTenant({ id: "acme", name: "Acme", budgets: { dailyTokens: 1000 } }, "admin");
    expect(t).toMatchObject({ id: "acme", name: "Acme", tier: "shared", retentionDays: 30, budgets: { dailyTokens: 1000, monthlyTokens: null } });
    await expect(registry.createTenant({ id: "acme" })).rejects.toMatchObject({ code: "conflict" });
    await expect(registry.createTenant({ id: "Bad Id'" })).rejects.toMatchObject({ code: "bad_request" });
    await expect(registry.createTenant({ id: "ok-id", retentionDays: 0 })).rejects.toMatchObject({ code: "bad_request" });
    const u = await registry.updateTenant("acme", { tier: "worker", retentionDays: 7, budgets: { monthlyCostUsd: 12.5 } }, "admin");
    expect(u).toMatchObject({ tier: "worker", retentionDays: 7, budgets: { dailyTokens: 1000, monthlyCostUsd: 12.5 } });
    expect(await registry.getTenant("acme")).toMatchObject({ tier: "worker", retentionDays: 7 });
    expect(await registry.retentionDaysOf("acme")).toBe(7);
    expect(await registry.retentionDaysOf("nobody")).toBe(30);
    await expect(registry.updateTenant("nobody", { tier: "worker" })).rejects.toMatchObject({ code: "not_found" });
    await registry.createTenant({ id: "beta" });
    expect((await registry.listTenants()).map((x) => x.id)).toEqual(["acme", "beta"]);
  });

  it("issues keys whose secret authenticates to the right principal and is never stored", async () => {
    const { key } = await registry.issueKey("acme", "console");
    expect(key.secret).toMatch(SECRET_PATTERN);
    expect(key.secret.startsWith("trp_console_")).toBe(true);
    expect(await registry.authenticate(key.secret)).toEqual({ kind: "console", keyId: key.keyId, tenantId: "acme" });
    const stored = await gateway.query<Record<string, unknown>>("SELECT * FROM api_keys");
    const dump = JSON.stringify(stored);
    expect(dump).not.toContain(key.secret);
    expect(dump).toContain(hashSecret(key.secret));
    const audit = JSON.stringify(await gateway.query("SELECT * FROM audit_log"));
    expect(audit).not.toContain(key.secret);
    expect(audit).toContain("key.issue");
    await expect(registry.issueKey("nobody", "console")).rejects.toMatchObject({ code: "not_found" });
  });

  it("rotation revokes the old keys of that kind at once, and leaves other kinds alone", async () => {
    const { key: ingest } = await registry.issueKey("beta", "ingest");
    const { key: consoleKey } = await registry.issueKey("beta", "console");
    expect(await registry.authenticate(ingest.secret)).toMatchObject({ kind: "tenant-ingest", tenantId: "beta" });
    const { key: fresh, revokedKeyIds } = await registry.rotateKey("beta", "ingest", "admin");
    expect(revokedKeyIds).toEqual([ingest.keyId]);
    expect(await registry.authenticate(ingest.secret)).toBeNull();
    expect(await registry.authenticate(fresh.secret)).toMatchObject({ kind: "tenant-ingest", tenantId: "beta" });
    expect(await registry.authenticate(consoleKey.secret)).toMatchObject({ kind: "console", tenantId: "beta" });
    await registry.revokeKey(consoleKey.keyId, "admin");
    expect(await registry.authenticate(consoleKey.secret)).toBeNull();
    const keys = await registry.listKeys("beta");
    expect(keys.find((k) => k.keyId === consoleKey.keyId)?.revokedAt).not.toBeNull();
    expect(keys.find((k) => k.keyId === fresh.keyId)?.revokedAt).toBeNull();
    await expect(registry.revokeKey("key_nope")).rejects.toMatchObject({ code: "not_found" });
  });

  it("service keys carry their allowed tenants, which must exist", async () => {
    const key = await registry.issueServiceKey(["beta", "acme", "acme"]);
    expect(await registry.authenticate(key.secret)).toEqual({ kind: "service-ingest", keyId: key.keyId, allowedTenants: ["acme", "beta"] });
    await expect(registry.issueServiceKey(["acme", "ghost"])).rejects.toMatchObject({ code: "not_found" });
    await expect(registry.issueServiceKey([])).rejects.toMatchObject({ code: "bad_request" });
  });

  it("authenticates the admin key and rejects unknown, malformed and near-miss secrets", async () => {
    expect(await registry.authenticate(ADMIN)).toEqual({ kind: "admin", keyId: "admin" });
    expect(await registry.authenticate(ADMIN + "x")).toBeNull();
    expect(await registry.authenticate("trp_console_" + "A".repeat(43))).toBeNull();
    expect(await registry.authenticate("' OR 1=1 --")).toBeNull();
    const { key } = await registry.issueKey("acme", "ingest");
    const nearMiss = key.secret.slice(0, -1) + (key.secret.endsWith("A") ? "B" : "A");
    expect(await registry.authenticate(nearMiss)).toBeNull();
    expect(() => createTenantRegistry(gateway, { adminKey: "short" })).toThrow(/at least 16/);
    const noAdmin = createTenantRegistry(gateway, {});
    expect(await noAdmin.authenticate(ADMIN)).toBeNull();
  });

  it("a revocation by another instance takes effect once the cache entry expires", async () => {
    let clock = Date.now();
    const a = createTenantRegistry(gateway, { now: () => clock, keyCacheTtlMs: 1000 });
    const b = createTenantRegistry(gateway, { now: () => clock });
    const { key } = await b.issueKey("acme", "console");
    expect(await a.authenticate(key.secret)).not.toBeNull();
    await b.revokeKey(key.keyId);
    expect(await a.authenticate(key.secret)).not.toBeNull(); // still cached on instance a
    clock += 1001;
    expect(await a.authenticate(key.secret)).toBeNull();
  });

  it("shortening a tenant's retention deletes its spans older than the new retention, and only its own", async () => {
    await registry.createTenant({ id: "ret-a", retentionDays: 30 });
    await registry.createTenant({ id: "ret-b", retentionDays: 30 });
    const store = createClickHouseSpanStore(gateway, { retentionDaysOf: (t) => registry.retentionDaysOf(t) });
    const span = (tenantId: string, ageDays: number, id: string) => ({
      tenantId, traceId: id.repeat(32), spanId: id.repeat(16), parentSpanId: "", name: "s", kind: 1,
      startTimeUnixNano: String(BigInt(Date.now() - ageDays * 86_400_000) * 1_000_000n), durationNs: 1, statusCode: 0,
      serviceName: "svc", attributes: {}, resourceAttributes: {}, ...plainSpanFields(),
    });
    await store.insertSpans([span("ret-a", 10, "a"), span("ret-a", 1, "b"), span("ret-b", 10, "c")], "retention-batch");
    await registry.updateTenant("ret-a", { retentionDays: 5 });
    const rows = await gateway.query<{ tenant_id: string; span_id: string }>(
      "SELECT tenant_id, span_id FROM spans WHERE tenant_id IN ('ret-a', 'ret-b') ORDER BY tenant_id, span_id",
    );
    expect(rows).toEqual([{ tenant_id: "ret-a", span_id: "b".repeat(16) }, { tenant_id: "ret-b", span_id: "c".repeat(16) }]);
  });

  it("shortening a tenant's retention deletes its usage records older than the new retention, and only its own", async () => {
    await registry.createTenant({ id: "ret-u", retentionDays: 30 });
    await registry.createTenant({ id: "ret-v", retentionDays: 30 });
    const day = 86_400_000;
    await insertUsage(gateway, [
      { tenantId: "ret-u", timeMs: Date.now() - 10 * day, recordId: "u-old" },
      { tenantId: "ret-u", timeMs: Date.now() - day, recordId: "u-new" },
      { tenantId: "ret-v", timeMs: Date.now() - 10 * day, recordId: "v-old" },
    ]);
    await registry.updateTenant("ret-u", { retentionDays: 5 });
    const rows = await gateway.query<{ record_id: string }>("SELECT record_id FROM usage_records WHERE tenant_id IN ('ret-u', 'ret-v') ORDER BY record_id");
    expect(rows.map((r) => r.record_id)).toEqual(["u-new", "v-old"]);
  });
});

describe("tenant registry: the settings runtimes follow", () => {
  it("stores quotas, rate limits, sampling and alert thresholds, and reads them back as written", async () => {
    const created = await registry.createTenant({
      id: "managed",
      quotas: { maxInFlightTurns: 4, weight: 2.5 },
      rateLimits: { tokensPerMinute: 90_000 },
      samplingRatio: 0.25,
      alerts: { thresholds: [0.9, 0.5] },
    });
    expect(created).toMatchObject({
      quotas: { maxInFlightTurns: 4, maxQueuedMessages: null, messagesPerSecond: null, turnTimeoutMs: null, weight: 2.5 },
      rateLimits: { requestsPerMinute: null, tokensPerMinute: 90_000 },
      samplingRatio: 0.25,
      alerts: { thresholds: [0.5, 0.9] },
    });
    expect(created.settingsVersion).toBeGreaterThan(0);
    expect(await registry.getTenant("managed")).toEqual(created);
    // A fresh instance (another collector) reads the same record from the store.
    expect((await createTenantRegistry(gateway).listTenants(["managed"]))[0]).toEqual(created);
  });

  it("a new tenant manages nothing and warns at 0.8 and 0.95", async () => {
    const t = await registry.createTenant({ id: "plain" });
    expect(t).toMatchObject({
      quotas: { maxInFlightTurns: null, maxQueuedMessages: null, messagesPerSecond: null, turnTimeoutMs: null, weight: null },
      rateLimits: { requestsPerMinute: null, tokensPerMinute: null },
      samplingRatio: null,
      alerts: { thresholds: [0.8, 0.95] },
    });
  });

  it("merges patches field by field, null clearing one, and raises the settings version on every change", async () => {
    const before = (await registry.getTenant("managed"))!;
    const u = await registry.updateTenant("managed", { quotas: { weight: null, turnTimeoutMs: 60_000 }, rateLimits: { requestsPerMinute: 600 }, samplingRatio: null });
    expect(u.quotas).toEqual({ maxInFlightTurns: 4, maxQueuedMessages: null, messagesPerSecond: null, turnTimeoutMs: 60_000, weight: null });
    expect(u.rateLimits).toEqual({ requestsPerMinute: 600, tokensPerMinute: 90_000 });
    expect(u.samplingRatio).toBeNull();
    expect(u.alerts.thresholds).toEqual([0.5, 0.9]);
    expect(u.settingsVersion).toBeGreaterThan(before.settingsVersion);
    const again = await registry.updateTenant("managed", { name: "Managed" });
    expect(again.settingsVersion).toBeGreaterThan(u.settingsVersion);
    expect(await registry.maxSettingsVersion(["managed"])).toBe(again.settingsVersion);
    expect(await registry.maxSettingsVersion(["managed", "plain"])).toBe(again.settingsVersion);
    expect(await registry.maxSettingsVersion()).toBeGreaterThanOrEqual(again.settingsVersion);
    expect(await registry.maxSettingsVersion(["nobody"])).toBe(0);
    expect(await registry.settingsVersions(["managed", "nobody"])).toEqual(new Map([["managed", again.settingsVersion]]));
  });

  it("refuses a bad setting naming its field, and changes nothing", async () => {
    const before = (await registry.getTenant("managed"))!;
    const cases: [Parameters<TenantRegistry["updateTenant"]>[1], RegExp][] = [
      [{ quotas: { weight: 0 } }, /^quotas\.weight must be greater than 0$/],
      [{ quotas: { maxInFlightTurns: 1.5 } }, /^quotas\.maxInFlightTurns must be a whole number$/],
      [{ quotas: { turnTimeoutMs: 86_400_001 } }, /^quotas\.turnTimeoutMs must be at most one day/],
      [{ rateLimits: { tokensPerMinute: -1 } }, /^rateLimits\.tokensPerMinute must be greater than 0$/],
      [{ samplingRatio: 1.5 }, /^samplingRatio must be from 0 to 1$/],
      [{ alerts: { thresholds: [] } }, /^alerts\.thresholds must hold 1 to 5 thresholds$/],
      [{ alerts: { thresholds: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6] } }, /^alerts\.thresholds must hold 1 to 5 thresholds$/],
      [{ alerts: { thresholds: [0.5, 0.5] } }, /^alerts\.thresholds must not repeat a threshold$/],
      [{ alerts: { thresholds: [0] } }, /^alerts\.thresholds\.0 must be greater than 0$/],
      [{ alerts: { thresholds: [1.01] } }, /^alerts\.thresholds\.0 must be at most 1$/],
      [{ budgets: { dailyTokens: -5 } }, /^budgets\.dailyTokens must not be negative$/],
      [{ quotas: { weight: 2, bogus: 1 } as never }, /^unknown field "quotas\.bogus"$/],
      // One bad field spoils the whole patch: the good one beside it is not applied either.
      [{ name: "Renamed", quotas: { maxQueuedMessages: 0 } }, /^quotas\.maxQueuedMessages must be at least 1$/],
    ];
    for (const [patch, message] of cases) {
      await expect(registry.updateTenant("managed", patch)).rejects.toMatchObject({ code: "bad_request", message: expect.stringMatching(message) });
    }
    await expect(registry.createTenant({ id: "bad-new", samplingRatio: -0.1 })).rejects.toMatchObject({ message: "samplingRatio must be from 0 to 1" });
    expect(await registry.getTenant("bad-new")).toBeNull();
    expect(await registry.getTenant("managed")).toEqual(before);
    expect(await createTenantRegistry(gateway).getTenant("managed")).toEqual(before);
  });

  it("tells listeners about each change made through it, after it is stored, until they unsubscribe", async () => {
    const heard: TenantRecord[] = [];
    const unsubscribe = registry.onSettingsChanged((t) => heard.push(t));
    const broken = registry.onSettingsChanged(() => {
      throw new Error("a listener's own bug");
    });
    const created = await registry.createTenant({ id: "heard" });
    const updated = await registry.updateTenant("heard", { quotas: { weight: 3 } });
    await expect(registry.updateTenant("heard", { quotas: { weight: -1 } })).rejects.toMatchObject({ code: "bad_request" });
    expect(heard).toEqual([created, updated]);
    unsubscribe();
    broken();
    await registry.updateTenant("heard", { quotas: { weight: 4 } });
    expect(heard).toHaveLength(2);
  });
});
