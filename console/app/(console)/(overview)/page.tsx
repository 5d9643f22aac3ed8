import type { Metadata } from "next";
import { DataTable } from "../../../components/data-table";
import { AutoRefresh, RangePicker } from "../../../components/range-picker";
import { TimeSeriesChart } from "../../../components/time-series-chart";
import { Card, EmptyState, ErrorState, Meter, PageHeader, StatCard } from "../../../components/ui";
import { load } from "../../../lib/api/load";
import type { BudgetAlert, BudgetStatus, TenantBudgets } from "../../../lib/api/types";
import { alertSentence, alertUsedLabel, deliveryLabel } from "../../../lib/format/budget-alerts";
import { formatCompact, formatInt, formatPct, formatRelative, formatUsd } from "../../../lib/format/format";
import { samplingLabel } from "../../../lib/format/sampling";
import { resolveRange } from "../../../lib/format/time-range";
import { requireSession } from "../../../lib/session/server-session";
import { tenantScope } from "../../../lib/session/tenant-scope";

export const metadata: Metadata = { title: "Overview" };

type Search = Promise<Record<string, string | string[] | undefined>>;

/**
 * Overview: activity, errors, LLM calls, tokens and cost over time; top agents; budgets. Span and
 * trace counts are labelled as sampled when trace sampling was in force; LLM calls, tokens and cost
 * come from usage records and are exact whatever the sampling.
 */
export default async function OverviewPage({ searchParams }: { searchParams: Search }) {
  const params = await searchParams;
  const signedIn = await requireSession();
  const scope = await tenantScope(signedIn, params.tenant);
  const range = resolveRange(typeof params.range === "string" ? params.range : undefined, "1h");
  const refresh = Number(params.refresh) > 0 ? Math.max(10, Number(params.refresh)) : 0;

  if (!scope.tenantId) {
    return (
      <>
        <PageHeader title="Overview" />
        <div className="card"><EmptyState title="No tenants yet">Create a tenant on the Tenants page to start collecting traces.</EmptyState></div>
      </>
    );
  }

  const [overview, budget, alerts] = await Promise.all([
    load(signedIn.client.overview({ tenant: scope.apiTenant, from: range.from, to: range.to })),
    loadBudget(signedIn, scope.tenantId),
    load(signedIn.session.kind === "admin" ? signedIn.client.tenantAlerts(scope.tenantId) : signedIn.client.ownAlerts()),
  ]);
  const sampled = overview.ok ? samplingLabel(overview.data.sampling) : null;

  return (
    <>
      <PageHeader title="Overview" description={`Tenant ${scope.tenantId} · ${range.label.toLowerCase()}`}>
        <RangePicker value={range.key} />
        <AutoRefresh seconds={refresh} />
      </PageHeader>

      {!overview.ok ? (
        <div className="card"><ErrorState message={overview.message} /></div>
      ) : (
        <>
          <SamplingNote sampled={sampled} />
          <div className="grid grid-4">
            <StatCard
              testId="stat-spans"
              label={sampledLabel("Spans", sampled)}
              value={formatCompact(overview.data.totals.spans)}
              sub={`${formatInt(overview.data.totals.traces)} ${sampled ? "traces kept" : "traces"}`}
            />
            <StatCard
              testId="stat-error-rate"
              label={sampledLabel("Error rate", sampled)}
              value={formatPct(overview.data.totals.spans ? overview.data.totals.errors / overview.data.totals.spans : 0)}
              sub={`${formatInt(overview.data.totals.errors)} error spans`}
            />
            <StatCard
              testId="stat-llm-calls"
              label="LLM calls (exact)"
              value={formatCompact(overview.data.totals.llmCalls)}
              sub={`every attempt · ${formatInt(overview.data.totals.budgetRejections)} budget-rejected · ${formatInt(overview.data.totals.rateLimited)} rate-limited`}
            />
            <StatCard testId="stat-cost" label="Cost (exact)" value={formatUsd(overview.data.totals.costUsd)} sub={`${formatCompact(overview.data.totals.inputTokens)} in · ${formatCompact(overview.data.totals.outputTokens)} out tokens`} />
          </div>

          {overview.data.series.length === 0 ? (
            <div className="card"><EmptyState title="Nothing in this range" icon="◌">No spans and no LLM calls were recorded for {scope.tenantId} in the {range.label.toLowerCase()}. Pick a longer range or send some traffic.</EmptyState></div>
          ) : (
            <div className="grid grid-2">
              <Card title={sampledLabel("Spans per minute", sampled)} description={`Buckets of ${Math.round(overview.data.stepSeconds / 60)} min`}>
                <TimeSeriesChart
                  label="Spans and error spans over time"
                  points={overview.data.series.map((p) => ({ time: p.time, spans: p.spans, errors: p.errors }))}
                  series={[{ key: "spans", label: "Spans", color: "#6366f1" }, { key: "errors", label: "Errors", color: "#f04438" }]}
                />
              </Card>
              <Card title={sampledLabel("Error rate", sampled)} description="Error spans / all spans">
                <TimeSeriesChart
                  label="Error rate over time"
                  format="pct"
                  points={overview.data.series.map((p) => ({ time: p.time, rate: p.spans ? p.errors / p.spans : 0 }))}
                  series={[{ key: "rate", label: "Error rate", color: "#f04438" }]}
                />
              </Card>
              <Card title="LLM calls" description="Every attempt, refused ones included · exact, from usage records">
                <TimeSeriesChart
                  label="LLM calls over time"
                  kind="bar"
                  points={overview.data.series.map((p) => ({ time: p.time, llmCalls: p.llmCalls }))}
                  series={[{ key: "llmCalls", label: "LLM calls", color: "#a855f7" }]}
                />
              </Card>
              <Card title="Tokens" description="Exact, from usage records">
                <TimeSeriesChart
                  label="Input and output tokens over time"
                  stacked
                  points={overview.data.series.map((p) => ({ time: p.time, inputTokens: p.inputTokens, outputTokens: p.outputTokens }))}
                  series={[{ key: "inputTokens", label: "Input", color: "#0ea5e9" }, { key: "outputTokens", label: "Output", color: "#22c55e" }]}
                />
              </Card>
              <Card title="Cost" description="US dollars · exact, from usage records">
                <TimeSeriesChart
                  label="Cost over time"
                  format="usd"
                  points={overview.data.series.map((p) => ({ time: p.time, costUsd: p.costUsd }))}
                  series={[{ key: "costUsd", label: "Cost", color: "#f59e0b" }]}
                />
              </Card>
              <BudgetCard budget={budget} alerts={alerts.ok ? { ok: true, list: alerts.data.alerts } : { ok: false, message: alerts.message }} nowMs={Date.now()} />
            </div>
          )}

          <Card title="Top agents" description={sampled ? `By turns in this range (turns ${sampled}; cost exact)` : "By turns in this range"} flush>
            {overview.data.topAgents.length === 0 ? (
              <EmptyState title="No agent turns in this range" />
            ) : (
              <DataTable
                caption="Top agents"
                testId="top-agents"
                rows={overview.data.topAgents.map((a) => ({ ...a }))}
                columns={[
                  { key: "agentType", header: "Agent type", format: "mono" },
                  { key: "turns", header: "Turns", format: "int" },
                  { key: "errors", header: "Errors", format: "int" },
                  { key: "p95Ms", header: "p95 latency", format: "ms" },
                  { key: "costUsd", header: "Cost", format: "usd" },
                ]}
              />
            )}
          </Card>
        </>
      )}
    </>
  );
}

/** "Spans (sampled at 1%)" under sampling, else the label as it is. */
function sampledLabel(label: string, sampled: string | null): string {
  return sampled ? `${label} (${sampled})` : label;
}

/** Says once, above the figures, which counts are sampled and which are exact. */
function SamplingNote({ sampled }: { sampled: string | null }) {
  if (!sampled) return null;
  return (
    <div className="alert alert-info" role="note" data-testid="sampling-note">
      Traces were {sampled} in this range: span, trace, error and turn counts cover the kept traces only. LLM calls, tokens and cost come from usage records and are exact.
    </div>
  );
}

interface BudgetView {
  ok: boolean;
  message?: string;
  used?: { dailyTokens: number; monthlyTokens: number; dailyCostUsd: number; monthlyCostUsd: number };
  limits?: TenantBudgets | null;
  status?: BudgetStatus["state"];
}

async function loadBudget(signedIn: Awaited<ReturnType<typeof requireSession>>, tenantId: string): Promise<BudgetView> {
  if (signedIn.session.kind === "admin") {
    const detail = await load(signedIn.client.adminTenant(tenantId));
    if (!detail.ok) return { ok: false, message: detail.message };
    const b = detail.data.budget;
    return {
      ok: true,
      used: { dailyTokens: b.dailyTokensUsed, monthlyTokens: b.monthlyTokensUsed, dailyCostUsd: b.dailyCostUsdUsed, monthlyCostUsd: b.monthlyCostUsdUsed },
      limits: detail.data.tenant.budgets,
      status: b.state,
    };
  }
  // The tenant API gives no budget limits (only the operator's does); show this month's and today's
  // consumption from usage records, and the limits as "set by operator".
  const now = new Date();
  const monthStart = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
  const dayStart = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
  const usage = await load(signedIn.client.usage({ from: monthStart.toISOString(), to: new Date(now.getTime() + 60_000).toISOString(), groupBy: "day" }));
  if (!usage.ok) return { ok: false, message: usage.message };
  const today = usage.data.rows.find((r) => new Date(r.group).getTime() === dayStart.getTime());
  return {
    ok: true,
    used: {
      dailyTokens: (today?.inputTokens ?? 0) + (today?.outputTokens ?? 0),
      monthlyTokens: usage.data.totals.inputTokens + usage.data.totals.outputTokens,
      dailyCostUsd: today?.costUsd ?? 0,
      monthlyCostUsd: usage.data.totals.costUsd,
    },
    limits: null,
  };
}

type AlertsView = { ok: true; list: BudgetAlert[] } | { ok: false; message: string };

function BudgetCard({ budget, alerts, nowMs }: { budget: BudgetView; alerts: AlertsView; nowMs: number }) {
  if (!budget.ok || !budget.used) {
    return <Card title="Budgets"><ErrorState message={budget.message ?? "Budget figures are unavailable."} /><BudgetAlertsList alerts={alerts} nowMs={nowMs} /></Card>;
  }
  const u = budget.used;
  const l = budget.limits;
  const ratio = (used: number, limit: number | null | undefined) => (limit ? used / limit : null);
  const limitText = (limit: number | null | undefined, f: (n: number) => string) => (limit ? f(limit) : l ? "no limit" : "set by operator");
  return (
    <Card
      title="Budget consumption"
      description={l ? "Against the tenant's budgets (UTC day and month)" : "Today and this month (UTC); limits are set by your operator"}
      actions={budget.status ? <span className={`badge ${budget.status === "over" ? "badge-err" : budget.status === "near" ? "badge-warn" : "badge-ok"}`}>{budget.status === "over" ? "Over budget" : budget.status === "near" ? "Near budget" : "Within budget"}</span> : undefined}
    >
      <div style={{ display: "flex", flexDirection: "column", gap: 16 }}>
        <Meter label="Tokens today" usedText={formatCompact(u.dailyTokens)} limitText={limitText(l?.dailyTokens, formatCompact)} ratio={ratio(u.dailyTokens, l?.dailyTokens)} />
        <Meter label="Tokens this month" usedText={formatCompact(u.monthlyTokens)} limitText={limitText(l?.monthlyTokens, formatCompact)} ratio={ratio(u.monthlyTokens, l?.monthlyTokens)} />
        <Meter label="Cost today" usedText={formatUsd(u.dailyCostUsd)} limitText={limitText(l?.dailyCostUsd, formatUsd)} ratio={ratio(u.dailyCostUsd, l?.dailyCostUsd)} />
        <Meter label="Cost this month" usedText={formatUsd(u.monthlyCostUsd)} limitText={limitText(l?.monthlyCostUsd, formatUsd)} ratio={ratio(u.monthlyCostUsd, l?.monthlyCostUsd)} />
      </div>
      <BudgetAlertsList alerts={alerts} nowMs={nowMs} />
    </Card>
  );
}

/** The latest budget alerts of the tenant (newest first), under its budget meters. */
function BudgetAlertsList({ alerts, nowMs }: { alerts: AlertsView; nowMs: number }) {
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
