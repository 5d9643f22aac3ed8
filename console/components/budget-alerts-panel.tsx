// The operator's budget alerts of one tenant: the alerts raised, the webhook they go to (set, test,
// remove) and the latest delivery attempts (server component; the forms are client components).
import type { Loaded } from "../lib/api/load";
import type { TenantAlertsResponse } from "../lib/api/types";
import {
  alertKindLabel,
  alertMetricLabel,
  alertThresholdLabel,
  alertUsedLabel,
  alertWindowLabel,
  deliveryLabel,
  deliveryTone,
} from "../lib/format/budget-alerts";
import { formatDateTime, formatMs, formatPct, formatRelative } from "../lib/format/format";
import { Badge, Card, EmptyState, ErrorState } from "./ui";
import { RemoveWebhookForm, SetWebhookForm, TestWebhookForm } from "./webhook-forms";

/** Alerts, webhook and delivery log of a tenant, for operators. */
export function BudgetAlertsPanel({ tenantId, alerts, csrf, nowMs }: { tenantId: string; alerts: Loaded<TenantAlertsResponse>; csrf: string; nowMs: number }) {
  if (!alerts.ok) {
    return (
      <Card title="Budget alerts">
        <ErrorState title="Could not load the budget alerts" message={alerts.message} />
      </Card>
    );
  }
  const { thresholds, webhook, deliveries } = alerts.data;
  const list = alerts.data.alerts;
  return (
    <Card
      title="Budget alerts"
      description={`Raised at ${thresholds.map(formatPct).join(" and ") || "no threshold"} of any budget and at a window's first refused call; once per window, metric and threshold`}
      labelledBy="alerts-title"
      flush
    >
      {list.length === 0 ? (
        <EmptyState title="No budget alerts" icon="◔">None of this tenant&apos;s budgets has reached an alert threshold yet.</EmptyState>
      ) : (
        <div className="table-wrap">
          <table className="data" data-testid="alerts-table">
            <caption className="visually-hidden">Budget alerts</caption>
            <thead>
              <tr>
                <th scope="col">Kind</th>
                <th scope="col">Window</th>
                <th scope="col">Metric</th>
                <th scope="col" className="num">Threshold</th>
                <th scope="col" className="num">Used / limit</th>
                <th scope="col">Raised</th>
                <th scope="col">Delivery</th>
              </tr>
            </thead>
            <tbody>
              {list.map((a) => (
                <tr key={a.alertId}>
                  <td>{alertKindLabel(a)}</td>
                  <td>{alertWindowLabel(a)}</td>
                  <td>{alertMetricLabel(a)}</td>
                  <td className="num">{alertThresholdLabel(a)}</td>
                  <td className="num">{alertUsedLabel(a)}</td>
                  <td><time dateTime={a.raisedAt} title={a.raisedAt}>{formatRelative(a.raisedAt, nowMs)}</time></td>
                  <td><Badge tone={deliveryTone(a.delivery)}>{deliveryLabel(a.delivery)}</Badge></td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}

      <div className="card-body" style={{ borderTop: "1px solid var(--border)", display: "flex", flexDirection: "column", gap: 12 }}>
        <div className="panel-row" data-testid="webhook-current">
          <strong>Webhook:</strong>
          {webhook ? (
            <>
              <span className="mono" style={{ wordBreak: "break-all" }}>{webhook.url}</span>
              <span className="field-hint" title={webhook.updatedAt}>set {formatRelative(webhook.updatedAt, nowMs)}</span>
            </>
          ) : (
            <span>none <span className="field-hint">(alerts are recorded here and not sent anywhere)</span></span>
          )}
        </div>
        <SetWebhookForm csrf={csrf} tenantId={tenantId} current={webhook?.url ?? null} />
        {webhook ? (
          <div className="panel-row" style={{ alignItems: "flex-start", justifyContent: "space-between" }}>
            <TestWebhookForm csrf={csrf} tenantId={tenantId} />
            <RemoveWebhookForm csrf={csrf} tenantId={tenantId} />
          </div>
        ) : null}
      </div>

      <div className="subhead" style={{ borderTop: "1px solid var(--border)" }}>Delivery log</div>
      {deliveries.length === 0 ? (
        <p className="field-hint" style={{ padding: "0 18px 16px", margin: 0 }} data-testid="deliveries-empty">No delivery attempts yet.</p>
      ) : (
        <div className="table-wrap">
          <table className="data" data-testid="deliveries-table">
            <caption className="visually-hidden">Webhook delivery attempts</caption>
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col" className="num">Attempt</th>
                <th scope="col" className="num">Status</th>
                <th scope="col">Outcome</th>
                <th scope="col">Error</th>
              </tr>
            </thead>
            <tbody>
              {deliveries.map((d) => (
                <tr key={`${d.alertId}-${d.attempt}-${d.at}`}>
                  <td>
                    <time dateTime={d.at} title={d.at}>{formatDateTime(d.at)}</time>
                    <span className="cell-sub mono" title={d.url}>{d.alertId}</span>
                  </td>
                  <td className="num">#{d.attempt}</td>
                  <td className="num">{d.statusCode ?? "–"}<span className="cell-sub">{formatMs(d.durationMs)}</span></td>
                  <td><Badge tone={deliveryTone(d.outcome)}>{d.outcome}</Badge></td>
                  <td style={{ whiteSpace: "normal" }}>{d.error ?? "–"}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Card>
  );
}
