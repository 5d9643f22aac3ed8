import type { Metadata } from "next";
import { DataTable } from "../../../components/data-table";
import { AutoRefresh, RangePicker } from "../../../components/range-picker";
import { Card, EmptyState, ErrorState, PageHeader, StatCard } from "../../../components/ui";
import { load } from "../../../lib/api/load";
import { formatCount, formatInt, formatMs, formatUsd } from "../../../lib/format/format";
import { resolveRange } from "../../../lib/format/time-range";
import { requireSession } from "../../../lib/session/server-session";
import { tenantScope } from "../../../lib/session/tenant-scope";

export const metadata: Metadata = { title: "Agents" };

/**
 * Agents: per agent type, turns, latency percentiles, errors, timeouts and rejections (from spans),
 * and LLM calls and cost (from usage records, exact whatever the trace sampling).
 */
export default async function AgentsPage({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  const params = await searchParams;
  const signedIn = await requireSession();
  const scope = await tenantScope(signedIn, params.tenant);
  const range = resolveRange(typeof params.range === "string" ? params.range : undefined, "1h");
  const refresh = Number(params.refresh) > 0 ? Math.max(10, Number(params.refresh)) : 0;
  const agents = scope.tenantId ? await load(signedIn.client.agents({ tenant: scope.apiTenant, from: range.from, to: range.to })) : null;

  const rows = agents?.ok ? agents.data.agents : [];
  const sum = (f: (a: (typeof rows)[number]) => number) => rows.reduce((n, a) => n + f(a), 0);

  return (
    <>
      <PageHeader title="Agents" description={`Tenant ${scope.tenantId || "–"} · ${range.label.toLowerCase()}`}>
        <RangePicker value={range.key} />
        <AutoRefresh seconds={refresh} />
      </PageHeader>
      {!agents ? (
        <div className="card"><EmptyState title="No tenants yet" /></div>
      ) : !agents.ok ? (
        <div className="card"><ErrorState message={agents.message} /></div>
      ) : rows.length === 0 ? (
        <div className="card"><EmptyState title="No agent activity in this range" icon="◎">Agents appear here once they handle messages or call a model.</EmptyState></div>
      ) : (
        <>
          <div className="grid grid-4">
            <StatCard label="Agent types" value={formatInt(rows.length)} />
            <StatCard label="Turns" value={formatInt(sum((a) => a.turns))} sub={`${formatCount(sum((a) => a.errors), "error")} · ${formatCount(sum((a) => a.timeouts), "timeout")}`} />
            <StatCard testId="agents-llm-calls" label="LLM calls (exact)" value={formatInt(sum((a) => a.llmCalls))} sub={`${formatUsd(sum((a) => a.costUsd))} · every attempt, refused ones included`} />
            <StatCard
              label="Rejections"
              value={formatInt(sum((a) => a.quotaRejections + a.rateLimited + a.budgetRejections + a.llmRateLimited))}
              sub={`messages: quota ${formatInt(sum((a) => a.quotaRejections))} · rate ${formatInt(sum((a) => a.rateLimited))}; LLM calls: budget ${formatInt(sum((a) => a.budgetRejections))} · rate ${formatInt(sum((a) => a.llmRateLimited))}`}
            />
          </div>
          <Card title="By agent type" description={`Slowest p95: ${formatMs(Math.max(...rows.map((a) => a.p95Ms)))}`} flush>
            <DataTable
              caption="Agents by type"
              testId="agents-table"
              rows={rows.map((a) => ({ ...a, agentType: a.agentType || "(none)" }))}
              columns={[
                { key: "agentType", header: "Agent type", format: "mono" },
                { key: "turns", header: "Turns", format: "int" },
                { key: "p50Ms", header: "p50", format: "ms" },
                { key: "p95Ms", header: "p95", format: "ms" },
                { key: "p99Ms", header: "p99", format: "ms" },
                { key: "errors", header: "Errors", format: "int" },
                { key: "timeouts", header: "Timeouts", format: "int" },
                { key: "quotaRejections", header: "Quota rej.", format: "int" },
                { key: "rateLimited", header: "Rate limited", format: "int" },
                { key: "queueWaitP95Ms", header: "Queue wait p95", format: "ms" },
                { key: "llmCalls", header: "LLM calls", format: "int" },
                { key: "budgetRejections", header: "LLM budget rej.", format: "int" },
                { key: "llmRateLimited", header: "LLM rate limited", format: "int" },
                { key: "costUsd", header: "Cost", format: "usd" },
              ]}
            />
          </Card>
        </>
      )}
    </>
  );
}
