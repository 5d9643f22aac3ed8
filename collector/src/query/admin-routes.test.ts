import type { ApiErrorBody } from "@troupe/contract/query-api";
import { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ClickHouseGateway } from "../store/clickhouse-gateway.js";
import { createClickHouseSpanStore } from "../store/clickhouse-span-store.js";
import { openTempChdb } from "../store/temp-chdb.test-helper.js";
import { createTenantRegistry } from "../tenants/tenant-registry.js";
import { createAdminRoutes } from "./admin-routes.js";
import type {
  AdminTenantDetailResponse,
  AdminTenantListResponse,
  AdminTenantsResponse,
  CreateServiceKeyResponse,
  CreateTenantResponse,
  IssueKeyResponse,
  TenantRuntimesResponse,
  UpdateTenantResponse,
} from "@troupe/contract/query-api";
import { createQueryRoutes } from "./query-routes.js";
import { turnTrace } from "./seed-spans.test-helper.js";
import { insertUsage, insertUsageRows } from "./seed-usage.test-helper.js";

const ADMIN = "test-admin-key-abcdefghijk";
const NOW = Date.now();
let gateway: ClickHouseGateway;
let dispose: () => Promise<void>;
let app: Hono;

function call(method: string, path: string, body?: unknown, key: string = ADMIN): Promise<Response> {
  return Promise.resolve(
    app.request(path, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
      ...(body !== undefined ? { body: typeof body === "string" ? body : JSON.stringify(body) } : {}),
    }),
  );
}

beforeAll(async () => {
  ({ gateway, dispose } = await openTempChdb());
  const registry = createTenantRegistry(gateway, { adminKey: ADMIN });
  app = new Hono();
  app.route("/api/v1", createQueryRoutes({ gateway, authenticator: registry, now: () => NOW }));
  app.route("/api/v1", createAdminRoutes({ gateway, registry, now: () => NOW }));
  const store = createClickHouseSpanStore(gateway);
  const rows = [
    ...turnTrace({ tenantId: "alpha", agentType: "a", startMs: NOW - 60_000, durationMs: 50, inputTokens: 800, outputTokens: 100, costUsd: 2, queueWaitMs: 30, handlerWallMs: 300 }).rows,
    ...turnTrace({ tenantId: "bravo", agentType: "b", startMs: NOW - 60_000, durationMs: 50, inputTokens: 10, outputTokens: 0, costUsd: 0.5, queueWaitMs: 10, handlerWallMs: 100 }).rows,
  ];
  await store.insertSpans(rows, "b1");
  await store.insertSpans(rows, "b2");
  // Usage records of those calls, re-sent in a second batch, plus what spans never showed: alpha's
  // refused attempt and an earlier call this month, bravo's call of a trace that was sampled out.
  const usage = await insertUsage(gateway, [
    { tenantId: "alpha", timeMs: NOW - 60_000, agentType: "a", inputTokens: 800, outputTokens: 100, costUsd: 2 },
    { tenantId: "alpha", timeMs: NOW - 30_000, agentType: "a", outcome: "budget_rejected" },
    { tenantId: "bravo", timeMs: NOW - 60_000, agentType: "b", inputTokens: 10, outputTokens: 0, costUsd: 0.5 },
    { tenantId: "bravo", timeMs: NOW - 50_000, agentType: "b", inputTokens: 1, outputTokens: 0, costUsd: 0.25 },
  ]);
  await insertUsageRows(gateway, usage, "u2");
  // A call earlier this month, before the 10 minutes the overview below reads.
  const monthStart = Date.UTC(new Date(NOW).getUTCFullYear(), new Date(NOW).getUTCMonth(), 1);
  await insertUsage(gateway, [{ tenantId: "alpha", timeMs: Math.max(monthStart, NOW - 2 * 3_600_000), agentType: "a", inputTokens: 1000, outputTokens: 0, costUsd: 3 }]);
});
afterAll(async () => dispose());

describe("admin API", () => {
  let alphaConsole: string;

  it("creates a tenant with its first keys, secrets shown once, and they work", async () => {
    const res = await call("POST", "/api/v1/admin/tenants", { id: "alpha", name: "Alpha Inc", budgets: { dailyTokens: 1000 } });
    expect(res.status).toBe(201);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const body = (await res.json()) as CreateTenantResponse;
    expect(body.tenant).toMatchObject({ id: "alpha", name: "Alpha Inc", tier: "shared", retentionDays: 30, budgets: { dailyTokens: 1000 } });
    expect(body.keys.map((k) => k.kind).sort()).toEqual(["console", "ingest"]);
    alphaConsole = body.keys.find((k) => k.kind === "console")!.secret;
    expect((await call("GET", "/api/v1/usage", undefined, alphaConsole)).status).toBe(200);
    const detail = await call("GET", "/api/v1/admin/tenants/alpha");
    const text = await detail.text();
    for (const k of body.keys) expect(text).not.toContain(k.secret);
    expect((JSON.parse(text) as AdminTenantDetailResponse).keys).toHaveLength(2);
    expect((await call("POST", "/api/v1/admin/tenants", { id: "alpha" })).status).toBe(409);
  });

  it("admin endpoints refuse console keys (403) and missing keys (401)", async () => {
    expect((await call("GET", "/api/v1/admin/tenants", undefined, alphaConsole)).status).toBe(403);
    expect((await call("POST", "/api/v1/admin/tenants", { id: "evil" }, alphaConsole)).status).toBe(403);
    expect((await app.request("/api/v1/admin/tenants")).status).toBe(401);
  });

  it("validates bodies and names the problem", async () => {
    const cases: [unknown, RegExp][] = [
      [{ id: "Bad Id" }, /"id"/],
      [{ id: "ok", tier: "gold" }, /"tier"/],
      [{ id: "ok", retentionDays: 0 }, /"retentionDays"/],
      [{ id: "ok", budgets: { dailyTokens: -1 } }, /"budgets.dailyTokens"/],
      [{ id: "ok", extra: 1 }, /unknown parameter "extra"/],
      ["{not json", /not valid JSON/],
    ];
    for (const [body, message] of cases) {
      const res = await call("POST", "/api/v1/admin/tenants", body);
      expect(res.status).toBe(400);
      expect(((await res.json()) as ApiErrorBody).error.message).toMatch(message);
    }
    const noType = await app.request("/api/v1/admin/tenants", { method: "POST", headers: { authorization: `Bearer ${ADMIN}` }, body: "{}" });
    expect(noType.status).toBe(415);
    const huge = await call("POST", "/api/v1/admin/tenants", { id: "big", name: "x".repeat(70_000) });
    expect(huge.status).toBe(413);
  });

  it("updates budgets, retention and tier", async () => {
    const res = await call("PUT", "/api/v1/admin/tenants/alpha", { tier: "process", retentionDays: 90, budgets: { monthlyCostUsd: 100, dailyTokens: null } });
    expect(res.status).toBe(200);
    const { tenant } = (await res.json()) as UpdateTenantResponse;
    expect(tenant).toMatchObject({ tier: "process", retentionDays: 90, budgets: { monthlyCostUsd: 100, dailyTokens: null } });
    expect((await call("PUT", "/api/v1/admin/tenants/nobody", { tier: "worker" })).status).toBe(404);
  });

  it("rotates keys: the new one works, the old one stops at once", async () => {
    const res = await call("POST", "/api/v1/admin/tenants/alpha/keys", { kind: "console", rotate: true });
    expect(res.status).toBe(201);
    const body = (await res.json()) as IssueKeyResponse;
    expect(body.revokedKeyIds).toHaveLength(1);
    expect((await call("GET", "/api/v1/usage", undefined, alphaConsole)).status).toBe(401);
    expect((await call("GET", "/api/v1/usage", undefined, body.key.secret)).status).toBe(200);
    const revoke = await call("DELETE", `/api/v1/admin/keys/${body.key.keyId}`);
    expect(revoke.status).toBe(200);
    expect((await call("GET", "/api/v1/usage", undefined, body.key.secret)).status).toBe(401);
  });

  it("issues service keys for existing tenants only", async () => {
    await call("POST", "/api/v1/admin/tenants", { id: "bravo", keys: [] });
    const ok = await call("POST", "/api/v1/admin/service-keys", { allowedTenants: ["alpha", "bravo"] });
    expect(ok.status).toBe(201);
    expect(((await ok.json()) as CreateServiceKeyResponse).key).toMatchObject({ kind: "service", allowedTenants: ["alpha", "bravo"] });
    expect((await call("POST", "/api/v1/admin/service-keys", { allowedTenants: ["ghost"] })).status).toBe(404);
    expect((await call("POST", "/api/v1/admin/service-keys", { allowedTenants: [] })).status).toBe(400);
  });

  it("the all-tenant overview shows exact usage, shares and budget status", async () => {
    await call("PUT", "/api/v1/admin/tenants/bravo", { budgets: { dailyTokens: 12 } });
    const range = `from=${NOW - 600_000}&to=${NOW}`;
    const res = await call("GET", `/api/v1/admin/tenants?${range}`);
    const body = (await res.json()) as AdminTenantsResponse;
    expect(body.tenants.map((t) => t.tenant.id)).toEqual(["alpha", "bravo"]);
    const [alpha, bravo] = body.tenants;
    // Sorted by cost over the range; calls count every attempt, the refused one included.
    expect(alpha!.activity).toMatchObject({ calls: 2, budgetRejections: 1, inputTokens: 800, outputTokens: 100, costUsd: 2, turns: 1, spans: 2, queueWaitShare: 0.75, handlerTimeShare: 0.75 });
    expect(bravo!.activity).toMatchObject({ calls: 2, inputTokens: 11, costUsd: 0.75, turns: 1, queueWaitShare: 0.25 });
    // One tenant's detail over the same range: its row of the list, shares of all tenants included.
    for (const row of [alpha!, bravo!]) {
      const detail = (await (await call("GET", `/api/v1/admin/tenants/${row.tenant.id}?${range}`)).json()) as AdminTenantDetailResponse;
      expect(detail.activity).toEqual(row.activity);
    }
    // Budgets read usage records of today and this month (the earlier call counts for the month).
    expect(bravo!.budget).toMatchObject({ dailyTokensUsed: 11, state: "near", maxUtilization: 0.916667 });
    expect(alpha!.budget).toMatchObject({ monthlyTokensUsed: 1900, monthlyCostUsdUsed: 5, state: "ok", maxUtilization: 0.05 });
    const csv = (await (await call("GET", `/api/v1/admin/tenants?format=csv&${range}`)).text()).split("\r\n");
    expect(csv[0]).toMatch(/,calls,inputTokens,outputTokens,costUsd,errors,budgetRejections,.*,rateLimited,timeouts,cachedInputTokens,reasoningTokens$/);
    expect(csv[1]).toMatch(/^alpha,Alpha Inc,process,90,2,0,1,2,800,100,2,0,1,/);
  });

  it("lists every tenant's settings sorted by id, without activity, for pickers; refuses parameters and non-admin keys", async () => {
    const res = await call("GET", "/api/v1/admin/tenant-list");
    expect(res.status).toBe(200);
    const body = (await res.json()) as AdminTenantListResponse;
    expect(body.tenants.map((t) => t.id)).toEqual(["alpha", "bravo"]);
    expect(body.tenants[1]).toMatchObject({ id: "bravo", budgets: { dailyTokens: 12 } });
    expect(Object.keys(body)).toEqual(["tenants"]);
    const bad = await call("GET", "/api/v1/admin/tenant-list?from=1");
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { message: string } }).error.message).toBe(`unknown parameter "from"`);
    const consoleKey = ((await (await call("POST", "/api/v1/admin/tenants/bravo/keys", { kind: "console" })).json()) as IssueKeyResponse).key.secret;
    expect((await call("GET", "/api/v1/admin/tenant-list", undefined, consoleKey)).status).toBe(403);
  });

  it("records every change in the audit log with its actor, without secrets", async () => {
    const rows = await gateway.query<{ actor: string; action: string; target: string; details: string }>("SELECT actor, action, target, details FROM audit_log ORDER BY at");
    expect(rows.map((r) => r.action)).toEqual(expect.arrayContaining(["tenant.create", "tenant.update", "key.issue", "key.rotate", "key.revoke", "key.issue_service"]));
    expect(rows.every((r) => r.actor === "admin")).toBe(true);
    expect(JSON.stringify(rows)).not.toMatch(/trp_(console|ingest|service)_/);
  });

  it("creates and updates the settings runtimes follow: quotas, rate limits, sampling, alert thresholds", async () => {
    const created = await call("POST", "/api/v1/admin/tenants", {
      id: "managed",
      keys: [],
      quotas: { maxInFlightTurns: 4, weight: 2 },
      rateLimits: { requestsPerMinute: 60 },
      samplingRatio: 0.5,
      alerts: { thresholds: [0.9, 0.5] },
    });
    expect(created.status).toBe(201);
    const { tenant } = (await created.json()) as CreateTenantResponse;
    expect(tenant).toMatchObject({
      quotas: { maxInFlightTurns: 4, maxQueuedMessages: null, messagesPerSecond: null, turnTimeoutMs: null, weight: 2 },
      rateLimits: { requestsPerMinute: 60, tokensPerMinute: null },
      samplingRatio: 0.5,
      alerts: { thresholds: [0.5, 0.9] },
    });
    const res = await call("PUT", "/api/v1/admin/tenants/managed", { quotas: { weight: null, messagesPerSecond: 2.5 }, samplingRatio: null });
    expect(res.status).toBe(200);
    const { tenant: updated } = (await res.json()) as UpdateTenantResponse;
    expect(updated.quotas).toEqual({ maxInFlightTurns: 4, maxQueuedMessages: null, messagesPerSecond: 2.5, turnTimeoutMs: null, weight: null });
    expect(updated).toMatchObject({ samplingRatio: null, rateLimits: { requestsPerMinute: 60 }, alerts: { thresholds: [0.5, 0.9] } });
    expect(updated.settingsVersion).toBeGreaterThan(tenant.settingsVersion);
    const detail = (await (await call("GET", "/api/v1/admin/tenants/managed")).json()) as AdminTenantDetailResponse;
    expect(detail.tenant).toEqual(updated);
  });

  it("refuses bad settings naming the field, unknown fields with their path, and changes nothing", async () => {
    const before = ((await (await call("GET", "/api/v1/admin/tenants/managed")).json()) as AdminTenantDetailResponse).tenant;
    const cases: [unknown, RegExp][] = [
      [{ quotas: { weight: 0 } }, /invalid parameter "quotas.weight": must be greater than 0/],
      [{ quotas: { maxInFlightTurns: 2.5 } }, /invalid parameter "quotas.maxInFlightTurns": must be a whole number/],
      [{ quotas: { turnTimeoutMs: "60s" } }, /invalid parameter "quotas.turnTimeoutMs": must be a number/],
      [{ rateLimits: { tokensPerMinute: -5 } }, /invalid parameter "rateLimits.tokensPerMinute": must be greater than 0/],
      [{ samplingRatio: 2 }, /invalid parameter "samplingRatio": must be from 0 to 1/],
      [{ alerts: { thresholds: [0.5, 0.5] } }, /invalid parameter "alerts.thresholds": must not repeat a threshold/],
      [{ alerts: { thresholds: [] } }, /invalid parameter "alerts.thresholds": must hold 1 to 5 thresholds/],
      [{ alerts: {} }, /invalid parameter "alerts.thresholds"/],
      [{ quotas: { weight: 2, speed: 1 } }, /unknown parameter "quotas.speed"/],
      [{ alerts: { thresholds: [0.5], webhook: "x" } }, /unknown parameter "alerts.webhook"/],
      [{ name: "Renamed", rateLimits: { requestsPerMinute: 0 } }, /invalid parameter "rateLimits.requestsPerMinute"/],
    ];
    for (const [body, message] of cases) {
      const res = await call("PUT", "/api/v1/admin/tenants/managed", body);
      expect(res.status).toBe(400);
      expect(((await res.json()) as ApiErrorBody).error.message).toMatch(message);
    }
    const bad = await call("POST", "/api/v1/admin/tenants", { id: "never", quotas: { weight: -1 } });
    expect(bad.status).toBe(400);
    expect((await call("GET", "/api/v1/admin/tenants/never")).status).toBe(404);
    expect(((await (await call("GET", "/api/v1/admin/tenants/managed")).json()) as AdminTenantDetailResponse).tenant).toEqual(before);
  });

  it("lists a tenant's runtimes (none checked in here) with its settings version; 404 for an unknown tenant", async () => {
    const res = await call("GET", "/api/v1/admin/tenants/managed/runtimes");
    expect(res.status).toBe(200);
    const body = (await res.json()) as TenantRuntimesResponse;
    expect(body).toMatchObject({ tenantId: "managed", runtimes: [] });
    expect(body.settingsVersion).toBeGreaterThan(0);
    expect((await call("GET", "/api/v1/admin/tenants/nobody/runtimes")).status).toBe(404);
  });
});
