import type { Metadata } from "next";
import Link from "next/link";
import { DataTable } from "../../../../components/data-table";
import { AutoRefresh } from "../../../../components/range-picker";
import { Card, EmptyState, ErrorState, PageHeader } from "../../../../components/ui";
import { load } from "../../../../lib/api/load";
import { samplingLabel } from "../../../../lib/format/sampling";
import { parseTraceFilters, traceListQuery } from "../../../../lib/format/trace-filters";
import { RANGES, resolveRange } from "../../../../lib/format/time-range";
import { requireSession } from "../../../../lib/session/server-session";
import { tenantScope } from "../../../../lib/session/tenant-scope";

export const metadata: Metadata = { title: "Traces" };

const PAGE_SIZE = 50;

/**
 * Traces: a filterable, cursor-paginated list; every filter lives in the URL. Under trace sampling
 * the list holds the kept traces only, and says so.
 */
export default async function TracesPage({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  const params = await searchParams;
  const signedIn = await requireSession();
  const scope = await tenantScope(signedIn, params.tenant);
  const range = resolveRange(typeof params.range === "string" ? params.range : undefined, "1h");
  const { filters, problems } = parseTraceFilters(params);
  const refresh = Number(params.refresh) > 0 ? Math.max(10, Number(params.refresh)) : 0;
  const tenantParam = signedIn.session.kind === "admin" ? scope.tenantId : undefined;

  const [page, sampling] = scope.tenantId
    ? await Promise.all([
        load(signedIn.client.traces({ tenant: scope.apiTenant, from: range.from, to: range.to, limit: PAGE_SIZE, ...filters })),
        load(signedIn.client.sampling({ tenant: scope.apiTenant, from: range.from, to: range.to })),
      ])
    : [null, null];
  const filtered = Boolean(filters.q || filters.agentType || filters.status || filters.minDurationMs);
  // Without the sampling figures the list still shows; only the label is missing.
  const sampled = sampling?.ok ? samplingLabel(sampling.data.sampling) : null;

  return (
    <>
      <PageHeader title="Traces" description={`Tenant ${scope.tenantId || "–"} · newest first`}>
        <AutoRefresh seconds={refresh} />
      </PageHeader>

      <Card>
        <form method="get" className="filters" role="search" aria-label="Filter traces">
          {tenantParam ? <input type="hidden" name="tenant" value={tenantParam} /> : null}
          <div className="field">
            <label htmlFor="f-q">Span name contains</label>
            <input id="f-q" name="q" type="search" defaultValue={filters.q ?? ""} placeholder="e.g. invoke_agent" />
          </div>
          <div className="field">
            <label htmlFor="f-agent">Agent type</label>
            <input id="f-agent" name="agentType" type="text" defaultValue={filters.agentType ?? ""} placeholder="any" />
          </div>
          <div className="field">
            <label htmlFor="f-status">Status</label>
            <select id="f-status" name="status" defaultValue={filters.status ?? ""}>
              <option value="">Any</option>
              <option value="ok">OK</option>
              <option value="error">With errors</option>
            </select>
          </div>
          <div className="field">
            <label htmlFor="f-min">Min duration (ms)</label>
            <input id="f-min" name="minDurationMs" type="number" min={0} step={1} defaultValue={filters.minDurationMs ?? ""} style={{ width: 140 }} />
          </div>
          <div className="field">
            <label htmlFor="f-range">Time range</label>
            <select id="f-range" name="range" defaultValue={range.key}>
              {RANGES.map((r) => <option key={r.key} value={r.key}>{r.label}</option>)}
            </select>
          </div>
          <button type="submit" className="btn btn-primary">Apply filters</button>
          {filtered ? <Link className="btn" href={`/traces${traceListQuery({ tenant: tenantParam, range: range.key })}`}>Clear</Link> : null}
        </form>
        {problems.length ? (
          <div className="alert alert-warn" role="alert" style={{ marginTop: 12 }}>Ignored: {problems.join("; ")}.</div>
        ) : null}
      </Card>

      {sampled ? (
        <div className="alert alert-info" role="note" data-testid="sampling-note">
          Traces were {sampled} in this range: this list and its span counts hold the kept traces only. LLM calls, tokens and cost on Usage &amp; billing come from usage records and are exact.
        </div>
      ) : null}

      <Card flush>
        {!page ? (
          <EmptyState title="No tenants yet">Create a tenant on the Tenants page first.</EmptyState>
        ) : !page.ok ? (
          <ErrorState message={page.message} />
        ) : page.data.traces.length === 0 ? (
          <EmptyState title={filtered ? "No traces match these filters" : "No traces in this range"} icon="≋">
            {filtered ? "Loosen the filters or pick a longer time range." : `Nothing was recorded in the ${range.label.toLowerCase()}.`}
          </EmptyState>
        ) : (
          <>
            <DataTable
              caption="Traces"
              testId="traces-table"
              rows={page.data.traces.map((t) => ({
                traceId: t.traceId,
                rootName: t.rootName,
                serviceName: t.serviceName,
                agentTypes: t.agentTypes,
                startTime: t.startTime,
                durationMs: t.durationMs,
                spanCount: t.spanCount,
                errorCount: t.errorCount,
              }))}
              columns={[
                { key: "rootName", header: "Root span", href: "/traces/{traceId}" + (tenantParam ? `?tenant=${encodeURIComponent(tenantParam)}` : "") },
                { key: "traceId", header: "Trace id", format: "mono" },
                { key: "agentTypes", header: "Agents", format: "tags" },
                { key: "startTime", header: "Started", format: "datetime" },
                { key: "durationMs", header: "Duration", format: "ms" },
                { key: "spanCount", header: "Spans", format: "int" },
                { key: "errorCount", header: "Status", format: "status" },
              ]}
            />
            <div className="pager">
              <span>{page.data.traces.length} traces on this page{sampled ? ` (${sampled})` : ""}</span>
              <span className="toolbar">
                {filters.cursor ? <Link className="btn btn-sm" href={`/traces${traceListQuery({ ...filters, cursor: undefined, tenant: tenantParam, range: range.key })}`}>Newest</Link> : null}
                {page.data.nextCursor ? (
                  <Link className="btn btn-sm" rel="next" href={`/traces${traceListQuery({ ...filters, cursor: page.data.nextCursor, tenant: tenantParam, range: range.key })}`}>
                    Older traces →
                  </Link>
                ) : (
                  <span>End of results</span>
                )}
              </span>
            </div>
          </>
        )}
      </Card>
    </>
  );
}
