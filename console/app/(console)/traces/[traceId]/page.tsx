import type { Metadata } from "next";
import Link from "next/link";
import { notFound } from "next/navigation";
import { SpanPanel } from "../../../../components/span-panel";
import { Badge, Card, ErrorState, PageHeader, StatCard } from "../../../../components/ui";
import { load } from "../../../../lib/api/load";
import type { TraceSpan } from "../../../../lib/api/types";
import { loadConfig } from "../../../../lib/config";
import { formatDateTime, formatInt, formatMs, formatUsd } from "../../../../lib/format/format";
import { attributeIsTrue, spanAnchor } from "../../../../lib/format/span-fields";
import { layoutWaterfall } from "../../../../lib/format/waterfall";
import { requireSession } from "../../../../lib/session/server-session";
import { tenantScope } from "../../../../lib/session/tenant-scope";

export const metadata: Metadata = { title: "Trace" };

/**
 * Trace detail: the span tree as a waterfall, with status, durations and each span's metadata as it
 * was sent. `?span=<spanId>` opens that span's panel (links between traces point there).
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
  const rows = layoutWaterfall(t.spans, t.durationMs);
  const apm = loadConfig().apmTraceUrl;
  const llmSpans = t.spans.filter((s) => s.model);
  const simulated = t.spans.some((s) => attributeIsTrue(s.attributes["troupe.llm.simulated"]));
  const tokens = t.spans.reduce((n, s) => n + s.inputTokens + s.outputTokens, 0);
  const cost = t.spans.reduce((n, s) => n + s.costUsd, 0);
  const root = t.spans[0];

  return (
    <>
      <div><Link href={back}>← All traces</Link></div>
      <PageHeader title={root?.name ?? "Trace"} description={<>Trace <span className="mono" data-testid="trace-id">{t.traceId}</span> · started {formatDateTime(t.startTime)}</>}>
        {simulated ? <Badge tone="sim" title="LLM calls in this trace were answered by a simulated model">Simulated model</Badge> : null}
        {t.errorCount > 0 ? <Badge tone="err">{formatInt(t.errorCount)} error spans</Badge> : <Badge tone="ok">No errors</Badge>}
        {apm ? (
          <a className="btn btn-sm" href={apm.replaceAll("{traceId}", t.traceId)} target="_blank" rel="noopener noreferrer">Open in APM ↗</a>
        ) : null}
      </PageHeader>

      <div className="grid grid-4">
        <StatCard label="Duration" value={formatMs(t.durationMs)} />
        <StatCard label="Spans" value={formatInt(t.spanCount)} sub={`${formatInt(t.errorCount)} with errors`} />
        <StatCard label="LLM calls" value={formatInt(llmSpans.length)} sub={`${formatInt(tokens)} tokens`} />
        <StatCard label="Cost" value={formatUsd(cost)} />
      </div>

      <Card
        title="Timeline"
        description="Select a span to see its metadata. Content (prompts, messages, tool arguments) is never collected."
        actions={
          <div className="legend" aria-hidden="true">
            <span><i style={{ background: "#6366f1" }} />Span</span>
            <span><i style={{ background: "#a855f7" }} />LLM call</span>
            <span><i style={{ background: "#0ea5e9" }} />Tool</span>
            <span><i style={{ background: "#f04438" }} />Error</span>
          </div>
        }
        flush
      >
        <div className="wf-head" aria-hidden="true">
          <span>Span</span>
          <span style={{ display: "flex", justifyContent: "space-between" }}>
            <span>0</span><span className="wf-mid">{formatMs(t.durationMs / 2)}</span><span>{formatMs(t.durationMs)}</span>
          </span>
          <span style={{ textAlign: "right" }}>Duration</span>
        </div>
        <div data-testid="waterfall">
          {rows.map(({ span, offsetPct, widthPct }) => (
            <details key={span.spanId} id={spanAnchor(span.spanId)} className="wf-row" data-span-name={span.name} open={span.spanId === openSpan}>
              <summary>
                <span className="wf-name" style={{ paddingLeft: span.depth * 16 }}>
                  {span.statusCode === 2 ? <span aria-label="error" title="error" style={{ color: "var(--err)" }}>●</span> : null}
                  <span className="wf-name-text" title={span.name}>{span.name}</span>
                  {span.agentType ? <Badge tone="neutral">{span.agentType}</Badge> : null}
                  {attributeIsTrue(span.attributes["troupe.llm.simulated"]) ? <Badge tone="sim">simulated model</Badge> : null}
                </span>
                <span className="wf-track" aria-hidden="true">
                  <span className={`wf-bar ${barClass(span)}`} style={{ left: `${offsetPct}%`, width: `${widthPct}%` }} />
                </span>
                <span className="wf-dur">{formatMs(span.durationMs)}</span>
              </summary>
              <div className="wf-detail">
                <SpanPanel span={span} tenant={tenantParam} />
              </div>
            </details>
          ))}
        </div>
      </Card>
    </>
  );
}

function barClass(span: TraceSpan): string {
  if (span.statusCode === 2) return "err";
  if (span.model || span.operation === "chat") return "llm";
  if (span.operation === "execute_tool") return "tool";
  return "";
}
