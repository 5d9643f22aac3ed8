// The latest budget alerts of a tenant, under its budget meters on the overview (server-safe).
import type { BudgetAlert } from "../lib/api/types";
import { alertSentence, alertUsedLabel, deliveryLabel } from "../lib/format/budget-alerts";
import { formatRelative } from "../lib/format/format";

/** Alerts as loaded: the list, or why it could not be loaded. */
export type AlertsView = { ok: true; list: BudgetAlert[] } | { ok: false; message: string };

/** The five newest budget alerts, or a line saying there are none or they could not be loaded. */
export function BudgetAlertsList({ alerts, nowMs }: { alerts: AlertsView; nowMs: number }) {
  const shown = alerts.ok ? alerts.list.slice(0, 5) : [];
  return (
    <div data-testid="budget-alerts" style={{ marginTop: 18, paddingTop: 14, borderTop: "1px solid var(--border)" }}>
      <h3 style={{ fontSize: 13.5, marginBottom: 8 }}>Budget alerts</h3>
      {!alerts.ok ? (
        <p className="field-hint" style={{ margin: 0 }} role="alert">Alerts could not be loaded: {alerts.message}</p>
      ) : shown.length === 0 ? (
        <p className="field-hint" style={{ margin: 0 }}>No budget alerts: no budget has reached an alert threshold.</p>
      ) : (
        <ul style={{ listStyle: "none", margin: 0, padding: 0, display: "flex", flexDirection: "column", gap: 8 }}>
          {shown.map((a) => (
            <li key={a.alertId} style={{ display: "flex", justifyContent: "space-between", gap: 12, fontSize: 13 }}>
              <span>
                <span className={`badge ${a.kind === "rejected" ? "badge-err" : "badge-warn"}`} style={{ marginRight: 8 }}>{a.kind === "rejected" ? "Refused" : "Warning"}</span>
                {alertSentence(a)}
                <span className="field-hint"> · {alertUsedLabel(a)}</span>
              </span>
              <time dateTime={a.raisedAt} title={`${a.raisedAt} · webhook: ${deliveryLabel(a.delivery)}`} className="field-hint" style={{ whiteSpace: "nowrap" }}>{formatRelative(a.raisedAt, nowMs)}</time>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
