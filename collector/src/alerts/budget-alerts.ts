import type { Hono } from "hono";
import type { AuthVariables } from "../http/auth.js";
import type { MetricRegistry } from "../metrics/metric-registry.js";
import type { ClickHouseGateway } from "../store/clickhouse-gateway.js";
import type { TenantRegistry } from "../tenants/tenant-registry.js";
import { AlertMetrics } from "./alert-metrics.js";
import { createAlertRoutes } from "./alert-routes.js";
import { createAlertStore } from "./alert-store.js";
import { BudgetAlertEvaluator, type BudgetAlertEvaluatorOptions } from "./budget-alert-evaluator.js";
import { WebhookSender } from "./webhook-sender.js";
import type { WebhookSenderOptions } from "./webhook-sender-options.js";
import { createWebhookStore } from "./webhook-store.js";

/** What budget alerts are built from. */
export interface BudgetAlertsOptions {
  gateway: ClickHouseGateway;
  registry: TenantRegistry;
  /** The collector's /metrics registry. */
  metrics: MetricRegistry;
  evaluator?: Partial<BudgetAlertEvaluatorOptions>;
  sender?: Partial<WebhookSenderOptions>;
  /** Told about failures of evaluations and delivery bookkeeping (retried; never carrying a secret). */
  onError?: (err: unknown) => void;
  /** Told about unexpected (500) errors of the alert routes. */
  onInternalError?: (err: unknown) => void;
}

/** Budget alerts, running. */
export interface BudgetAlerts {
  /** Mount under /api/v1. */
  routes: Hono<{ Variables: AuthVariables }>;
  /** Usage records of these tenants were just stored (the usage pipeline's `onStored`). */
  notify(tenantIds: Iterable<string>): void;
  evaluator: BudgetAlertEvaluator;
  sender: WebhookSender;
  /** Stops evaluating and delivering; undelivered alerts stay pending for the next start. Call before closing the gateway. */
  close(): Promise<void>;
}

/**
 * Starts budget alerts: resumes the deliveries left pending by the last run (of the last 24 h),
 * then evaluates every tenant at once and on each sweep, and tenants with new usage within a second.
 */
export async function startBudgetAlerts(options: BudgetAlertsOptions): Promise<BudgetAlerts> {
  const { gateway, registry } = options;
  const alerts = createAlertStore(gateway);
  const webhooks = createWebhookStore(gateway);
  const metrics = new AlertMetrics(options.metrics);
  const onError = options.onError;
  const sender = new WebhookSender({ alerts, webhooks, metrics, ...(onError ? { onError } : {}) }, options.sender);
  metrics.bindQueueDepth(() => sender.queueDepth());
  const evaluator = new BudgetAlertEvaluator(
    { gateway, tenants: registry, alerts, webhooks, deliver: (alert) => sender.enqueue(alert), metrics, ...(onError ? { onError } : {}) },
    options.evaluator,
  );
  try {
    await sender.resumePending();
  } catch (err) {
    // The store is not answering: those alerts stay pending and are resumed at the next start.
    metrics.errors.inc(["resume"]);
    onError?.(err);
  }
  evaluator.start();
  const routes = createAlertRoutes({
    registry,
    gateway,
    alerts,
    webhooks,
    sender,
    ...(options.onInternalError ? { onInternalError: options.onInternalError } : {}),
  });
  return {
    routes,
    notify: (tenantIds) => evaluator.notify(tenantIds),
    evaluator,
    sender,
    close: async () => {
      await evaluator.close();
      await sender.close();
    },
  };
}
