"use client";
// Time-series charts (Recharts) for the overview and usage pages.
import { Area, AreaChart, Bar, BarChart, CartesianGrid, Legend, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import { formatClock, formatCompact, formatDay, formatPct, formatUsd } from "../lib/format/format";

/** One plotted series: `key` names the point field. */
export interface SeriesSpec {
  key: string;
  label: string;
  color: string;
}

/** How values are shown on the axis and in the tooltip. */
export type ValueFormat = "count" | "usd" | "pct";

/** Time axis granularity. */
export type TimeAxis = "minute" | "day";

const fmt = (f: ValueFormat) => (v: number) => (f === "usd" ? formatUsd(v) : f === "pct" ? formatPct(v) : formatCompact(v));

/** Axis ticks: as few digits as tell the ticks apart. */
const axisFmt = (f: ValueFormat) => (v: number) => {
  if (f === "usd") return v === 0 ? "$0" : Math.abs(v) < 0.01 ? `$${v.toFixed(4)}` : Math.abs(v) < 1 ? `$${v.toFixed(3)}` : formatUsd(v);
  return f === "pct" ? formatPct(v) : formatCompact(v);
};

/**
 * An area (or bar) chart over time. `points` carry an ISO `time` plus one number per series. The
 * chart is described for screen readers by `label`.
 */
export function TimeSeriesChart({ points, series, format = "count", axis = "minute", kind = "area", label, stacked = false }: {
  points: Array<Record<string, number | string>>;
  series: SeriesSpec[];
  format?: ValueFormat;
  axis?: TimeAxis;
  kind?: "area" | "bar";
  label: string;
  stacked?: boolean;
}) {
  const xFmt = axis === "day" ? formatDay : formatClock;
  const yFmt = fmt(format);
  const tickFmt = axisFmt(format);
  // One or two buckets read better as bars than as a line with nothing to connect.
  const shape = points.length < 3 ? "bar" : kind;
  const common = (
    <>
      <CartesianGrid stroke="#eef0f4" vertical={false} />
      <XAxis dataKey="time" tickFormatter={(v: string) => xFmt(v)} tick={{ fontSize: 11, fill: "#667085" }} tickLine={false} axisLine={{ stroke: "#e4e7ec" }} minTickGap={24} />
      <YAxis tickFormatter={(v: number) => tickFmt(v)} allowDecimals={format !== "count"} tick={{ fontSize: 11, fill: "#667085" }} tickLine={false} axisLine={false} width={56} />
      <Tooltip
        labelFormatter={(v) => (axis === "day" ? formatDay(String(v)) : `${String(v).slice(0, 16).replace("T", " ")} UTC`)}
        formatter={(v) => yFmt(Number(v))}
        contentStyle={{ borderRadius: 8, border: "1px solid #e4e7ec", fontSize: 12 }}
      />
      {series.length > 1 ? <Legend iconType="circle" iconSize={8} wrapperStyle={{ fontSize: 12 }} /> : null}
    </>
  );
  return (
    <div className="chart-box" role="img" aria-label={label}>
      <ResponsiveContainer width="100%" height="100%">
        {shape === "bar" ? (
          <BarChart data={points} margin={{ top: 8, right: 8, bottom: 0, left: 0 }}>
            {common}
            {series.map((s) => (
              <Bar key={s.key} dataKey={s.key} name={s.label} fill={s.color} radius={[3, 3, 0, 0]} maxBarSize={56} stackId={stacked ? "a" : undefined} isAnimationActive={false} />
            ))}
          </BarChart>
        ) : (
          <AreaChart data={points} margin={{ top: 8, right: 8, bottom: 0, left: 0 }}>
            {common}
            {series.map((s) => (
              <Area key={s.key} type="monotone" dataKey={s.key} name={s.label} stroke={s.color} fill={s.color} fillOpacity={0.12} strokeWidth={2} stackId={stacked ? "a" : undefined} isAnimationActive={false} dot={false} />
            ))}
          </AreaChart>
        )}
      </ResponsiveContainer>
    </div>
  );
}
