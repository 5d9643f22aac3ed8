import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { MetricRegistry } from "../metrics/metric-registry.js";
import type { BudgetAlert, WebhookEvent } from "@troupe/contract/query-api";
import type { ClickHouseGateway } from "../store/clickhouse-gateway.js";
import { openTempChdb } from "../store/temp-chdb.test-helper.js";
import { AlertMetrics } from "./alert-metrics.js";
import { createAlertStore, type AlertStore } from "./alert-store.js";
import { alertIdOf, alertKeyOf } from "./alert-windows.js";
import { startWebhookReceiver, type WebhookReceiver } from "./webhook-receiver.test-helper.js";
import { WebhookSender } from "./webhook-sender.js";
import type { WebhookSenderOptions } from "./webhook-sender-options.js";
import { verifyWebhookSignature } from "./webhook-signature.js";
import { WEBHOOK_SECRET_PATTERN, createWebhookStore, type WebhookStore } from "./webhook-store.js";

let gateway: ClickHouseGateway;
let dispose: () => Promise<void>;
let alerts: AlertStore;
let webhooks: WebhookStore;
let receiver: WebhookReceiver;
const senders: WebhookSender[] = [];
let tenantSeq = 0;

beforeAll(async () => {
  ({ gateway, dispose } = await openTempChdb());
  alerts = createAlertStore(gateway);
  webhooks = createWebhookStore(gateway);
  receiver = await startWebhookReceiver();
});
afterEach(async () => {
  await Promise.all(senders.splice(0).map((s) => s.close()));
  receiver.received.length = 0;
  receiver.respond = () => ({ status: 200 });
});
afterAll(async () => {
  await receiver.close();
  await dispose();
});

const FAST: Partial<WebhookSenderOptions> = { baseDelayMs: 5, maxDelayMs: 2_000, timeoutMs: 2_000 };

function sender(options: Partial<WebhookSenderOptions> = {}): { sender: WebhookSender; metrics: AlertMetrics } {
  const metrics = new AlertMetrics(new MetricRegistry());
  const s = new WebhookSender({ alerts, webhooks, metrics }, { ...FAST, ...options });
  senders.push(s);
  return { sender: s, metrics };
}

/** A fresh tenant with a webhook on the receiver, and a stored pending alert of it. */
async function pendingAlert(path = "/hook"): Promise<{ alert: BudgetAlert; secret: string }> {
  const tenantId = `t${++tenantSeq}`;
  const { secret } = await webhooks.set(tenantId, `${receiver.url}${path}`);
  const base = { tenantId, kind: "threshold", window: "day", windowKey: "2026-12-06", metric: "tokens", threshold: 0.8 } as const;
  const alert: BudgetAlert = { ...base, alertId: alertIdOf(tenantId, alertKeyOf(base)), used: 800, limit: 1000, raisedAt: new Date().toISOString(), delivery: "pending" };
  await alerts.insertAlerts([alert]);
  return { alert, secret };
}

async function storedDelivery(alert: BudgetAlert): Promise<BudgetAlert["delivery"] | undefined> {
  return (await alerts.listAlerts(alert.tenantId, 10)).find((a) => a.alertId === alert.alertId)?.delivery;
}

describe("WebhookSender", () => {
  it("POSTs the alert as signed JSON that verifies with the tenant's secret only", async () => {
    const { alert, secret } = await pendingAlert();
    expect(secret).toMatch(WEBHOOK_SECRET_PATTERN);
    const { sender: s, metrics } = sender();
    s.enqueue(alert);
    await s.whenIdle();
    const [req] = receiver.received;
    expect(req).toMatchObject({ method: "POST", path: "/hook" });
    expect(req!.headers["content-type"]).toBe("application/json");
    expect(req!.headers["user-agent"]).toBe("troupe-collector");
    expect(req!.headers["troupe-event-id"]).toBe(alert.alertId);
    const event = JSON.parse(req!.body) as WebhookEvent;
    expect(event).toMatchObject({ id: alert.alertId, type: "budget.threshold", tenantId: alert.tenantId, alert: { threshold: 0.8, used: 800, limit: 1000 } });
    const signature = String(req!.headers["troupe-signature"]);
    expect(signature).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    expect(verifyWebhookSignature(secret, req!.body, signature)).toBe(true);
    // Another secret: the last character changed (to "y" when it was "x", which one secret in the alphabet's size ends with).
    const other = `${secret.slice(0, -1)}${secret.endsWith("x") ? "y" : "x"}`;
    expect(verifyWebhookSignature(other, req!.body, signature)).toBe(false);
    expect(verifyWebhookSignature(secret, req!.body.replace("800", "801"), signature)).toBe(false);
    expect(verifyWebhookSignature(secret, req!.body, signature, { nowS: Math.floor(Date.now() / 1000) + 3600 })).toBe(false);
    expect(await storedDelivery(alert)).toBe("delivered");
    expect(metrics.deliveries.value(["delivered"])).toBe(1);
    expect(req!.body).not.toContain(secret);
  });

  it("retries a 500 with backoff until delivered, the same event each time, every attempt in the log", async () => {
    const { alert } = await pendingAlert();
    receiver.respond = (n) => ({ status: n <= 2 ? 500 : 204 });
    const { sender: s, metrics } = sender();
    s.enqueue(alert);
    await s.whenIdle();
    expect(receiver.received).toHaveLength(3);
    expect(new Set(receiver.received.map((r) => r.body)).size).toBe(1);
    expect(new Set(receiver.received.map((r) => r.headers["troupe-event-id"]))).toEqual(new Set([alert.alertId]));
    const log = (await alerts.listDeliveries(alert.tenantId, 10)).sort((a, b) => a.attempt - b.attempt);
    expect(log.map((d) => [d.attempt, d.statusCode, d.outcome])).toEqual([
      [1, 500, "retrying"],
      [2, 500, "retrying"],
      [3, 204, "delivered"],
    ]);
    expect(log[0]).toMatchObject({ alertId: alert.alertId, url: `${receiver.url}/hook`, error: "HTTP 500" });
    expect(log[2]!.error).toBeNull();
    expect(await storedDelivery(alert)).toBe("delivered");
    expect(metrics.deliveries.value(["retrying"])).toBe(2);
  });

  it("marks the alert failed after the last attempt", async () => {
    const { alert } = await pendingAlert();
    receiver.respond = () => ({ status: 500 });
    const { sender: s, metrics } = sender({ maxAttempts: 4 });
    s.enqueue(alert);
    await s.whenIdle();
    expect(receiver.received).toHaveLength(4);
    const log = await alerts.listDeliveries(alert.tenantId, 10);
    expect(log.map((d) => d.outcome).sort()).toEqual(["failed", "retrying", "retrying", "retrying"]);
    expect(log.find((d) => d.outcome === "failed")!.attempt).toBe(4);
    expect(await storedDelivery(alert)).toBe("failed");
    expect(metrics.deliveries.value(["failed"])).toBe(1);
  });

  it("waits as long as a 429's Retry-After asks", async () => {
    const { alert } = await pendingAlert();
    receiver.respond = (n) => (n === 1 ? { status: 429, headers: { "Retry-After": "1" } } : { status: 200 });
    const { sender: s } = sender();
    s.enqueue(alert);
    await s.whenIdle();
    expect(receiver.received).toHaveLength(2);
    expect(receiver.received[1]!.atMs - receiver.received[0]!.atMs).toBeGreaterThanOrEqual(900);
  });

  it("does not follow redirects, and gives up on a receiver that does not answer in time", async () => {
    const { alert } = await pendingAlert("/moved");
    receiver.respond = (_n, req) => (req.path === "/moved" ? { status: 302, headers: { Location: "/elsewhere" } } : { status: 200 });
    const { sender: s } = sender({ maxAttempts: 1 });
    s.enqueue(alert);
    await s.whenIdle();
    expect(receiver.received.map((r) => r.path)).toEqual(["/moved"]);
    expect((await alerts.listDeliveries(alert.tenantId, 1))[0]).toMatchObject({ statusCode: 302, outcome: "failed", error: "HTTP 302: redirects are not followed" });

    const slow = await pendingAlert();
    receiver.respond = () => "hang";
    const { sender: s2 } = sender({ maxAttempts: 1, timeoutMs: 200 });
    s2.enqueue(slow.alert);
    await s2.whenIdle();
    expect((await alerts.listDeliveries(slow.alert.tenantId, 1))[0]).toMatchObject({ statusCode: null, outcome: "failed", error: "no answer within 200 ms" });
  });

  it("resumes pending alerts at start, continuing the attempt count", async () => {
    const { alert } = await pendingAlert();
    receiver.respond = () => ({ status: 503 });
    const first = sender({ baseDelayMs: 60_000 }).sender;
    first.enqueue(alert);
    await receiver.waitFor(1);
    await new Promise((r) => setTimeout(r, 100)); // the attempt is logged, the retry waits a minute
    await first.close(); // the collector stops before the retry
    expect(await storedDelivery(alert)).toBe("pending");

    receiver.respond = () => ({ status: 200 });
    const second = sender().sender;
    const resumed = await second.resumePending();
    expect(resumed).toBeGreaterThanOrEqual(1);
    await second.whenIdle();
    expect(receiver.received).toHaveLength(2);
    const log = (await alerts.listDeliveries(alert.tenantId, 10)).sort((a, b) => a.attempt - b.attempt);
    expect(log.map((d) => [d.attempt, d.outcome])).toEqual([
      [1, "retrying"],
      [2, "delivered"],
    ]);
    expect(await storedDelivery(alert)).toBe("delivered");
  });

  it("holds a bounded number of alerts: one more is dropped, counted and marked failed", async () => {
    const a = await pendingAlert();
    const b = await pendingAlert();
    receiver.respond = () => "hang";
    const { sender: s, metrics } = sender({ maxQueueSize: 1, maxAttempts: 1, timeoutMs: 300 });
    expect(s.enqueue(a.alert)).toBe(true);
    expect(s.enqueue(b.alert)).toBe(false);
    expect(metrics.queueDropped.value()).toBe(1);
    expect(s.queueDepth()).toBe(1);
    await s.whenIdle();
    await expect.poll(() => storedDelivery(b.alert)).toBe("failed");
  });

  it("marks the alert failed when the tenant's webhook was removed", async () => {
    const { alert } = await pendingAlert();
    await webhooks.remove(alert.tenantId);
    const { sender: s } = sender();
    s.enqueue(alert);
    await s.whenIdle();
    expect(receiver.received).toHaveLength(0);
    expect(await storedDelivery(alert)).toBe("failed");
  });
});
