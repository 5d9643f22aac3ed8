"use client";
// Time-series charts (Recharts) for the overview and usage pages, on a real time axis.
import { Area, AreaChart, Bar, BarChart, CartesianGrid, Legend, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import { chartNote } from "../lib/charts/chart-note";
import { bucketStepMs, fillTimeBuckets, isolatedPoints, type EmptyBucket, type TimedColumns } from "../lib/charts/time-buckets";
import { bucketName, bucketStartLabel, timeTickLabel, timeTicks } from "../lib/charts/time-ticks";
import { valueAxis, type ValueFormat } from "../lib/charts/value-axis";
import { formatAxisValue, formatChartValue } from "../lib/charts/value-labels";

/** One plotted series: `key` names the point field. */
export interface SeriesSpec {
  key: string;
  label: string;
  color: string;
}

/** The range a chart covers and its bucket width, as the collector answered them (ISO bounds, `to` exclusive). */
export interface ChartBuckets {
  from: string;
  to: string;
  stepSeconds: number;
}

const AXIS_TICK = { fontSize: 11, fill: "#667085" };

/**
 * A chart over time. `points` are the buckets the collector sent, as columns (bucket starts plus
 * one number, or null, per series and start); every bucket of `buckets` is drawn, an empty one as 0 or as a gap (`empty`),
 * so a pause in traffic takes its real width. Areas sit on a time axis spanning the whole range;
 * bars (for a few day or hour buckets) one per bucket. The value axis runs from 0 to just above the
 * data (a ratio never past 100%). A line under the chart says the bucket width, what empty buckets
 * are drawn as and whether series are stacked. Described to screen readers by `label`.
 */
export function TimeSeriesChart({ label, points, series, buckets, empty, stacked, format = "count", kind = "area" }: {
  label: string;
  points: TimedColumns;
  series: SeriesSpec[];
  buckets: ChartBuckets;
  empty: EmptyBucket;
  stacked: boolean;
  format?: ValueFormat;
  kind?: "area" | "bar";
}) {
  // Recomputed only when the props change (a new server render): the chart's own state is Recharts'.
  const range = { fromMs: Date.parse(buckets.from), toMs: Date.parse(buckets.to), stepMs: buckets.stepSeconds * 1000 };
  const keys = series.map((s) => s.key);
  const data = fillTimeBuckets(points, keys, range, empty);
  const stepMs = bucketStepMs(range);
  const axis = valueAxis(
    stacked ? data.map((p) => keys.reduce((n, k) => n + (p[k] ?? 0), 0)) : data.flatMap((p) => keys.map((k) => p[k] ?? null)),
    format,
  );
  const start = data[0]?.t ?? range.fromMs;
  const time = timeTicks(start, range.toMs);
  const note = chartNote({ stepMs, empty, stacked, seriesCount: series.length, kind });

  const yAxis = (
    <YAxis type="number" domain={[0, axis.max]} ticks={axis.ticks} interval={0} tickFormatter={(v: number) => formatAxisValue(v, format)} tick={AXIS_TICK} tickLine={false} axisLine={false} width={56} />
  );
  const tooltip = (
    <Tooltip
      labelFormatter={(t) => `${bucketStartLabel(Number(t), stepMs)} · ${bucketName(stepMs)}`}
      formatter={(v) => formatChartValue(v === null || v === undefined ? null : Number(v), format)}
      contentStyle={{ borderRadius: 8, border: "1px solid #e4e7ec", fontSize: 12 }}
    />
  );
  const legend = series.length > 1 ? <Legend iconType="circle" iconSize={8} itemSorter={null} wrapperStyle={{ fontSize: 12 }} /> : null;
  const margin = { top: 8, right: 12, bottom: 0, left: 0 };

  return (
    <figure className="chart" data-step-ms={stepMs} data-stacked={stacked ? "true" : "false"}>
      <div className="chart-box" role="img" aria-label={`${label}. ${note}.`}>
        <ResponsiveContainer width="100%" height="100%">
          {kind === "bar" ? (
            <BarChart data={data} margin={margin}>
              <CartesianGrid stroke="#eef0f4" vertical={false} />
              <XAxis
                dataKey="t"
                type="category"
                tickFormatter={(v: number) => timeTickLabel(v, stepMs)}
                interval={data.length <= 31 ? 0 : "preserveStartEnd"}
                tick={AXIS_TICK}
                tickLine={false}
                axisLine={{ stroke: "#e4e7ec" }}
              />
              {yAxis}
              {tooltip}
              {legend}
              {series.map((s) => (
                <Bar key={s.key} dataKey={s.key} name={s.label} fill={s.color} radius={stacked ? 0 : [3, 3, 0, 0]} maxBarSize={56} stackId={stacked ? "stack" : undefined} isAnimationActive={false} />
              ))}
            </BarChart>
          ) : (
            <AreaChart data={data} margin={margin}>
              <CartesianGrid stroke="#eef0f4" vertical={false} />
              <XAxis
                dataKey="t"
                type="number"
                scale="time"
                domain={[start, range.toMs]}
                ticks={time.ticks}
                interval={0}
                tickFormatter={(v: number) => timeTickLabel(v, time.stepMs)}
                tick={AXIS_TICK}
                tickLine={false}
                axisLine={{ stroke: "#e4e7ec" }}
              />
              {yAxis}
              {tooltip}
              {legend}
              {series.map((s) => {
                // A value between two gaps has no line to sit on: it is drawn as a dot.
                const isolated = empty === "gap" ? isolatedPoints(data, s.key) : new Set<number>();
                return (
                  <Area
                    key={s.key}
                    type="linear"
                    dataKey={s.key}
                    name={s.label}
                    stroke={s.color}
                    fill={s.color}
                    fillOpacity={stacked ? 0.35 : 0.08}
                    strokeWidth={2}
                    stackId={stacked ? "stack" : undefined}
                    connectNulls={false}
                    isAnimationActive={false}
                    dot={isolated.size === 0 ? false : (d) => (isolated.has(d.index) ? <circle key={d.index} cx={d.cx} cy={d.cy} r={3} fill={s.color} /> : null)}
                  />
                );
              })}
            </AreaChart>
          )}
        </ResponsiveContainer>
      </div>
      <figcaption className="chart-note">{note}</figcaption>
    </figure>
  );
}
