// The overview's five charts over the chosen range (server-safe: the charts themselves are client components).
import type { OverviewResponse } from "../lib/api/types";
import { bucketStepMs, chartValue, type TimedColumns } from "../lib/charts/time-buckets";
import { bucketName } from "../lib/charts/time-ticks";
import { formatInt } from "../lib/format/format";
import { TimeSeriesChart, type ChartBuckets } from "./time-series-chart";
import { Card } from "./ui";

/**
 * Spans, error rate, LLM calls, tokens and cost per bucket over the whole range of `data`, each
 * titled with its bucket width. Counts draw empty buckets as 0; the error rate draws no line where
 * no span was stored. No chart is stacked. Span figures carry the sampling label `sampled`; LLM
 * figures say they are exact, from usage records, and that LLM calls include the refused attempts.
 */
export function OverviewCharts({ data, sampled }: { data: OverviewResponse; sampled: string | null }) {
  const buckets: ChartBuckets = { from: data.from, to: data.to, stepSeconds: data.stepSeconds };
  const per = bucketName(bucketStepMs({ fromMs: Date.parse(data.from), toMs: Date.parse(data.to), stepMs: data.stepSeconds * 1000 }));
  const spanTitle = (what: string) => (sampled ? `${what} per ${per} (${sampled})` : `${what} per ${per}`);
  const { budgetRejections, rateLimited } = data.totals;
  // One time array shared by every chart: the page sends it once.
  const t = data.series.map((p) => Date.parse(p.time));
  const columns = (values: Record<string, (p: OverviewResponse["series"][number]) => number | null>): TimedColumns => ({
    t,
    values: Object.fromEntries(Object.entries(values).map(([key, of]) => [key, data.series.map((p) => chartValue(of(p)))])),
  });
  return (
    <>
      <Card title={spanTitle("Spans")} description="Stored spans, and those with error status">
        <TimeSeriesChart
          label="Spans and error spans over time"
          buckets={buckets}
          empty="zero"
          stacked={false}
          points={columns({ spans: (p) => p.spans, errors: (p) => p.errors })}
          series={[{ key: "spans", label: "Spans", color: "#6366f1" }, { key: "errors", label: "Error spans", color: "#f04438" }]}
        />
      </Card>
      <Card title={spanTitle("Error rate")} description="Error spans / all spans in each bucket">
        <TimeSeriesChart
          label="Error rate over time"
          format="pct"
          buckets={buckets}
          empty="gap"
          stacked={false}
          points={columns({ rate: (p) => (p.spans ? p.errors / p.spans : null) })}
          series={[{ key: "rate", label: "Error rate", color: "#f04438" }]}
        />
      </Card>
      <Card
        title={`LLM calls per ${per}`}
        description={`Every attempt, budget-rejected and rate-limited ones included (${formatInt(budgetRejections)} budget-rejected, ${formatInt(rateLimited)} rate-limited in this range) · exact, from usage records`}
      >
        <TimeSeriesChart
          label="LLM call attempts over time, refused ones included"
          buckets={buckets}
          empty="zero"
          stacked={false}
          points={columns({ llmCalls: (p) => p.llmCalls })}
          series={[{ key: "llmCalls", label: "LLM calls", color: "#a855f7" }]}
        />
      </Card>
      <Card title={`Tokens per ${per}`} description="Input and output, each drawn from 0 · exact, from usage records">
        <TimeSeriesChart
          label="Input and output tokens over time"
          buckets={buckets}
          empty="zero"
          stacked={false}
          points={columns({ inputTokens: (p) => p.inputTokens, outputTokens: (p) => p.outputTokens })}
          series={[{ key: "inputTokens", label: "Input", color: "#0ea5e9" }, { key: "outputTokens", label: "Output", color: "#22c55e" }]}
        />
      </Card>
      <Card title={`Cost per ${per}`} description="US dollars · exact, from usage records">
        <TimeSeriesChart
          label="Cost over time"
          format="usd"
          buckets={buckets}
          empty="zero"
          stacked={false}
          points={columns({ costUsd: (p) => p.costUsd })}
          series={[{ key: "costUsd", label: "Cost", color: "#f59e0b" }]}
        />
      </Card>
    </>
  );
}
