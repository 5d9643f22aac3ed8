import { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MetricRegistry } from "../metrics/metric-registry.js";
import type { SetWebhookResponse, TenantAlertsResponse, WebhookDelivery, WebhookEvent } from "@troupe/contract/query-api";
import type { ClickHouseGateway } from "../store/clickhouse-gateway.js";
import { openTempChdb } from "../store/temp-chdb.test-helper.js";
import { createTenantRegistry, type TenantRegistry } from "../tenants/tenant-registry.js";
import { AlertMetrics } from "./alert-metrics.js";
import { createAlertRoutes } from "./alert-routes.js";
import { createAlertStore, type AlertStore } from "./alert-store.js";
import { alertIdOf } from "./alert-windows.js";
import { startWebhookReceiver, type WebhookReceiver } from "./webhook-receiver.test-helper.js";
import { WebhookSender } from "./webhook-sender.js";
import { verifyWebhookSignature } from "./webhook-signature.js";
import { createWebhookStore } from "./webhook-store.js";

const ADMIN = "test-admin-key-abcdefghijk";
let gateway: ClickHouseGateway;
let dispose: () => Promise<void>;
let registry: TenantRegistry;
let alerts: AlertStore;
let receiver: WebhookReceiver;
let sender: WebhookSender;
let app: Hono;
let alphaConsole: string;

function call(method: string, path: string, body?: unknown, key: string = ADMIN): Promise<Response> {
  return Promise.resolve(
    app.request(path, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    }),
  );
}

beforeAll(async () => {
  ({ gateway, dispose } = await openTempChdb());
  registry = createTenantRegistry(gateway, { adminKey: ADMIN });
  alerts = createAlertStore(gateway);
  const webhooks = createWebhookStore(gateway);
  sender = new WebhookSender({ alerts, webhooks, metrics: new AlertMetrics(new MetricRegistry()) }, { baseDelayMs: 5, timeoutMs: 2_000 });
  receiver = await startWebhookReceiver();
  app = new Hono();
  app.route("/api/v1", createAlertRoutes({ registry, gateway, alerts, webhooks, sender }));
  await registry.createTenant({ id: "alpha", budgets: { dailyTokens: 1000 } });
  await registry.createTenant({ id: "bravo" });
  alphaConsole = (await registry.issueKey("alpha", "console")).key.secret;
  const base = { tenantId: "alpha", kind: "threshold", window: "day", windowKey: "2026-12-06", metric: "tokens", threshold: 0.8 } as const;
  await alerts.insertAlerts([{ ...base, alertId: alertIdOf("alpha", "day:2026-12-06:tokens:0.8"), used: 800, limit: 1000, raisedAt: "2026-12-06T10:00:00.000Z", delivery: "none" }]);
});
afterAll(async () => {
  await sender.close();
  await receiver.close();
  await dispose();
});

describe("alert routes", () => {
  let secret: string;

  it("sets a webhook and shows its secret once, never cached", async () => {
    const res = await call("PUT", "/api/v1/admin/tenants/alpha/webhook", { url: `${receiver.url}/hooks/secret-token?x=1` });
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const body = (await res.json()) as SetWebhookResponse;
    expect(body.url).toBe(`${receiver.url}/hooks/secret-token?x=1`);
    expect(body.secret).toMatch(/^whsec_[0-9A-Za-z]{43}$/);
    secret = body.secret;

    const view = await call("GET", "/api/v1/admin/tenants/alpha/alerts");
    expect(view.status).toBe(200);
    const text = await view.text();
    expect(text).not.toContain(secret);
    const alertsView = JSON.parse(text) as TenantAlertsResponse;
    expect(alertsView).toMatchObject({ tenantId: "alpha", thresholds: [0.8, 0.95], webhook: { url: body.url }, deliveries: [] });
    expect(alertsView.alerts.map((a) => [a.kind, a.threshold, a.used])).toEqual([["threshold", 0.8, 800]]);

    const audit = await gateway.query<{ actor: string; action: string; target: string; details: string }>("SELECT actor, action, target, details FROM audit_log WHERE action LIKE 'webhook.%'");
    expect(audit).toEqual([{ actor: "admin", action: "webhook.set", target: "alpha", details: JSON.stringify({ url: body.url }) }]);
  });

  it("refuses a bad URL (400 naming url) and an unknown tenant (404 naming it)", async () => {
    for (const url of ["ftp://example.com/x", "not a url", "/relative", `https://example.com/${"a".repeat(2100)}`, 42]) {
      const res = await call("PUT", "/api/v1/admin/tenants/alpha/webhook", { url });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { message: string } }).error.message).toContain('"url"');
    }
    const res = await call("PUT", "/api/v1/admin/tenants/nobody/webhook", { url: "https://example.com/" });
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { message: string } }).error.message).toContain('"nobody"');
    expect((await call("GET", "/api/v1/admin/tenants/nobody/alerts")).status).toBe(404);
    expect((await call("POST", "/api/v1/admin/tenants/nobody/webhook/test")).status).toBe(404);
  });

  it("sends a signed test event at once and answers the attempt, which the delivery log shows", async () => {
    const res = await call("POST", "/api/v1/admin/tenants/alpha/webhook/test");
    expect(res.status).toBe(200);
    const attempt = (await res.json()) as WebhookDelivery;
    expect(attempt).toMatchObject({ tenantId: "alpha", attempt: 1, statusCode: 200, outcome: "delivered", error: null });
    const [req] = receiver.received;
    expect(req!.path).toBe("/hooks/secret-token?x=1");
    expect(JSON.parse(req!.body) as WebhookEvent).toMatchObject({ id: attempt.alertId, type: "test", tenantId: "alpha", alert: null });
    expect(verifyWebhookSignature(secret, req!.body, String(req!.headers["troupe-signature"]))).toBe(true);
    const view = (await (await call("GET", "/api/v1/admin/tenants/alpha/alerts")).json()) as TenantAlertsResponse;
    expect(view.deliveries).toEqual([attempt]);

    receiver.respond = () => ({ status: 500 });
    const failed = (await (await call("POST", "/api/v1/admin/tenants/alpha/webhook/test")).json()) as WebhookDelivery;
    expect(failed).toMatchObject({ statusCode: 500, outcome: "failed", error: "HTTP 500" });
    receiver.respond = () => ({ status: 200 });
  });

  it("lets a console key read its own tenant's alerts only, without deliveries or the webhook's path", async () => {
    const res = await call("GET", "/api/v1/alerts", undefined, alphaConsole);
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).not.toContain("secret-token");
    const own = JSON.parse(text) as TenantAlertsResponse;
    expect(own).toMatchObject({ tenantId: "alpha", webhook: { url: receiver.url }, deliveries: [] });
    expect(own.alerts).toHaveLength(1);
    expect((await call("GET", "/api/v1/alerts?tenant=bravo", undefined, alphaConsole)).status).toBe(403);
    for (const path of ["/api/v1/admin/tenants/alpha/alerts", "/api/v1/admin/tenants/alpha/webhook/test"]) {
      expect((await call(path.endsWith("test") ? "POST" : "GET", path, undefined, alphaConsole)).status).toBe(403);
    }
    expect((await call("PUT", "/api/v1/admin/tenants/alpha/webhook", { url: "https://evil.example/" }, alphaConsole)).status).toBe(403);
    expect((await call("GET", "/api/v1/alerts")).status).toBe(400);
    const admin = (await (await call("GET", "/api/v1/alerts?tenant=bravo")).json()) as TenantAlertsResponse;
    expect(admin).toMatchObject({ tenantId: "bravo", webhook: null, alerts: [], deliveries: [] });
    expect((await app.request("/api/v1/alerts")).status).toBe(401);
  });

  it("removes the webhook: test events then have nowhere to go", async () => {
    const res = await call("DELETE", "/api/v1/admin/tenants/alpha/webhook");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ tenantId: "alpha", removed: true });
    expect(await (await call("DELETE", "/api/v1/admin/tenants/alpha/webhook")).json()).toEqual({ tenantId: "alpha", removed: false });
    expect((await call("POST", "/api/v1/admin/tenants/alpha/webhook/test")).status).toBe(404);
    const view = (await (await call("GET", "/api/v1/admin/tenants/alpha/alerts")).json()) as TenantAlertsResponse;
    expect(view.webhook).toBeNull();
    const actions = await gateway.query<{ action: string }>("SELECT action FROM audit_log WHERE action LIKE 'webhook.%' ORDER BY at");
    expect(actions.map((a) => a.action)).toEqual(["webhook.set", "webhook.remove"]);
  });
});
