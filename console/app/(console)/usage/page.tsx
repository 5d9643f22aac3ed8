import type { Metadata } from "next";
import { CategoryBarChart } from "../../../components/category-bar-chart";
import { DataTable } from "../../../components/data-table";
import { IsoDateInput } from "../../../components/iso-date-input";
import { TimeSeriesChart } from "../../../components/time-series-chart";
import { timedColumns } from "../../../lib/charts/time-buckets";
import { Card, EmptyState, ErrorState, PageHeader, StatCard } from "../../../components/ui";
import { load, type Loaded } from "../../../lib/api/load";
import type { UsageFigures, UsageGroupBy, UsageResponse } from "../../../lib/api/types";
import { formatCompact, formatCount, formatInt, formatUsd } from "../../../lib/format/format";
import { parseUsageQuery } from "../../../lib/format/usage-query";
import { requireSession } from "../../../lib/session/server-session";
import { tenantScope } from "../../../lib/session/tenant-scope";

export const metadata: Metadata = { title: "Usage & billing" };

const GROUP_LABEL = { day: "Day", hour: "Hour", model: "Model", agent: "Agent type" } as const;

/**
 * Usage & billing: LLM calls, tokens and cost by day, model or agent; totals; CSV/JSON downloads.
 * Every figure comes from usage records (one per LLM call attempt), so it is exact whatever the trace
 * sampling; "LLM calls" counts every attempt, and the refused ones are shown apart as well. Charts:
 * cost and tokens over every day (or hour) of the range, zero where nothing was used; cost by model
 * and by agent type. Each is one grouped usage report from the collector (no span is read).
 */
export default async function UsagePage({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  const params = await searchParams;
  const signedIn = await requireSession();
  const scope = await tenantScope(signedIn, params.tenant);
  const { query, error } = parseUsageQuery(params);
  // The report the table shows and the three the charts draw; a grouping asked twice is loaded once.
  const timeGroupBy = query.groupBy === "hour" ? "hour" : "day";
  const asked = new Map<UsageGroupBy, Promise<Loaded<UsageResponse>>>();
  const report = (groupBy: UsageGroupBy): Promise<Loaded<UsageResponse>> => {
    let answer = asked.get(groupBy);
    if (!answer) asked.set(groupBy, (answer = load(signedIn.client.usage({ tenant: scope.apiTenant, from: query.from, to: query.to, groupBy }))));
    return answer;
  };
  const [usage, overTime, byModel, byAgent] = scope.tenantId
    ? await Promise.all([report(query.groupBy), report(timeGroupBy), report("model"), report("agent")])
    : [null, null, null, null];
  const tenantParam = signedIn.session.kind === "admin" ? scope.tenantId : undefined;
  const download = (format: "csv" | "json") => {
    const q = new URLSearchParams({ from: query.fromDay, to: query.toDay, groupBy: query.groupBy, format });
    if (tenantParam) q.set("tenant", tenantParam);
    return `/api/export/usage?${q.toString()}`;
  };
  const timeGrouped = query.groupBy === "day" || query.groupBy === "hour";

  return (
    <>
      <PageHeader title="Usage & billing" description={`Tenant ${scope.tenantId || "–"} · ${query.fromDay} to ${query.toDay} (UTC, inclusive)`}>
        <a className="btn" href={download("csv")} download data-testid="download-csv">Download CSV</a>
        <a className="btn" href={download("json")} download data-testid="download-json">Download JSON</a>
      </PageHeader>

      <Card>
        <form method="get" className="filters" aria-label="Usage report range">
          {tenantParam ? <input type="hidden" name="tenant" value={tenantParam} /> : null}
          <div className="field">
            <label htmlFor="u-from">From</label>
            <IsoDateInput id="u-from" name="from" defaultValue={query.fromDay} required />
          </div>
          <div className="field">
            <label htmlFor="u-to">To</label>
            <IsoDateInput id="u-to" name="to" defaultValue={query.toDay} required />
          </div>
          <div className="field">
            <label htmlFor="u-group">Group by</label>
            <select id="u-group" name="groupBy" defaultValue={query.groupBy}>
              <option value="day">Day</option>
              <option value="hour">Hour</option>
              <option value="model">Model</option>
              <option value="agent">Agent type</option>
            </select>
          </div>
          <button type="submit" className="btn btn-primary">Show report</button>
        </form>
        {error ? <div className="alert alert-warn" role="alert" style={{ marginTop: 12 }}>{error}. Showing the nearest valid report.</div> : null}
      </Card>

      {!usage ? (
        <div className="card"><EmptyState title="No tenants yet" /></div>
      ) : !usage.ok ? (
        <div className="card"><ErrorState message={usage.message} /></div>
      ) : (
        <>
          <div className="alert alert-info" role="note" data-testid="usage-source">
            Exact: every figure is summed from usage records, one per LLM call attempt, whatever the trace sampling. LLM calls count every
            attempt, including those refused by the budget or the rate limit before reaching the model.
          </div>
          <div className="grid grid-4" data-testid="usage-totals">
            <StatCard testId="total-calls" label="LLM calls (every attempt)" value={formatInt(usage.data.totals.calls)} sub={`${formatInt(usage.data.totals.calls - refused(usage.data.totals))} reached the model`} />
            <StatCard testId="total-input" label="Input tokens" value={formatInt(usage.data.totals.inputTokens)} sub={`${formatInt(usage.data.totals.cachedInputTokens)} from cache`} />
            <StatCard testId="total-output" label="Output tokens" value={formatInt(usage.data.totals.outputTokens)} sub={`${formatInt(usage.data.totals.reasoningTokens)} reasoning`} />
            <StatCard testId="total-cost" label="Cost" value={formatUsd(usage.data.totals.costUsd)} />
          </div>
          <div className="grid grid-4" data-testid="usage-outcomes">
            <StatCard testId="total-budget-rejections" label="Budget rejections" value={formatInt(usage.data.totals.budgetRejections)} sub="refused by the token or cost budget" />
            <StatCard testId="total-rate-limited" label="Rate limited" value={formatInt(usage.data.totals.rateLimited)} sub="refused by the LLM rate limit" />
            <StatCard testId="total-errors" label="Errors" value={formatInt(usage.data.totals.errors)} sub="failed at the provider or on the way" />
            <StatCard testId="total-timeouts" label="Timeouts" value={formatInt(usage.data.totals.timeouts)} sub="ran out of time" />
          </div>
          {usage.data.rows.length === 0 ? (
            <div className="card"><EmptyState title="No LLM usage in this range" icon="$">No LLM calls were recorded between {query.fromDay} and {query.toDay}.</EmptyState></div>
          ) : (
            <>
              <UsageCharts
                overTime={overTime!}
                byModel={byModel!}
                byAgent={byAgent!}
                buckets={{ from: query.from, to: query.to, stepSeconds: timeGroupBy === "hour" ? 3600 : 86_400 }}
                per={timeGroupBy}
              />
              <Card title="Report" description={`${formatCount(usage.data.rows.length, "row")} · total ${formatCompact(usage.data.totals.inputTokens + usage.data.totals.outputTokens)} tokens, ${formatUsd(usage.data.totals.costUsd)}`} flush>
                <DataTable
                  caption="Usage report"
                  testId="usage-table"
                  rows={usage.data.rows.map((r) => ({ ...r, group: r.group || "(none)" }))}
                  columns={[
                    { key: "group", header: GROUP_LABEL[query.groupBy], format: timeGrouped ? "datetime" : "mono" },
                    { key: "calls", header: "LLM calls", format: "int" },
                    { key: "inputTokens", header: "Input tokens", format: "int" },
                    { key: "outputTokens", header: "Output tokens", format: "int" },
                    { key: "costUsd", header: "Cost", format: "usd" },
                    { key: "budgetRejections", header: "Budget rej.", format: "int" },
                    { key: "rateLimited", header: "Rate limited", format: "int" },
                    { key: "errors", header: "Errors", format: "int" },
                    { key: "timeouts", header: "Timeouts", format: "int" },
                  ]}
                />
              </Card>
            </>
          )}
        </>
      )}
    </>
  );
}

/** Attempts refused before reaching the model (budget or rate limit). */
function refused(t: UsageFigures): number {
  return t.budgetRejections + t.rateLimited;
}

/**
 * Cost and tokens over every day (or hour) of the range, zero-filled, and cost by model and by agent
 * type; each chart says so when its report could not be loaded.
 */
function UsageCharts({ overTime, byModel, byAgent, buckets, per }: {
  overTime: Loaded<UsageResponse>;
  byModel: Loaded<UsageResponse>;
  byAgent: Loaded<UsageResponse>;
  buckets: { from: string; to: string; stepSeconds: number };
  per: "day" | "hour";
}) {
  return (
    <>
      <Card title={`Cost and tokens by ${per}`} description={`Every ${per} of the range is drawn, 0 where nothing was used`}>
        {!overTime.ok ? (
          <ErrorState message={overTime.message} />
        ) : (
          <div className="grid grid-2">
            <TimeSeriesChart
              label={`Cost per ${per}`}
              kind="bar"
              format="usd"
              buckets={buckets}
              empty="zero"
              stacked={false}
              points={timedColumns(overTime.data.rows.map((r) => ({ time: r.group, costUsd: r.costUsd })), ["costUsd"])}
              series={[{ key: "costUsd", label: "Cost", color: "#f59e0b" }]}
            />
            <TimeSeriesChart
              label={`Input and output tokens per ${per}, stacked`}
              kind="bar"
              buckets={buckets}
              empty="zero"
              stacked
              points={timedColumns(overTime.data.rows.map((r) => ({ time: r.group, inputTokens: r.inputTokens, outputTokens: r.outputTokens })), ["inputTokens", "outputTokens"])}
              series={[{ key: "inputTokens", label: "Input tokens", color: "#0ea5e9" }, { key: "outputTokens", label: "Output tokens", color: "#22c55e" }]}
            />
          </div>
        )}
      </Card>
      <div className="grid grid-2">
        <Card title="Cost by model" description="The model each call asked for · largest first">
          {!byModel.ok ? (
            <ErrorState message={byModel.message} />
          ) : (
            <CategoryBarChart label="Cost by model" format="usd" color="#f59e0b" emptyName="(no model)" rows={byModel.data.rows.map((r) => ({ name: r.group, value: r.costUsd }))} />
          )}
        </Card>
        <Card title="Cost by agent type" description="The agent type that made each call · largest first">
          {!byAgent.ok ? (
            <ErrorState message={byAgent.message} />
          ) : (
            <CategoryBarChart label="Cost by agent type" format="usd" color="#6366f1" emptyName="(no agent)" rows={byAgent.data.rows.map((r) => ({ name: r.group, value: r.costUsd }))} />
          )}
        </Card>
      </div>
    </>
  );
}
