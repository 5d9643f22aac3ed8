import type { Metadata } from "next";
import { BudgetAlertsList, type AlertsView } from "../../../components/budget-alerts-list";
import { BudgetCard } from "../../../components/budget-card";
import { DataTable } from "../../../components/data-table";
import { OverviewCharts } from "../../../components/overview-charts";
import { AutoRefresh, RangePicker } from "../../../components/range-picker";
import { Card, EmptyState, ErrorState, PageHeader, StatCard } from "../../../components/ui";
import { load, type Loaded } from "../../../lib/api/load";
import type { BudgetResponse } from "../../../lib/api/types";
import { formatCompact, formatInt, formatPct, formatUsd } from "../../../lib/format/format";
import { samplingLabel } from "../../../lib/format/sampling";
import { resolveRange } from "../../../lib/format/time-range";
import { requireSession } from "../../../lib/session/server-session";
import { tenantScope } from "../../../lib/session/tenant-scope";

export const metadata: Metadata = { title: "Overview" };

type Search = Promise<Record<string, string | string[] | undefined>>;

/**
 * Overview: activity, errors, LLM calls, tokens and cost over time; top agents; budgets. Span and
 * trace counts are labelled as sampled when trace sampling was in force; LLM calls, tokens and cost
 * come from usage records and are exact whatever the sampling. The budget card shows a tenant its
 * own budgets and state exactly as its operator sees them (read-only).
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
    load(signedIn.client.budget({ tenant: scope.apiTenant })),
    load(signedIn.session.kind === "admin" ? signedIn.client.tenantAlerts(scope.tenantId) : signedIn.client.ownAlerts()),
  ]);
  const sampled = overview.ok ? samplingLabel(overview.data.sampling) : null;
  const budgetCard = (
    <OverviewBudgetCard
      budget={budget}
      viewer={signedIn.session.kind === "admin" ? "operator" : "tenant"}
      alerts={alerts.ok ? { ok: true, list: alerts.data.alerts } : { ok: false, message: alerts.message }}
      nowMs={Date.now()}
    />
  );

  return (
    <>
      <PageHeader title="Overview" description={`Tenant ${scope.tenantId} · ${range.label.toLowerCase()}`}>
        <RangePicker value={range.key} />
        <AutoRefresh seconds={refresh} />
      </PageHeader>

      {!overview.ok ? (
        <>
          <div className="card"><ErrorState message={overview.message} /></div>
          {budgetCard}
        </>
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
            <StatCard
              testId="stat-cost"
              label="Cost (exact)"
              value={formatUsd(overview.data.totals.costUsd)}
              sub={`${formatCompact(overview.data.totals.inputTokens)} in · ${formatCompact(overview.data.totals.outputTokens)} out tokens · from usage records`}
            />
          </div>

          {overview.data.series.length === 0 ? (
            <>
              <div className="card"><EmptyState title="Nothing in this range" icon="◌">No spans and no LLM calls were recorded for {scope.tenantId} in the {range.label.toLowerCase()}. Pick a longer range or send some traffic.</EmptyState></div>
              {budgetCard}
            </>
          ) : (
            <div className="grid grid-2">
              <OverviewCharts data={overview.data} sampled={sampled} />
              {budgetCard}
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

/** The budget card of the overview: the tenant's budgets and state as its operator sees them, and its latest alerts. */
function OverviewBudgetCard({ budget, viewer, alerts, nowMs }: { budget: Loaded<BudgetResponse>; viewer: "operator" | "tenant"; alerts: AlertsView; nowMs: number }) {
  if (!budget.ok) {
    return <Card title="Budget consumption"><ErrorState message={budget.message} /><BudgetAlertsList alerts={alerts} nowMs={nowMs} /></Card>;
  }
  return (
    <BudgetCard budgets={budget.data.budgets} status={budget.data.status} viewer={viewer}>
      <BudgetAlertsList alerts={alerts} nowMs={nowMs} />
    </BudgetCard>
  );
}
