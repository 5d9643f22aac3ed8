import type { Metadata } from "next";
import Link from "next/link";
import { AutoRefresh, RangePicker } from "../../../../components/range-picker";
import { TRACE_USAGE_NOTE, TraceTable } from "../../../../components/trace-table";
import { Card, EmptyState, ErrorState, PageHeader } from "../../../../components/ui";
import { load } from "../../../../lib/api/load";
import { samplingLabel } from "../../../../lib/format/sampling";
import { isFiltered, parseTraceFilters, traceListQuery } from "../../../../lib/format/trace-filters";
import { resolveRange } from "../../../../lib/format/time-range";
import { requireSession } from "../../../../lib/session/server-session";
import { tenantScope } from "../../../../lib/session/tenant-scope";

export const metadata: Metadata = { title: "Traces" };

const PAGE_SIZE = 50;

/**
 * Traces: a filterable, cursor-paginated list; every filter and the range (preset or custom) live
 * in the URL, so a filtered view is a link. Under trace sampling the list holds the kept traces
 * only, and says so. A filter the collector refuses (an attribute it does not keep) is named.
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
  const filtered = isFiltered(filters);
  // Without the sampling figures the list still shows; only the label is missing.
  const sampled = sampling?.ok ? samplingLabel(sampling.data.sampling) : null;
  const refused = page && !page.ok && page.code === "bad_request" ? page.message : null;
  const keep = { tenant: tenantParam, range: range.key };

  return (
    <>
      <PageHeader title="Traces" description={`Tenant ${scope.tenantId || "–"} · newest first · ${range.label}`}>
        <RangePicker value={range.key} />
        <AutoRefresh seconds={refresh} />
      </PageHeader>

      <Card>
        <form method="get" className="filters" role="search" aria-label="Filter traces">
          {tenantParam ? <input type="hidden" name="tenant" value={tenantParam} /> : null}
          <input type="hidden" name="range" value={range.key} />
          <div className="field">
            <label htmlFor="f-q">Span name contains</label>
            <input id="f-q" name="q" type="search" defaultValue={filters.q ?? ""} placeholder="e.g. invoke_agent" />
          </div>
          <div className="field">
            <label htmlFor="f-agent">Agent type</label>
            <input id="f-agent" name="agentType" type="text" defaultValue={filters.agentType ?? ""} placeholder="any" className="input-s" />
          </div>
          <div className="field">
            <label htmlFor="f-model">Model</label>
            <input id="f-model" name="model" type="text" defaultValue={filters.model ?? ""} placeholder="e.g. gpt-4o-mini" className="input-s" />
          </div>
          <div className="field">
            <label htmlFor="f-attr">Attribute</label>
            <input
              id="f-attr"
              name="attr"
              type="text"
              defaultValue={filters.attr ?? ""}
              placeholder="e.g. troupe.turn.outcome=timeout"
              title="key=value: an allow-listed span attribute with exactly this value"
              className="mono input-m"
            />
          </div>
          <div className="field">
            <label htmlFor="f-status">Status</label>
            <select id="f-status" name="status" defaultValue={filters.status ?? ""}>
              <option value="">Any</option>
              <option value="ok">OK</option>
              <option value="error">With errors</option>
            </select>
          </div>
          <fieldset className="field field-pair">
            <legend>Duration (ms)</legend>
            <span className="field-inline">
              <input id="f-min" name="minDurationMs" type="number" min={0} step={1} defaultValue={filters.minDurationMs ?? ""} placeholder="min" aria-label="Min duration (ms)" className="input-xs" />
              <span aria-hidden="true">–</span>
              <input id="f-max" name="maxDurationMs" type="number" min={0} step={1} defaultValue={filters.maxDurationMs ?? ""} placeholder="max" aria-label="Max duration (ms)" className="input-xs" />
            </span>
          </fieldset>
          <button type="submit" className="btn btn-primary">Apply filters</button>
          {filtered ? <Link className="btn" href={`/traces${traceListQuery(keep)}`}>Clear</Link> : null}
        </form>
        {problems.length ? (
          <div className="alert alert-warn filters-alert" role="alert">Ignored: {problems.join("; ")}.</div>
        ) : null}
        {refused ? (
          <div className="alert alert-error filters-alert" role="alert" data-testid="filter-refused">The collector refused these filters: {refused}.</div>
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
          refused ? <EmptyState title="No traces shown">Fix or clear the refused filter above.</EmptyState> : <ErrorState message={page.message} />
        ) : page.data.traces.length === 0 ? (
          <EmptyState title={filtered ? "No traces match these filters" : "No traces in this range"} icon="≋">
            {filtered ? "Loosen the filters or pick a longer time range." : `Nothing was recorded in this range (${range.label}).`}
          </EmptyState>
        ) : (
          <>
            <TraceTable traces={page.data.traces} tenant={tenantParam} caption="Traces" testId="traces-table" />
            <div className="pager">
              <span>{page.data.traces.length} {page.data.traces.length === 1 ? "trace" : "traces"} on this page{sampled ? ` (${sampled})` : ""}</span>
              <span className="toolbar">
                {filters.cursor ? <Link className="btn btn-sm" href={`/traces${traceListQuery({ ...filters, cursor: undefined, ...keep })}`}>Newest</Link> : null}
                {page.data.nextCursor ? (
                  <Link className="btn btn-sm" rel="next" href={`/traces${traceListQuery({ ...filters, cursor: page.data.nextCursor, ...keep })}`}>
                    Older traces →
                  </Link>
                ) : (
                  <span>End of results</span>
                )}
              </span>
            </div>
            <p className="table-note">
              <span data-testid="trace-usage-note">{TRACE_USAGE_NOTE}</span>
              <span aria-hidden="true"><kbd>j</kbd> <kbd>k</kbd> move · <kbd>Enter</kbd> open</span>
            </p>
          </>
        )}
      </Card>
    </>
  );
}
