import { controlSettingsResponseSchema, controlUsageResponseSchema, CONTROL_HEADERS, CONTROL_PATHS, type ControlSettingsResponse, type ControlUsageResponse } from "@troupe/contract";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCollectorApp } from "../http/app.js";
import { listen, type RunningServer } from "../http/server.js";
import { CollectorMetrics } from "../metrics/collector-metrics.js";
import { createAdminRoutes } from "../query/admin-routes.js";
import type { TenantRuntimesResponse } from "@troupe/contract/query-api";
import { insertUsage } from "../query/seed-usage.test-helper.js";
import type { ClickHouseGateway } from "../store/clickhouse-gateway.js";
import { openTempChdb } from "../store/temp-chdb.test-helper.js";
import { MemorySpanStore } from "../testing/memory-span-store.js";
import { createTenantRegistry, type TenantRegistry } from "../tenants/tenant-registry.js";
import { createControlRoutes } from "./control-routes.js";
import { createRuntimeCheckIns, type RuntimeCheckIns } from "./runtime-checkins.js";
import { SettingsWatch } from "./settings-watch.js";

const ADMIN = "control-admin-key-0123456789";
let chdb: { gateway: ClickHouseGateway; dispose: () => Promise<void> };
let registry: TenantRegistry;
let watch: SettingsWatch;
let checkIns: RuntimeCheckIns;
let server: RunningServer;
let serviceKey: string;
let acmeIngest: string;
let acmeConsole: string;

beforeAll(async () => {
  chdb = await openTempChdb();
  registry = createTenantRegistry(chdb.gateway, { adminKey: ADMIN });
  watch = new SettingsWatch(registry, { pollIntervalMs: 200 });
  checkIns = createRuntimeCheckIns(chdb.gateway, { flushDelayMs: 50 });
  const app = createCollectorApp({
    authenticator: registry,
    sink: { accept: async () => undefined },
    metrics: new CollectorMetrics(),
    store: new MemorySpanStore(),
    apiRoutes: [createAdminRoutes({ gateway: chdb.gateway, registry, checkIns }), createControlRoutes({ gateway: chdb.gateway, registry, watch, checkIns })],
    // Tight, so the test shows runtimes sharing a key are limited each on their own.
    apiRateLimit: { requestsPerSecond: 2, burst: 40 },
  });
  // The body deadline far below the longest wait: a long poll must outlive it.
  server = await listen(app, 0, "127.0.0.1", { limits: { headersTimeoutMs: 1_000, requestTimeoutMs: 1_000 } });
  await registry.createTenant({ id: "acme", quotas: { maxInFlightTurns: 8 } });
  await registry.createTenant({ id: "beta", samplingRatio: 0.5 });
  await registry.createTenant({ id: "gamma" });
  serviceKey = (await registry.issueServiceKey(["acme", "beta"])).secret;
  acmeIngest = (await registry.issueKey("acme", "ingest")).key.secret;
  acmeConsole = (await registry.issueKey("acme", "console")).key.secret;
});

afterAll(async () => {
  watch?.close();
  await server?.close();
  await checkIns?.close();
  await chdb?.dispose();
});

let runtimeCounter = 0;
/** A runtime id of its own per call by default, so the tight rate limit above never bites by accident. */
function get(path: string, key: string, headers: Record<string, string> = {}, signal?: AbortSignal): Promise<Response> {
  return fetch(`${server.url}${path}`, {
    headers: { authorization: `Bearer ${key}`, [CONTROL_HEADERS.runtimeId]: `test-${++runtimeCounter}`, ...headers },
    ...(signal ? { signal } : {}),
  });
}

async function settings(query: string, key: string, headers: Record<string, string> = {}): Promise<{ res: Response; body: ControlSettingsResponse | null }> {
  const res = await get(`${CONTROL_PATHS.settings}${query}`, key, headers);
  return { res, body: res.status === 200 ? controlSettingsResponseSchema.parse(await res.json()) : null };
}

async function errorOf(res: Response): Promise<string> {
  return ((await res.json()) as { error: { message: string } }).error.message;
}

function adminPut(id: string, body: unknown): Promise<Response> {
  return fetch(`${server.url}/api/v1/admin/tenants/${id}`, { method: "PUT", headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" }, body: JSON.stringify(body) });
}

describe("GET /api/v1/control/settings: who reads what", () => {
  it("a service key reads its tenants' settings, as the runtime's schema accepts them", async () => {
    const { res, body } = await settings("", serviceKey);
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(body!.tenants.map((t) => t.id)).toEqual(["acme", "beta"]);
    expect(body!.tenants[0]).toMatchObject({ tier: "shared", retentionDays: 30, quotas: { maxInFlightTurns: 8, weight: null }, samplingRatio: null });
    expect(body!.tenants[1]).toMatchObject({ samplingRatio: 0.5 });
    expect(body!.version).toBe(Math.max(...body!.tenants.map((t) => t.version)));
    expect(res.headers.get("etag")).toBe(`"${body!.version}"`);
    expect((await settings("?tenants=beta", serviceKey)).body!.tenants.map((t) => t.id)).toEqual(["beta"]);
  });

  it("refuses a tenant the key does not serve (403), one that does not exist (404) and a malformed id (400), naming it", async () => {
    const foreign = await settings("?tenants=acme,gamma", serviceKey);
    expect(foreign.res.status).toBe(403);
    expect(await errorOf(foreign.res)).toMatch(/"gamma"/);
    const ingestForeign = await settings("?tenants=beta", acmeIngest);
    expect(ingestForeign.res.status).toBe(403);
    expect(await errorOf(ingestForeign.res)).toMatch(/"beta"/);
    const missing = await settings("?tenants=acme,ghost", ADMIN);
    expect(missing.res.status).toBe(404);
    expect(await errorOf(missing.res)).toMatch(/"ghost"/);
    const malformed = await settings("?tenants=acme,Not%20An%20Id", serviceKey);
    expect(malformed.res.status).toBe(400);
    expect(await errorOf(malformed.res)).toMatch(/"tenants": "Not An Id" is not a valid tenant id/);
    const unknown = await settings("?tenant=acme", serviceKey);
    expect(unknown.res.status).toBe(400);
    expect(await errorOf(unknown.res)).toMatch(/unknown parameter "tenant"/);
  });

  it("a tenant ingest key reads its own tenant, an admin key every tenant; console keys and no key are refused", async () => {
    expect((await settings("", acmeIngest)).body!.tenants.map((t) => t.id)).toEqual(["acme"]);
    expect((await settings("", ADMIN)).body!.tenants.map((t) => t.id)).toEqual(["acme", "beta", "gamma"]);
    expect((await settings("?tenants=gamma", ADMIN)).body!.tenants.map((t) => t.id)).toEqual(["gamma"]);
    expect((await settings("", acmeConsole)).res.status).toBe(403);
    expect((await fetch(`${server.url}${CONTROL_PATHS.settings}`)).status).toBe(401);
  });

  it("refuses a wait outside 0-30 seconds, naming it", async () => {
    for (const wait of ["31", "-1", "abc", "1.5"]) {
      const { res } = await settings(`?wait=${wait}`, serviceKey);
      expect(res.status).toBe(400);
      expect(await errorOf(res)).toMatch(/"wait"/);
    }
  });
});

describe("GET /api/v1/control/settings: conditional reads and long polls", () => {
  it("answers 304 with the ETag when If-None-Match names the current version, 200 when it names another", async () => {
    const first = await settings("", serviceKey);
    const etag = first.res.headers.get("etag")!;
    const same = await settings("", serviceKey, { "if-none-match": etag });
    expect(same.res.status).toBe(304);
    expect(same.res.headers.get("etag")).toBe(etag);
    expect(same.res.headers.get("cache-control")).toBe("no-store");
    const stale = await settings("", serviceKey, { "if-none-match": '"1"' });
    expect(stale.res.status).toBe(200);
  });

  it("a long poll answers as soon as an admin changes one of its tenants, with the new settings", async () => {
    const { res } = await settings("", serviceKey);
    const etag = res.headers.get("etag")!;
    const polled = settings("?wait=20", serviceKey, { "if-none-match": etag });
    await waitFor(() => watch.waiting === 1);
    const put = await adminPut("beta", { quotas: { weight: 4 }, rateLimits: { tokensPerMinute: 1000 } });
    expect(put.status).toBe(200);
    const putDoneMs = Date.now();
    const answer = await polled;
    // Woken by the change, not by the wait (generous: a loaded machine).
    expect(Date.now() - putDoneMs).toBeLessThan(1_500);
    expect(answer.res.status).toBe(200);
    expect(answer.res.headers.get("etag")).not.toBe(etag);
    expect(answer.body!.tenants.find((t) => t.id === "beta")).toMatchObject({ quotas: { weight: 4 }, rateLimits: { tokensPerMinute: 1000, requestsPerMinute: null } });
    expect(watch.waiting).toBe(0);
  });

  it("a change to a tenant the poll does not read does not answer it; the wait passing answers 304, past the server's 1 s body deadline", async () => {
    const { res } = await settings("?tenants=acme", serviceKey);
    const etag = res.headers.get("etag")!;
    const started = Date.now();
    const polled = settings("?tenants=acme&wait=2", serviceKey, { "if-none-match": etag });
    await waitFor(() => watch.waiting === 1);
    await adminPut("gamma", { name: "Gamma" });
    const answer = await polled;
    expect(answer.res.status).toBe(304);
    expect(answer.res.headers.get("etag")).toBe(etag);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_900);
  });

  it("sees a change made by another collector instance sharing the store", async () => {
    const { res } = await settings("?tenants=acme", serviceKey);
    const polled = settings("?tenants=acme&wait=20", serviceKey, { "if-none-match": res.headers.get("etag")! });
    await waitFor(() => watch.waiting === 1);
    const otherInstance = createTenantRegistry(chdb.gateway);
    await otherInstance.updateTenant("acme", { samplingRatio: 0.1 });
    const changedMs = Date.now();
    const answer = await polled;
    expect(answer.res.status).toBe(200);
    expect(answer.body!.tenants[0]).toMatchObject({ id: "acme", samplingRatio: 0.1 });
    expect(Date.now() - changedMs).toBeLessThan(5_000);
  });

  it("stops waiting when the client goes away", async () => {
    const { res } = await settings("", serviceKey);
    const abort = new AbortController();
    const polled = get(`${CONTROL_PATHS.settings}?wait=20`, serviceKey, { "if-none-match": res.headers.get("etag")! }, abort.signal).catch(() => "aborted");
    await waitFor(() => watch.waiting === 1);
    abort.abort();
    expect(await polled).toBe("aborted");
    await waitFor(() => watch.waiting === 0);
  });
});

describe("check-ins", () => {
  it("records each settings read as the runtime's check-in, which the admin API lists per tenant", async () => {
    const headers = { [CONTROL_HEADERS.runtimeId]: "rt-alpha:1", [CONTROL_HEADERS.runtimeName]: "billing@host-1", [CONTROL_HEADERS.appliedVersion]: "0" };
    const first = await settings("", serviceKey, headers);
    await settings("", serviceKey, { ...headers, [CONTROL_HEADERS.appliedVersion]: String(first.body!.version) });
    const runtimesOf = async (tenant: string) => {
      const res = await fetch(`${server.url}/api/v1/admin/tenants/${tenant}/runtimes`, { headers: { authorization: `Bearer ${ADMIN}` } });
      expect(res.status).toBe(200);
      return (await res.json()) as TenantRuntimesResponse;
    };
    const acme = await runtimesOf("acme");
    expect(acme.settingsVersion).toBe((await registry.getTenant("acme"))!.settingsVersion);
    const alpha = acme.runtimes.find((r) => r.runtimeId === "rt-alpha:1");
    expect(alpha).toMatchObject({ name: "billing@host-1", tenants: ["acme", "beta"], appliedVersion: first.body!.version });
    expect(Date.parse(alpha!.lastSeenAt)).toBeGreaterThanOrEqual(Date.parse(alpha!.firstSeenAt));
    expect(acme.runtimes.map((r) => r.lastSeenAt)).toEqual([...acme.runtimes.map((r) => r.lastSeenAt)].sort().reverse());
    expect((await runtimesOf("beta")).runtimes.some((r) => r.runtimeId === "rt-alpha:1")).toBe(true);
    expect((await runtimesOf("gamma")).runtimes.some((r) => r.runtimeId === "rt-alpha:1")).toBe(false);
    // Written to the store too (within the flush delay), for the other instances.
    await waitFor(async () => (await createRuntimeCheckIns(chdb.gateway).forTenant("acme", 0)).some((r) => r.runtimeId === "rt-alpha:1" && r.appliedVersion === first.body!.version));
    expect((await fetch(`${server.url}/api/v1/admin/tenants/ghost/runtimes`, { headers: { authorization: `Bearer ${ADMIN}` } })).status).toBe(404);
  });

  it("refuses malformed check-in headers naming the header; a read without a runtime id records nothing", async () => {
    const bad: [Record<string, string>, string][] = [
      [{ [CONTROL_HEADERS.runtimeId]: "has space" }, CONTROL_HEADERS.runtimeId],
      [{ [CONTROL_HEADERS.runtimeId]: "x".repeat(129) }, CONTROL_HEADERS.runtimeId],
      [{ [CONTROL_HEADERS.runtimeName]: "n".repeat(201) }, CONTROL_HEADERS.runtimeName],
      [{ [CONTROL_HEADERS.appliedVersion]: "abc" }, CONTROL_HEADERS.appliedVersion],
      [{ [CONTROL_HEADERS.appliedVersion]: "-1" }, CONTROL_HEADERS.appliedVersion],
    ];
    for (const [headers, name] of bad) {
      const { res } = await settings("", serviceKey, headers);
      expect(res.status).toBe(400);
      expect(await errorOf(res)).toContain(`"${name}"`);
    }
    const before = (await checkIns.forTenant("acme", 0)).length;
    const anonymous = await fetch(`${server.url}${CONTROL_PATHS.settings}`, { headers: { authorization: `Bearer ${serviceKey}`, [CONTROL_HEADERS.runtimeName]: "nameless" } });
    expect(anonymous.status).toBe(200);
    expect((await checkIns.forTenant("acme", 0)).length).toBe(before);
  });

  it("limits each runtime sharing a key on its own, so many runtimes' polls all pass", async () => {
    // 60 reads at once through one service key: above the key's burst of 40, each from its own runtime.
    const answers = await Promise.all(Array.from({ length: 60 }, (_, i) => get(CONTROL_PATHS.settings, serviceKey, { [CONTROL_HEADERS.runtimeId]: `fleet-${i}` })));
    expect(answers.map((r) => r.status)).toEqual(answers.map(() => 200));
    // The same key without runtime ids is one caller: past its burst it is refused.
    const anonymous = await Promise.all(Array.from({ length: 60 }, () => fetch(`${server.url}${CONTROL_PATHS.usage}`, { headers: { authorization: `Bearer ${serviceKey}` } })));
    expect(anonymous.some((r) => r.status === 429)).toBe(true);
  });
});

describe("GET /api/v1/control/usage", () => {
  it("sums each tenant's usage of today and this month, leaving out the named ledger's records; tenants without usage are left out", async () => {
    const now = Date.now();
    const today = new Date(now);
    // Within today (UTC), however close to midnight the test runs.
    const recent = Math.max(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate()), now - 60_000);
    await insertUsage(chdb.gateway, [
      { tenantId: "acme", timeMs: recent, inputTokens: 100, outputTokens: 20, costUsd: 1, ledgerId: "ledger-mine" },
      { tenantId: "acme", timeMs: recent, inputTokens: 50, outputTokens: 5, costUsd: 0.5, ledgerId: "ledger-other" },
      { tenantId: "acme", timeMs: recent, inputTokens: 7, outputTokens: 0, costUsd: 0.25 },
      { tenantId: "acme", timeMs: now - 40 * 86_400_000, inputTokens: 9_999, outputTokens: 0, costUsd: 99, ledgerId: "ledger-other" },
      { tenantId: "gamma", timeMs: recent, inputTokens: 1_000, outputTokens: 0, costUsd: 10 },
    ]);
    const read = async (query: string): Promise<ControlUsageResponse> => {
      const res = await get(`${CONTROL_PATHS.usage}${query}`, serviceKey);
      expect(res.status).toBe(200);
      expect(res.headers.get("cache-control")).toBe("no-store");
      return controlUsageResponseSchema.parse(await res.json());
    };
    const all = await read("");
    expect(all.day).toBe(new Date(Date.parse(all.asOf)).toISOString().slice(0, 10));
    expect(all.month).toBe(all.day.slice(0, 7));
    // "beta", served by the key but without usage, is not listed.
    expect(all.tenants).toEqual([{ id: "acme", dayTokens: 182, dayCostUsd: 1.75, monthTokens: 182, monthCostUsd: 1.75 }]);
    const others = await read("?tenants=acme&excludeLedger=ledger-mine");
    expect(others.tenants).toEqual([{ id: "acme", dayTokens: 62, dayCostUsd: 0.75, monthTokens: 62, monthCostUsd: 0.75 }]);
    const forbidden = await get(`${CONTROL_PATHS.usage}?tenants=gamma`, serviceKey);
    expect(forbidden.status).toBe(403);
    expect(await errorOf(forbidden)).toMatch(/"gamma"/);
    const badLedger = await get(`${CONTROL_PATHS.usage}?excludeLedger=${"x".repeat(201)}`, serviceKey);
    expect(badLedger.status).toBe(400);
    expect(await errorOf(badLedger)).toMatch(/"excludeLedger"/);
  });
});

async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}
