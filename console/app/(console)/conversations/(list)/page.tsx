import type { Metadata } from "next";
import { DataTable } from "../../../../components/data-table";
import { KeyboardList } from "../../../../components/keyboard-list";
import { AutoRefresh, RangePicker } from "../../../../components/range-picker";
import { Card, EmptyState, ErrorState, PageHeader, StatCard } from "../../../../components/ui";
import { load } from "../../../../lib/api/load";
import { formatDateTime, formatInt, formatUsd } from "../../../../lib/format/format";
import { resolveRange } from "../../../../lib/format/time-range";
import { requireSession } from "../../../../lib/session/server-session";
import { tenantScope } from "../../../../lib/session/tenant-scope";

export const metadata: Metadata = { title: "Conversations" };

/**
 * Conversations: the tenant's traces grouped by `gen_ai.conversation.id` (set by agents that keep
 * a conversation memory), most recently active first, each with its traces, time span, tokens and
 * cost; one click opens a conversation's traces.
 */
export default async function ConversationsPage({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  const params = await searchParams;
  const signedIn = await requireSession();
  const scope = await tenantScope(signedIn, params.tenant);
  const range = resolveRange(typeof params.range === "string" ? params.range : undefined, "24h");
  const refresh = Number(params.refresh) > 0 ? Math.max(10, Number(params.refresh)) : 0;
  const tenantParam = signedIn.session.kind === "admin" ? scope.tenantId : undefined;
  const result = scope.tenantId ? await load(signedIn.client.conversations({ tenant: scope.apiTenant, from: range.from, to: range.to })) : null;
  const rows = result?.ok ? result.data.conversations : [];
  const keep = new URLSearchParams({ range: range.key, ...(tenantParam !== undefined ? { tenant: tenantParam } : {}) }).toString();

  return (
    <>
      <PageHeader title="Conversations" description={`Tenant ${scope.tenantId || "–"} · most recently active first · ${range.label}`}>
        <RangePicker value={range.key} />
        <AutoRefresh seconds={refresh} />
      </PageHeader>
      {!result ? (
        <div className="card"><EmptyState title="No tenants yet" /></div>
      ) : !result.ok ? (
        <div className="card"><ErrorState message={result.message} /></div>
      ) : rows.length === 0 ? (
        <div className="card">
          <EmptyState title="No conversations in this range" icon="❝">
            A conversation groups the traces whose LLM calls carry the same <code>gen_ai.conversation.id</code>: agents that keep a ConversationMemory pass its <code>conversationId</code> with their calls.
          </EmptyState>
        </div>
      ) : (
        <>
          <div className="grid grid-4">
            <StatCard label="Conversations" value={`${formatInt(rows.length)}${result.data.truncated ? "+" : ""}`} sub={result.data.truncated ? "the most recently active shown" : "active in this range"} testId="conversation-count" />
            <StatCard label="Traces" value={formatInt(rows.reduce((n, c) => n + c.traceCount, 0))} />
            <StatCard label="Tokens" value={formatInt(rows.reduce((n, c) => n + c.inputTokens + c.outputTokens, 0))} sub="of the stored (sampled) traces" />
            <StatCard label="Cost" value={formatUsd(rows.reduce((n, c) => n + c.costUsd, 0))} sub="of the stored (sampled) traces" />
          </div>
          <Card title="Conversations" description="Tokens and cost are summed over each conversation's LLM spans, so they cover the stored (sampled) traces only; Usage & billing has the exact totals." flush>
            <KeyboardList selector="tbody a">
              <DataTable
                caption="Conversations"
                testId="conversations-table"
                rows={rows.map((c) => ({
                  conversationId: c.conversationId,
                  traceCount: c.traceCount,
                  agentTypes: c.agentTypes,
                  lastTime: c.lastTime,
                  since: `since ${formatDateTime(c.firstTime)}`,
                  llmCalls: c.llmCalls,
                  tokens: c.inputTokens + c.outputTokens,
                  costUsd: c.costUsd,
                  errorCount: c.errorCount,
                }))}
                columns={[
                  { key: "conversationId", header: "Conversation", format: "mono", href: `/conversations/{conversationId}?${keep}` },
                  { key: "traceCount", header: "Traces", format: "int" },
                  { key: "agentTypes", header: "Agents", format: "tags" },
                  { key: "lastTime", header: "Last activity", format: "datetime", sub: "since" },
                  { key: "llmCalls", header: "LLM calls", format: "int" },
                  { key: "tokens", header: "Tokens", format: "compact" },
                  { key: "costUsd", header: "Cost", format: "usd" },
                  { key: "errorCount", header: "Status", format: "status" },
                ]}
              />
            </KeyboardList>
            <p className="table-note"><span aria-hidden="true"><kbd>j</kbd> <kbd>k</kbd> move · <kbd>Enter</kbd> open</span></p>
          </Card>
        </>
      )}
    </>
  );
}
