import type { Metadata } from "next";
import Link from "next/link";
import { notFound } from "next/navigation";
import { Badge, Card, ErrorState, PageHeader, StatCard } from "../../../../components/ui";
import { Waterfall } from "../../../../components/waterfall";
import { load } from "../../../../lib/api/load";
import { loadConfig } from "../../../../lib/config";
import { formatDateTime, formatInt, formatMs, formatUsd } from "../../../../lib/format/format";
import { attributeIsTrue } from "../../../../lib/format/span-fields";
import { requireSession } from "../../../../lib/session/server-session";
import { tenantScope } from "../../../../lib/session/tenant-scope";

export const metadata: Metadata = { title: "Trace" };

/**
 * Trace detail: the span tree as a waterfall, with status, durations and each span's metadata as it
 * was sent. `?span=<spanId>` opens that span's panel (links between traces point there; selecting a
 * span updates it). A trace whose root has not arrived says it is in progress.
 */
export default async function TraceDetailPage({ params, searchParams }: {
  params: Promise<{ traceId: string }>;
  searchParams: Promise<Record<string, string | string[] | undefined>>;
}) {
  const { traceId } = await params;
  const search = await searchParams;
  if (!/^[0-9a-f]{32}$/i.test(traceId)) notFound();
  const signedIn = await requireSession();
  const scope = await tenantScope(signedIn, search.tenant);
  const trace = await load(signedIn.client.trace(traceId.toLowerCase(), scope.apiTenant));
  if (!trace.ok && (trace.code === "not_found" || trace.code === "bad_request")) notFound();
  const tenantParam = signedIn.session.kind === "admin" ? scope.tenantId : undefined;
  const back = `/traces${tenantParam !== undefined ? `?tenant=${encodeURIComponent(tenantParam)}` : ""}`;
  const openSpan = typeof search.span === "string" ? search.span.toLowerCase() : undefined;

  if (!trace.ok) {
    return (
      <>
        <PageHeader title="Trace" description={<span className="mono">{traceId}</span>} />
        <div className="card"><ErrorState message={trace.message} /></div>
      </>
    );
  }

  const t = trace.data;
  const apm = loadConfig().apmTraceUrl;
  const simulated = t.spans.some((s) => attributeIsTrue(s.attributes["troupe.llm.simulated"]));
  const root = t.spans[0];

  return (
    <>
      <div><Link href={back}>← All traces</Link></div>
      <PageHeader
        title={t.inProgress ? "Trace in progress" : root?.name ?? "Trace"}
        description={<>Trace <span className="mono" data-testid="trace-id">{t.traceId}</span> · started {formatDateTime(t.startTime)}</>}
      >
        {t.inProgress ? <Badge tone="accent" title="The root span has not arrived: spans are sent when they end, the root last">In progress</Badge> : null}
        {simulated ? <Badge tone="sim" title="LLM calls in this trace were answered by a simulated model">Simulated model</Badge> : null}
        {t.errorCount > 0 ? <Badge tone="err">{formatInt(t.errorCount)} error {t.errorCount === 1 ? "span" : "spans"}</Badge> : <Badge tone="ok">No errors</Badge>}
        {apm ? (
          <a className="btn btn-sm" href={apm.replaceAll("{traceId}", t.traceId)} target="_blank" rel="noopener noreferrer">Open in APM ↗</a>
        ) : null}
      </PageHeader>

      {t.inProgress ? (
        <div className="alert alert-info" role="note" data-testid="in-progress-note">
          This trace is still running: its root span has not arrived (spans are sent when they end, the root last). What is shown so far is incomplete; reload to see more.
        </div>
      ) : null}

      <div className="grid grid-4">
        <StatCard label="Duration" value={t.inProgress ? `≥ ${formatMs(t.durationMs)}` : formatMs(t.durationMs)} sub={t.inProgress ? "so far" : undefined} />
        <StatCard label="Spans" value={formatInt(t.spanCount)} sub={`${formatInt(t.errorCount)} with errors`} />
        <StatCard label="LLM calls" value={formatInt(t.llmCalls)} sub={`${formatInt(t.inputTokens + t.outputTokens)} tokens (${formatInt(t.inputTokens)} in / ${formatInt(t.outputTokens)} out)`} testId="trace-llm" />
        <StatCard label="Cost" value={formatUsd(t.costUsd)} sub="of this trace's LLM spans" testId="trace-cost" />
      </div>

      <Card
        title="Timeline"
        description="Select a span to see its metadata. Content (prompts, messages, tool arguments) is never collected."
        actions={
          <div className="legend" aria-hidden="true">
            <span><i className="legend-span" />Span</span>
            <span><i className="legend-llm" />LLM call</span>
            <span><i className="legend-tool" />Tool</span>
            <span><i className="legend-err" />Error</span>
          </div>
        }
        flush
      >
        <Waterfall spans={t.spans} durationMs={t.durationMs} tenant={tenantParam} initialSpan={openSpan} inProgress={t.inProgress} />
      </Card>
    </>
  );
}
