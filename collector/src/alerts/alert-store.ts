import type { BudgetAlert, WebhookDelivery } from "@troupe/contract/query-api";
import type { ClickHouseGateway } from "../store/clickhouse-gateway.js";
import { toClickHouseDateTime } from "../store/clickhouse-time.js";
import { alertKeyOf } from "./alert-windows.js";

/** A pending alert to deliver, with the attempts already logged for it. */
export interface PendingAlert {
  alert: BudgetAlert;
  attemptsMade: number;
}

/**
 * Budget alerts and their delivery log (tables budget_alerts and webhook_deliveries). Guarantees:
 * every query binds the tenant and values as parameters; one row per (tenant, alert key) survives,
 * the latest delivery state winning.
 */
export interface AlertStore {
  /** Stores newly raised alerts. */
  insertAlerts(alerts: readonly BudgetAlert[]): Promise<void>;
  /** Records where an alert's delivery stands; returns the alert as now stored. */
  setDelivery(alert: BudgetAlert, delivery: BudgetAlert["delivery"]): Promise<BudgetAlert>;
  /** The (tenant, alert key) pairs already raised in these windows (`YYYY-MM-DD`, `YYYY-MM`). */
  raisedKeys(windowKeys: readonly string[]): Promise<{ tenantId: string; alertKey: string }[]>;
  /** A tenant's alerts, newest first. */
  listAlerts(tenantId: string, limit: number): Promise<BudgetAlert[]>;
  /** Alerts of every tenant still "pending" that were raised at or after `sinceMs`, oldest first. */
  pendingSince(sinceMs: number): Promise<PendingAlert[]>;
  /** Logs one delivery attempt. */
  insertDelivery(delivery: WebhookDelivery): Promise<void>;
  /** A tenant's latest delivery attempts, newest first. */
  listDeliveries(tenantId: string, limit: number): Promise<WebhookDelivery[]>;
}

interface AlertDbRow {
  tenant_id: string;
  alert_id: string;
  kind: string;
  window: string;
  window_key: string;
  metric: string;
  threshold: number | null;
  used: number;
  limit: number | null;
  raised_ms: number | string;
  delivery: string;
}

interface DeliveryDbRow {
  tenant_id: string;
  alert_id: string;
  attempt: number | string;
  at_ms: number | string;
  url: string;
  status_code: number | null;
  outcome: string;
  error: string | null;
  duration_ms: number;
}

const ALERT_COLUMNS = `tenant_id, alert_id, kind, window, window_key, metric, threshold, used, limit,
  toUnixTimestamp64Milli(raised_at) AS raised_ms, delivery`;
const DELIVERY_COLUMNS = `tenant_id, alert_id, attempt, toUnixTimestamp64Milli(at) AS at_ms, url, status_code, outcome, error, duration_ms`;

/** The AlertStore on ClickHouse, through the gateway (which it does not close). */
export function createAlertStore(gateway: ClickHouseGateway, options: { now?: () => number } = {}): AlertStore {
  const now = options.now ?? Date.now;
  let lastVersion = 0;
  // Versions order the rows of one alert (raised, then delivered or failed), also across instances.
  const nextVersion = (): number => (lastVersion = Math.max(lastVersion + 1, now() * 1000));

  const toRow = (a: BudgetAlert): Record<string, unknown> => ({
    tenant_id: a.tenantId,
    alert_id: a.alertId,
    alert_key: alertKeyOf(a),
    kind: a.kind,
    window: a.window,
    window_key: a.windowKey,
    metric: a.metric,
    threshold: a.threshold,
    used: a.used,
    limit: a.limit,
    raised_at: toClickHouseDateTime(Date.parse(a.raisedAt)),
    delivery: a.delivery,
    version: nextVersion(),
  });

  return {
    async insertAlerts(alerts) {
      if (alerts.length > 0) await gateway.insert("budget_alerts", alerts.map(toRow));
    },

    async setDelivery(alert, delivery) {
      const updated: BudgetAlert = { ...alert, delivery };
      await gateway.insert("budget_alerts", [toRow(updated)]);
      return updated;
    },

    async raisedKeys(windowKeys) {
      const rows = await gateway.query<{ tenant_id: string; alert_key: string }>(
        `SELECT DISTINCT tenant_id, alert_key FROM budget_alerts WHERE window_key IN {keys:Array(String)}`,
        { keys: [...windowKeys] },
      );
      return rows.map((r) => ({ tenantId: r.tenant_id, alertKey: r.alert_key }));
    },

    async listAlerts(tenantId, limit) {
      const rows = await gateway.query<AlertDbRow>(
        `SELECT ${ALERT_COLUMNS} FROM budget_alerts FINAL WHERE tenant_id = {tenant:String}
         ORDER BY raised_at DESC, alert_key LIMIT {limit:UInt32}`,
        { tenant: tenantId, limit },
      );
      return rows.map(toAlert);
    },

    async pendingSince(sinceMs) {
      const rows = await gateway.query<AlertDbRow>(
        `SELECT ${ALERT_COLUMNS} FROM budget_alerts FINAL
         WHERE delivery = 'pending' AND raised_at >= fromUnixTimestamp64Milli({since:Int64}, 'UTC')
         ORDER BY raised_at, tenant_id, alert_key`,
        { since: sinceMs },
      );
      if (rows.length === 0) return [];
      const counts = await gateway.query<{ tenant_id: string; alert_id: string; attempts: number | string }>(
        `SELECT tenant_id, alert_id, count() AS attempts FROM webhook_deliveries
         WHERE at >= fromUnixTimestamp64Milli({since:Int64}, 'UTC') AND alert_id IN {ids:Array(String)}
         GROUP BY tenant_id, alert_id`,
        { since: sinceMs, ids: [...new Set(rows.map((r) => r.alert_id))] },
      );
      const made = new Map(counts.map((c) => [`${c.tenant_id}\u0000${c.alert_id}`, Number(c.attempts)]));
      return rows.map((r) => ({ alert: toAlert(r), attemptsMade: made.get(`${r.tenant_id}\u0000${r.alert_id}`) ?? 0 }));
    },

    async insertDelivery(d) {
      await gateway.insert("webhook_deliveries", [
        {
          tenant_id: d.tenantId,
          alert_id: d.alertId,
          attempt: d.attempt,
          at: toClickHouseDateTime(Date.parse(d.at)),
          url: d.url,
          status_code: d.statusCode,
          outcome: d.outcome,
          error: d.error,
          duration_ms: d.durationMs,
        },
      ]);
    },

    async listDeliveries(tenantId, limit) {
      const rows = await gateway.query<DeliveryDbRow>(
        `SELECT ${DELIVERY_COLUMNS} FROM webhook_deliveries WHERE tenant_id = {tenant:String}
         ORDER BY at DESC, attempt DESC LIMIT {limit:UInt32}`,
        { tenant: tenantId, limit },
      );
      return rows.map(toDelivery);
    },
  };
}

function toAlert(r: AlertDbRow): BudgetAlert {
  return {
    alertId: r.alert_id,
    tenantId: r.tenant_id,
    kind: r.kind === "rejected" ? "rejected" : "threshold",
    window: r.window === "month" ? "month" : "day",
    windowKey: r.window_key,
    metric: r.metric === "costUsd" ? "costUsd" : "tokens",
    threshold: r.threshold === null ? null : Number(r.threshold),
    used: Number(r.used),
    limit: r.limit === null ? null : Number(r.limit),
    raisedAt: new Date(Number(r.raised_ms)).toISOString(),
    delivery: r.delivery === "pending" || r.delivery === "delivered" || r.delivery === "failed" ? r.delivery : "none",
  };
}

function toDelivery(r: DeliveryDbRow): WebhookDelivery {
  return {
    alertId: r.alert_id,
    tenantId: r.tenant_id,
    attempt: Number(r.attempt),
    at: new Date(Number(r.at_ms)).toISOString(),
    url: r.url,
    statusCode: r.status_code === null ? null : Number(r.status_code),
    outcome: r.outcome === "delivered" || r.outcome === "retrying" ? r.outcome : "failed",
    error: r.error,
    durationMs: Number(r.duration_ms),
  };
}
