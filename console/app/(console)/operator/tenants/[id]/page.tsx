import type { Metadata } from "next";
import Link from "next/link";
import { notFound } from "next/navigation";
import { BudgetAlertsPanel } from "../../../../../components/budget-alerts-panel";
import { BudgetCard, BudgetStateBadge } from "../../../../../components/budget-card";
import { KeyRotationForm, TenantSettingsForm } from "../../../../../components/operator-forms";
import { DataTable } from "../../../../../components/data-table";
import { RangePicker } from "../../../../../components/range-picker";
import { RuntimesPanel } from "../../../../../components/runtimes-panel";
import { Card, ErrorState, PageHeader, StatCard } from "../../../../../components/ui";
import { load } from "../../../../../lib/api/load";
import type { TenantActivity } from "../../../../../lib/api/types";
import { formatCompact, formatDateTime, formatInt, formatPct, formatUsd } from "../../../../../lib/format/format";
import { resolveRange, type ResolvedRange } from "../../../../../lib/format/time-range";
import { currentCsrfToken } from "../../../../../lib/security/csrf-server";
import { requireAdmin } from "../../../../../lib/session/server-session";

export const metadata: Metadata = { title: "Tenant settings" };

/**
 * Operator: one tenant's activity over the chosen range (default: the last 24 hours, as on the
 * tenants list), its budgets, keys and every setting its runtimes follow; which runtimes follow it
 * and whether they have applied the current version; its budget alerts, webhook and delivery log.
 * Its activity over a range is what the tenants list shows for it: queue wait and handler time are
 * shares of all tenants' totals.
 */
export default async function TenantSettingsPage({ params, searchParams }: { params: Promise<{ id: string }>; searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  const { id } = await params;
  const query = await searchParams;
  const { client } = await requireAdmin();
  const range = resolveRange(typeof query.range === "string" ? query.range : undefined, "24h");
  const [detail, runtimes, alerts, csrf] = await Promise.all([
    load(client.adminTenant(id, { from: range.from, to: range.to })),
    load(client.tenantRuntimes(id)),
    load(client.tenantAlerts(id)),
    currentCsrfToken(),
  ]);
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

  return (
    <>
      <div><Link href={`/operator?range=${range.key}`}>← All tenants</Link></div>
      <PageHeader title={tenant.name} description={<>Tenant <span className="mono">{tenant.id}</span> · created {formatDateTime(tenant.createdAt)} · activity over the {range.label.toLowerCase()}</>}>
        <BudgetStateBadge status={budget} />
        <RangePicker value={range.key} />
        <Link className="btn btn-sm" href={`/?tenant=${encodeURIComponent(tenant.id)}`}>View overview</Link>
        <Link className="btn btn-sm" href={`/traces?tenant=${encodeURIComponent(tenant.id)}`}>View traces</Link>
      </PageHeader>
      <TenantActivityStats activity={activity} range={range} />
      <div className="grid grid-2">
        <BudgetCard budgets={tenant.budgets} status={budget} viewer="operator" />
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
      <Card title="Settings" description="Runtimes following this collector apply changes within seconds; the Runtimes panel shows which have. A runtime that does not follow it (no followControlPlane) runs on its code options.">
        <TenantSettingsForm csrf={csrf} tenant={tenant} />
      </Card>
      <RuntimesPanel runtimes={runtimes} nowMs={nowMs} />
      <BudgetAlertsPanel tenantId={tenant.id} alerts={alerts} csrf={csrf} nowMs={nowMs} />
    </>
  );
}

/** The tenant's activity over the range, with its queue wait and handler time shares of all tenants. */
function TenantActivityStats({ activity, range }: { activity: TenantActivity; range: ResolvedRange }) {
  const over = range.label.toLowerCase();
  return (
    <div className="grid grid-4">
      <StatCard label="Spans (stored)" value={formatCompact(activity.spans)} sub={`${formatInt(activity.spanErrors)} errors · ${over}`} />
      <StatCard
        testId="tenant-llm-calls"
        label="LLM calls (exact)"
        value={formatInt(activity.calls)}
        sub={`${formatUsd(activity.costUsd)} · ${formatInt(activity.budgetRejections)} budget-rejected · ${formatInt(activity.rateLimited)} rate-limited · ${over}`}
      />
      <StatCard testId="tenant-queue-wait-share" label="Queue wait share" value={formatPct(activity.queueWaitShare)} sub={`share of all tenants' queue wait, ${over}`} />
      <StatCard testId="tenant-handler-time-share" label="Handler time share" value={formatPct(activity.handlerTimeShare)} sub={`share of all tenants' handler time, ${over}`} />
    </div>
  );
}
