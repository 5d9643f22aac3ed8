import type { Metadata } from "next";
import { CreateTenantForm } from "../../../../components/operator-forms";
import { DataTable } from "../../../../components/data-table";
import { RangePicker } from "../../../../components/range-picker";
import { Card, EmptyState, ErrorState, PageHeader, StatCard } from "../../../../components/ui";
import { load } from "../../../../lib/api/load";
import { formatInt, formatPct, formatUsd } from "../../../../lib/format/format";
import { resolveRange } from "../../../../lib/format/time-range";
import { currentCsrfToken } from "../../../../lib/security/csrf-server";
import { requireAdmin } from "../../../../lib/session/server-session";

export const metadata: Metadata = { title: "Tenants" };

/** Operator: every tenant's usage, cost, errors, noisy-neighbour signals and budget state. */
export default async function OperatorPage({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  const params = await searchParams;
  const { client } = await requireAdmin();
  const range = resolveRange(typeof params.range === "string" ? params.range : undefined, "24h");
  const [tenants, csrf] = await Promise.all([load(client.adminTenants({ from: range.from, to: range.to })), currentCsrfToken()]);
  const list = tenants.ok ? tenants.data.tenants : [];
  const noisiest = [...list].sort((a, b) => b.activity.handlerTimeShare - a.activity.handlerTimeShare)[0];

  return (
    <>
      <PageHeader title="Tenants" description={`All tenants · ${range.label.toLowerCase()}`}>
        <RangePicker value={range.key} />
      </PageHeader>
      {tenants.ok && list.length > 0 ? (
        <div className="grid grid-4">
          <StatCard label="Tenants" value={formatInt(list.length)} />
          <StatCard label="Cost" value={formatUsd(list.reduce((n, t) => n + t.activity.costUsd, 0))} sub={`${formatInt(list.reduce((n, t) => n + t.activity.calls, 0))} LLM calls`} />
          <StatCard label="Near or over budget" value={formatInt(list.filter((t) => t.budget.state !== "ok").length)} sub={`${formatInt(list.filter((t) => t.budget.state === "over").length)} over`} />
          <StatCard label="Noisiest tenant" value={noisiest && noisiest.activity.handlerTimeShare > 0 ? noisiest.tenant.id : "–"} sub={noisiest && noisiest.activity.handlerTimeShare > 0 ? `${formatPct(noisiest.activity.handlerTimeShare)} of all tenants' handler time` : "no handler time recorded"} />
        </div>
      ) : null}
      <Card
        title="All tenants"
        description={`Activity over the ${range.label.toLowerCase()}. LLM calls (every attempt, refused ones included), tokens, cost and budgets are exact, from usage records; spans are those stored (the kept traces of a sampled tenant). Queue wait and handler time: each tenant's share of all tenants' totals over the ${range.label.toLowerCase()} (they add up to 100%), the noisy-neighbour signals`}
        flush
      >
        {!tenants.ok ? (
          <ErrorState message={tenants.message} />
        ) : list.length === 0 ? (
          <EmptyState title="No tenants yet">Create the first tenant below; it gets an ingest key and a console key.</EmptyState>
        ) : (
          <DataTable
            caption="Tenants"
            testId="tenants-table"
            rows={list.map((t) => ({
              id: t.tenant.id,
              name: t.tenant.name,
              tier: t.tenant.tier,
              spans: t.activity.spans,
              spanErrors: t.activity.spanErrors,
              calls: t.activity.calls,
              budgetRejections: t.activity.budgetRejections,
              tokens: t.activity.inputTokens + t.activity.outputTokens,
              costUsd: t.activity.costUsd,
              queueWaitShare: t.activity.queueWaitShare,
              handlerTimeShare: t.activity.handlerTimeShare,
              budget: t.budget.state,
              retention: `${formatInt(t.tenant.retentionDays)}\u00a0d\u00a0retention`, // kept on one line
            }))}
            columns={[
              { key: "id", header: "Tenant", format: "mono", href: `/operator/tenants/{id}?range=${range.key}`, sub: "name" },
              { key: "tier", header: "Tier", sub: "retention" },
              { key: "spans", header: "Spans", format: "compact" },
              { key: "spanErrors", header: "Errors", format: "int" },
              { key: "calls", header: "LLM calls", format: "int" },
              { key: "budgetRejections", header: "Budget rej.", format: "int" },
              { key: "tokens", header: "Tokens", format: "compact" },
              { key: "costUsd", header: "Cost", format: "usd" },
              { key: "queueWaitShare", header: "Queue wait", format: "pct" },
              { key: "handlerTimeShare", header: "Handler time", format: "pct" },
              { key: "budget", header: "Budget", format: "budget" },
            ]}
          />
        )}
      </Card>
      <Card title="Create a tenant" description="The new tenant's ingest and console keys are shown once, right after creation.">
        <CreateTenantForm csrf={csrf} />
      </Card>
    </>
  );
}
