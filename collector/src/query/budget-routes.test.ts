import { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ClickHouseGateway } from "../store/clickhouse-gateway.js";
import { openTempChdb } from "../store/temp-chdb.test-helper.js";
import { createTenantRegistry, type TenantRegistry } from "../tenants/tenant-registry.js";
import type { BudgetResponse } from "@troupe/contract/query-api";
import { createBudgetRoutes } from "./budget-routes.js";
import { insertUsage } from "./seed-usage.test-helper.js";

const ADMIN = "test-admin-key-abcdefghijk";
const NOW = Date.now();
let gateway: ClickHouseGateway;
let dispose: () => Promise<void>;
let registry: TenantRegistry;
let app: Hono;
const keys = { initechConsole: "", initechIngest: "", acmeConsole: "" };

function get(path: string, key: string): Promise<Response> {
  return Promise.resolve(app.request(path, { headers: { authorization: `Bearer ${key}` } }));
}

beforeAll(async () => {
  ({ gateway, dispose } = await openTempChdb());
  registry = createTenantRegistry(gateway, { adminKey: ADMIN });
  app = new Hono();
  app.route("/api/v1", createBudgetRoutes({ gateway, registry, now: () => NOW }));
  await registry.createTenant({ id: "initech", budgets: { dailyTokens: 40_000, monthlyCostUsd: 50 } }, "test");
  await registry.createTenant({ id: "acme" }, "test");
  keys.initechConsole = (await registry.issueKey("initech", "console", { actor: "test" })).key.secret;
  keys.initechIngest = (await registry.issueKey("initech", "ingest", { actor: "test" })).key.secret;
  keys.acmeConsole = (await registry.issueKey("acme", "console", { actor: "test" })).key.secret;
  await insertUsage(gateway, [
    { tenantId: "initech", timeMs: NOW, inputTokens: 70_000, outputTokens: 9_600, costUsd: 4 },
    { tenantId: "acme", timeMs: NOW, inputTokens: 5, outputTokens: 5, costUsd: 1 },
  ]);
});
afterAll(async () => dispose());

describe("GET /api/v1/budget", () => {
  it("gives a console key its own tenant's budgets and where it stands, as the operator sees them", async () => {
    const res = await get("/api/v1/budget", keys.initechConsole);
    expect(res.status).toBe(200);
    const body = (await res.json()) as BudgetResponse;
    expect(body.tenantId).toBe("initech");
    expect(body.budgets).toMatchObject({ dailyTokens: 40_000, monthlyTokens: null, dailyCostUsd: null, monthlyCostUsd: 50 });
    expect(body.status).toMatchObject({ dailyTokensUsed: 79_600, dailyCostUsdUsed: 4, state: "over", maxUtilization: 1.99 });
    // The same tenant's figures through the admin key.
    const admin = (await (await get("/api/v1/budget?tenant=initech", ADMIN)).json()) as BudgetResponse;
    expect(admin).toEqual(body);
  });

  it("never shows a console key another tenant's budget", async () => {
    const other = await get("/api/v1/budget?tenant=acme", keys.initechConsole);
    expect(other.status).toBe(403);
    expect(await other.text()).not.toContain("acme\",\"budgets");
    const own = (await (await get("/api/v1/budget", keys.acmeConsole)).json()) as BudgetResponse;
    expect(own).toMatchObject({ tenantId: "acme", status: { dailyTokensUsed: 10, state: "ok", maxUtilization: null } });
  });

  it("refuses ingest keys, unknown keys and malformed or unknown tenants", async () => {
    expect((await get("/api/v1/budget", keys.initechIngest)).status).toBe(403);
    expect((await get("/api/v1/budget", "trp_console_unknown")).status).toBe(401);
    expect((await get("/api/v1/budget", ADMIN)).status).toBe(400);
    expect((await get("/api/v1/budget?tenant=ghost", ADMIN)).status).toBe(404);
    expect((await get("/api/v1/budget?tenant=Bad%20Id", ADMIN)).status).toBe(400);
    expect((await get("/api/v1/budget?other=1", keys.initechConsole)).status).toBe(400);
  });
});
