import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { UNSET_BUDGETS, UNSET_QUOTAS, UNSET_RATE_LIMITS } from "@troupe/contract";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CollectorMetrics } from "../metrics/collector-metrics.js";
import { MetricRegistry } from "../metrics/metric-registry.js";
import { UsagePipeline } from "../pipeline/usage-pipeline.js";
import type { BudgetAlert, TenantBudgets, TenantRecord } from "@troupe/contract/query-api";
import { insertUsage } from "../query/seed-usage.test-helper.js";
import type { ClickHouseGateway } from "../store/clickhouse-gateway.js";
import { createClickHouseUsageStore } from "../store/clickhouse-usage-store.js";
import { openTempChdb } from "../store/temp-chdb.test-helper.js";
import { AlertMetrics } from "./alert-metrics.js";
import { createAlertStore, type AlertStore } from "./alert-store.js";
import { alertKeyOf } from "./alert-windows.js";
import { BudgetAlertEvaluator, type BudgetAlertEvaluatorOptions } from "./budget-alert-evaluator.js";
import { startWebhookReceiver, type WebhookReceiver } from "./webhook-receiver.test-helper.js";
import { WebhookSender } from "./webhook-sender.js";
import { createWebhookStore, type WebhookStore } from "./webhook-store.js";

// Noon today (UTC): every record below lies in today's day and month windows.
const today = new Date();
const NOW = Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate(), 12);
const DAY = new Date(NOW).toISOString().slice(0, 10);
const MONTH = DAY.slice(0, 7);

let gateway: ClickHouseGateway;
let dispose: () => Promise<void>;
let alerts: AlertStore;
let webhooks: WebhookStore;
let receiver: WebhookReceiver;
const tenants = new Map<string, TenantRecord>();
const delivered: BudgetAlert[] = [];

beforeAll(async () => {
  ({ gateway, dispose } = await openTempChdb());
  alerts = createAlertStore(gateway);
  webhooks = createWebhookStore(gateway);
  receiver = await startWebhookReceiver();
});
afterAll(async () => {
  await receiver.close();
  await dispose();
});

function tenant(id: string, budgets: Partial<TenantBudgets>, thresholds = [0.8, 0.95]): TenantRecord {
  const at = new Date(NOW).toISOString();
  const record: TenantRecord = {
    id,
    name: id,
    tier: "shared",
    retentionDays: 30,
    budgets: { ...UNSET_BUDGETS, ...budgets },
    quotas: { ...UNSET_QUOTAS },
    rateLimits: { ...UNSET_RATE_LIMITS },
    samplingRatio: null,
    alerts: { thresholds },
    settingsVersion: 1,
    createdAt: at,
    updatedAt: at,
  };
  tenants.set(id, record);
  return record;
}

function evaluator(options: Partial<BudgetAlertEvaluatorOptions> = {}, deliver: (a: BudgetAlert) => void = (a) => delivered.push(a)): { evaluator: BudgetAlertEvaluator; metrics: AlertMetrics } {
  const metrics = new AlertMetrics(new MetricRegistry());
  const registry = { getTenant: async (id: string) => tenants.get(id) ?? null, listTenants: async () => [...tenants.values()] };
  return { evaluator: new BudgetAlertEvaluator({ gateway, tenants: registry, alerts, webhooks, deliver, metrics, now: () => NOW }, options), metrics };
}

const keysOf = (raised: readonly BudgetAlert[]) => raised.map(alertKeyOf).sort();

describe("BudgetAlertEvaluator", () => {
  it("raises each threshold once, at 80% then 95%, for tokens and cost, day and month", async () => {
    tenant("acme", { dailyTokens: 1000, monthlyTokens: 1000, dailyCostUsd: 1, monthlyCostUsd: 1 });
    const { evaluator: e, metrics } = evaluator();
    expect(await e.evaluate(["acme"])).toEqual([]);
    await insertUsage(gateway, [{ tenantId: "acme", timeMs: NOW, inputTokens: 800, outputTokens: 50, costUsd: 0.85 }]);
    const first = await e.evaluate(["acme"]);
    expect(keysOf(first)).toEqual([`day:${DAY}:costUsd:0.8`, `day:${DAY}:tokens:0.8`, `month:${MONTH}:costUsd:0.8`, `month:${MONTH}:tokens:0.8`]);
    expect(first.find((a) => alertKeyOf(a) === `day:${DAY}:tokens:0.8`)).toMatchObject({ kind: "threshold", used: 850, limit: 1000, threshold: 0.8, delivery: "none" });
    expect(await e.evaluate(["acme"])).toEqual([]);
    await insertUsage(gateway, [{ tenantId: "acme", timeMs: NOW, inputTokens: 100, outputTokens: 10, costUsd: 0.11 }]);
    expect(keysOf(await e.evaluate())).toEqual([`day:${DAY}:costUsd:0.95`, `day:${DAY}:tokens:0.95`, `month:${MONTH}:costUsd:0.95`, `month:${MONTH}:tokens:0.95`]);
    expect(await e.evaluate()).toEqual([]);
    expect(metrics.alertsRaised.value(["threshold"])).toBe(8);
    const stored = await alerts.listAlerts("acme", 100);
    expect(stored).toHaveLength(8);
    expect(new Set(stored.map((a) => a.alertId)).size).toBe(8);

    // A restarted instance reads the keys back: nothing is raised twice.
    const { evaluator: restarted } = evaluator();
    expect(await restarted.evaluate()).toEqual([]);
    expect(delivered).toEqual([]);
  });

  it("raises a refusal alert on the first budget_rejected record of a window, once", async () => {
    tenant("capped", { dailyTokens: 100 }, [0.5]);
    tenant("own", {});
    const { evaluator: e, metrics } = evaluator();
    await insertUsage(gateway, [{ tenantId: "capped", timeMs: NOW, inputTokens: 100, outputTokens: 0, costUsd: 0.01 }]);
    expect(keysOf(await e.evaluate(["capped", "own"]))).toEqual([`day:${DAY}:tokens:0.5`]);
    await insertUsage(gateway, [
      { tenantId: "capped", timeMs: NOW, outcome: "budget_rejected" },
      // A budget the runtime holds in code (none in the registry): the day window, no limit.
      { tenantId: "own", timeMs: NOW, outcome: "budget_rejected" },
    ]);
    const raised = await e.evaluate(["capped", "own"]);
    expect(raised.map((a) => [a.tenantId, alertKeyOf(a), a.metric, a.used, a.limit])).toEqual([
      ["capped", `day:${DAY}:rejected`, "tokens", 100, 100],
      ["own", `day:${DAY}:rejected`, "tokens", 0, null],
    ]);
    await insertUsage(gateway, [{ tenantId: "capped", timeMs: NOW, outcome: "budget_rejected" }]);
    expect(await e.evaluate(["capped", "own"])).toEqual([]);
    expect(metrics.alertsRaised.value(["rejected"])).toBe(2);
  });

  it("raises nothing for a tenant without budgets", async () => {
    tenant("free", {});
    await insertUsage(gateway, [{ tenantId: "free", timeMs: NOW, inputTokens: 10_000_000, outputTokens: 0, costUsd: 5000 }]);
    expect(await evaluator().evaluator.evaluate(["free"])).toEqual([]);
    expect(await alerts.listAlerts("free", 10)).toEqual([]);
  });

  it("evaluates tenants the usage pipeline just stored records of, and hands alerts to the webhook", async () => {
    tenant("hooked", { monthlyCostUsd: 10 });
    const { secret } = await webhooks.set("hooked", `${receiver.url}/alerts`);
    expect(secret).toMatch(/^whsec_/);
    const metrics = new AlertMetrics(new MetricRegistry());
    const sender = new WebhookSender({ alerts, webhooks, metrics }, { baseDelayMs: 5 });
    const { evaluator: e } = evaluator({ minIntervalMs: 20 }, (a) => sender.enqueue(a));
    const dir = await mkdtemp(join(tmpdir(), "troupe-alert-hook-"));
    const pipeline = await UsagePipeline.start({
      store: createClickHouseUsageStore(gateway),
      metrics: new CollectorMetrics(),
      spool: { dir, maxBytes: 16 * 1024 * 1024 },
      writer: { maxBatchDelayMs: 5 },
    });
    pipeline.onStored((ids) => e.notify(ids));
    try {
      await pipeline.accept([
        {
          id: randomUUID(),
          tenant: "hooked",
          agentType: "a",
          model: "m",
          responseModel: "m",
          provider: "openai",
          inputTokens: 10,
          outputTokens: 1,
          cachedInputTokens: 0,
          reasoningTokens: 0,
          costUsd: 9,
          outcome: "ok",
          usageExact: true,
          timeMs: NOW,
          traceId: "",
          spanId: "",
          ledgerId: "",
          serviceName: "svc",
          retentionDays: 30,
        },
      ]);
      const [req] = await receiver.waitFor(1);
      expect(JSON.parse(req!.body)).toMatchObject({ type: "budget.threshold", tenantId: "hooked", alert: { window: "month", metric: "costUsd", threshold: 0.8, used: 9, limit: 10 } });
      await sender.whenIdle();
      const stored = await alerts.listAlerts("hooked", 10);
      expect(stored.map((a) => [alertKeyOf(a), a.delivery])).toEqual([[`month:${MONTH}:costUsd:0.8`, "delivered"]]);
    } finally {
      await pipeline.close(1_000);
      await e.close();
      await sender.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
