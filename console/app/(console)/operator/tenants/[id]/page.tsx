import type { Metadata } from "next";
import Link from "next/link";
import { notFound } from "next/navigation";
import { BudgetAlertsPanel } from "../../../../../components/budget-alerts-panel";
import { KeyRotationForm, TenantSettingsForm } from "../../../../../components/operator-forms";
import { DataTable } from "../../../../../components/data-table";
import { RuntimesPanel } from "../../../../../components/runtimes-panel";
import { Badge, Card, ErrorState, Meter, PageHeader, StatCard } from "../../../../../components/ui";
import { load } from "../../../../../lib/api/load";
import { formatCompact, formatDateTime, formatInt, formatPct, formatUsd } from "../../../../../lib/format/format";
import { currentCsrfToken } from "../../../../../lib/security/csrf-server";
import { requireAdmin } from "../../../../../lib/session/server-session";

export const metadata: Metadata = { title: "Tenant settings" };

/**
 * Operator: one tenant's activity, budgets, keys and every setting its runtimes follow; which
 * runtimes follow it and whether they have applied the current version; its budget alerts, webhook
 * and delivery log.
 */
export default async function TenantSettingsPage({ params }: { params: Promise<{ id: string }> }) {
  const { id } = await params;
  const { client } = await requireAdmin();
  const [detail, runtimes, alerts, csrf] = await Promise.all([load(client.adminTenant(id)), load(client.tenantRuntimes(id)), load(client.tenantAlerts(id)), currentCsrfToken()]);
  const nowMs = Date.now();
  if (!detail.ok && detail.code === "not_found") notFound();
  if (!detail.ok) {
    return (
      <>
        <PageHeader title={`Tenant ${id}`} />
        <div className="card"><ErrorState message={detail.message} /></div>
      </>
    );
  }
  const { tenant, activity, budget, keys } = detail.data;
  const b = tenant.budgets;
  const tone = budget.state === "over" ? "err" : budget.state === "near" ? "warn" : "ok";

  return (
    <>
      <div><Link href="/operator">← All tenants</Link></div>
      <PageHeader title={tenant.name} description={<>Tenant <span className="mono">{tenant.id}</span> · created {formatDateTime(tenant.createdAt)}</>}>
        <Badge tone={tone}>{budget.state === "over" ? "Over budget" : budget.state === "near" ? "Near budget" : "Within budget"}</Badge>
        <Link className="btn btn-sm" href={`/?tenant=${encodeURIComponent(tenant.id)}`}>View overview</Link>
        <Link className="btn btn-sm" href={`/traces?tenant=${encodeURIComponent(tenant.id)}`}>View traces</Link>
      </PageHeader>
      <div className="grid grid-4">
        <StatCard label="Spans (stored)" value={formatCompact(activity.spans)} sub={`${formatInt(activity.spanErrors)} errors`} />
        <StatCard
          testId="tenant-llm-calls"
          label="LLM calls (exact)"
          value={formatInt(activity.calls)}
          sub={`${formatUsd(activity.costUsd)} · ${formatInt(activity.budgetRejections)} budget-rejected · ${formatInt(activity.rateLimited)} rate-limited`}
        />
        <StatCard label="Queue wait share" value={formatPct(activity.queueWaitShare)} />
        <StatCard label="Handler time share" value={formatPct(activity.handlerTimeShare)} />
      </div>
      <div className="grid grid-2">
        <Card title="Budget consumption" description="UTC day and month, from usage records">
          <div style={{ display: "flex", flexDirection: "column", gap: 16 }}>
            <Meter label="Tokens today" usedText={formatCompact(budget.dailyTokensUsed)} limitText={b.dailyTokens ? formatCompact(b.dailyTokens) : "no limit"} ratio={b.dailyTokens ? budget.dailyTokensUsed / b.dailyTokens : null} />
            <Meter label="Tokens this month" usedText={formatCompact(budget.monthlyTokensUsed)} limitText={b.monthlyTokens ? formatCompact(b.monthlyTokens) : "no limit"} ratio={b.monthlyTokens ? budget.monthlyTokensUsed / b.monthlyTokens : null} />
            <Meter label="Cost today" usedText={formatUsd(budget.dailyCostUsdUsed)} limitText={b.dailyCostUsd ? formatUsd(b.dailyCostUsd) : "no limit"} ratio={b.dailyCostUsd ? budget.dailyCostUsdUsed / b.dailyCostUsd : null} />
            <Meter label="Cost this month" usedText={formatUsd(budget.monthlyCostUsdUsed)} limitText={b.monthlyCostUsd ? formatUsd(b.monthlyCostUsd) : "no limit"} ratio={b.monthlyCostUsd ? budget.monthlyCostUsdUsed / b.monthlyCostUsd : null} />
          </div>
        </Card>
        <Card title="Keys" description="Rotating issues a new key and revokes the old ones of that kind. The secret is shown once." flush>
          <DataTable
            caption="Keys"
            testId="keys-table"
            rows={keys.map((k) => ({
              keyId: k.keyId,
              kind: k.kind,
              createdAt: k.createdAt,
              state: k.revokedAt ? "revoked" : "active",
              revoked: k.revokedAt ? formatDateTime(k.revokedAt) : null,
            }))}
            columns={[
              { key: "keyId", header: "Key id", format: "mono", sub: "kind" },
              { key: "createdAt", header: "Created", format: "datetime" },
              { key: "state", header: "State", sub: "revoked" },
            ]}
          />
          <div className="card-body" style={{ display: "flex", gap: 16, flexWrap: "wrap", borderTop: "1px solid var(--border)" }}>
            <KeyRotationForm csrf={csrf} tenantId={tenant.id} kind="console" />
            <KeyRotationForm csrf={csrf} tenantId={tenant.id} kind="ingest" />
          </div>
        </Card>
      </div>
      <Card title="Settings" description="Runtimes following this collector apply changes within seconds; the Runtimes panel shows which have.">
        <TenantSettingsForm csrf={csrf} tenant={tenant} />
      </Card>
      <RuntimesPanel runtimes={runtimes} nowMs={nowMs} />
      <BudgetAlertsPanel tenantId={tenant.id} alerts={alerts} csrf={csrf} nowMs={nowMs} />
    </>
  );
}
