import type { Metadata } from "next";
import Link from "next/link";
import { notFound } from "next/navigation";
import { AutoRefresh, RangePicker } from "../../../../components/range-picker";
import { TRACE_USAGE_NOTE, TraceTable } from "../../../../components/trace-table";
import { Card, EmptyState, ErrorState, PageHeader, StatCard } from "../../../../components/ui";
import { load } from "../../../../lib/api/load";
import { conversationTracesHref } from "../../../../lib/format/conversation-href";
import { formatDateTime, formatInt, formatMs, formatUsd } from "../../../../lib/format/format";
import { resolveRange } from "../../../../lib/format/time-range";
import { requireSession } from "../../../../lib/session/server-session";
import { tenantScope } from "../../../../lib/session/tenant-scope";

export const metadata: Metadata = { title: "Conversation" };

const PAGE_SIZE = 100;

/**
 * One conversation of the tenant over the range: its figures and its traces, newest first (the
 * newest PAGE_SIZE; the Traces page pages through all of them with every filter).
 */
export default async function ConversationPage({ params, searchParams }: {
  params: Promise<{ conversationId: string }>;
  searchParams: Promise<Record<string, string | string[] | undefined>>;
}) {
  const { conversationId: raw } = await params;
  // The segment arrives as it was in the URL (percent-encoded).
  const conversationId = decodedSegment(raw);
  if (conversationId === null) notFound();
  const search = await searchParams;
  const signedIn = await requireSession();
  const scope = await tenantScope(signedIn, search.tenant);
  const range = resolveRange(typeof search.range === "string" ? search.range : undefined, "24h");
  const refresh = Number(search.refresh) > 0 ? Math.max(10, Number(search.refresh)) : 0;
  const tenantParam = signedIn.session.kind === "admin" ? scope.tenantId : undefined;
  const keep = { range: range.key, tenant: tenantParam };
  const [summary, traces] = scope.tenantId
    ? await Promise.all([
        load(signedIn.client.conversations({ tenant: scope.apiTenant, from: range.from, to: range.to, id: conversationId, limit: 1 })),
        load(signedIn.client.traces({ tenant: scope.apiTenant, from: range.from, to: range.to, attr: `gen_ai.conversation.id=${conversationId}`, limit: PAGE_SIZE })),
      ])
    : [null, null];
  const c = summary?.ok ? summary.data.conversations[0] : undefined;
  const back = `/conversations?${new URLSearchParams({ range: range.key, ...(tenantParam !== undefined ? { tenant: tenantParam } : {}) }).toString()}`;

  return (
    <>
      <div><Link href={back}>← All conversations</Link></div>
      <PageHeader title="Conversation" description={<><span className="mono" data-testid="conversation-id">{conversationId}</span> · {range.label}</>}>
        <RangePicker value={range.key} />
        <AutoRefresh seconds={refresh} />
      </PageHeader>
      {c ? (
        <div className="grid grid-4">
          <StatCard label="Traces" value={formatInt(c.traceCount)} sub={c.agentTypes.join(", ") || undefined} testId="conversation-traces" />
          <StatCard label="Time span" value={formatMs(Date.parse(c.lastTime) - Date.parse(c.firstTime))} sub={`${formatDateTime(c.firstTime)} to ${formatDateTime(c.lastTime)}`} />
          <StatCard label="Tokens" value={formatInt(c.inputTokens + c.outputTokens)} sub={`${formatInt(c.llmCalls)} LLM calls · ${formatInt(c.inputTokens)} in / ${formatInt(c.outputTokens)} out`} testId="conversation-tokens" />
          <StatCard label="Cost" value={formatUsd(c.costUsd)} sub="of the stored (sampled) traces" testId="conversation-cost" />
        </div>
      ) : null}
      <Card
        title="Traces of this conversation"
        description={TRACE_USAGE_NOTE}
        actions={<Link className="btn btn-sm" href={conversationTracesHref(conversationId, keep)}>Open in Traces</Link>}
        flush
      >
        {!traces ? (
          <EmptyState title="No tenants yet" />
        ) : !traces.ok ? (
          <ErrorState message={traces.message} />
        ) : traces.data.traces.length === 0 ? (
          <EmptyState title="No traces of this conversation in this range" icon="❝">Pick a longer time range.</EmptyState>
        ) : (
          <>
            <TraceTable traces={traces.data.traces} tenant={tenantParam} caption="Traces of the conversation" testId="conversation-traces-table" />
            <p className="table-note">
              <span>{traces.data.nextCursor ? `The newest ${PAGE_SIZE} traces; Open in Traces for all of them.` : `${formatInt(traces.data.traces.length)} ${traces.data.traces.length === 1 ? "trace" : "traces"}.`}</span>
              <span aria-hidden="true"><kbd>j</kbd> <kbd>k</kbd> move · <kbd>Enter</kbd> open</span>
            </p>
          </>
        )}
      </Card>
    </>
  );
}

function decodedSegment(segment: string): string | null {
  try {
    return decodeURIComponent(segment);
  } catch {
    return null;
  }
}
