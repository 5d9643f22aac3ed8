"use client";
// A horizontal bar chart of a figure per category (cost by model, cost by agent type).
import { Bar, BarChart, CartesianGrid, LabelList, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import { topCategories, type CategoryValue } from "../lib/charts/top-categories";
import { valueAxis, type ValueFormat } from "../lib/charts/value-axis";
import { formatAxisValue, formatChartValue } from "../lib/charts/value-labels";

/** Most bars drawn; further categories are summed into the last one. */
const MAX_BARS = 8;
const BAR_ROW_PX = 30;
const AXIS_TICK = { fontSize: 11, fill: "#667085" };

/**
 * One bar per category, largest first, each labelled with its value; past MAX_BARS the rest are
 * summed into "N others", so the bars add up to the total. Long names are cut on the axis and shown
 * whole in the tooltip. Described to screen readers by `label`.
 */
export function CategoryBarChart({ label, rows, format, color, emptyName }: { label: string; rows: CategoryValue[]; format: ValueFormat; color: string; emptyName: string }) {
  const bars = topCategories(rows, MAX_BARS, emptyName);
  const axis = valueAxis(bars.map((b) => b.value), format);
  return (
    <figure className="chart">
      <div role="img" aria-label={`${label}: ${bars.map((b) => `${b.name} ${formatChartValue(b.value, format)}`).join(", ")}`} style={{ height: bars.length * BAR_ROW_PX + 36 }}>
        <ResponsiveContainer width="100%" height="100%">
          <BarChart data={bars} layout="vertical" margin={{ top: 4, right: 72, bottom: 0, left: 0 }}>
            <CartesianGrid stroke="#eef0f4" horizontal={false} />
            <XAxis type="number" domain={[0, axis.max]} ticks={axis.ticks} interval={0} tickFormatter={(v: number) => formatAxisValue(v, format)} tick={AXIS_TICK} tickLine={false} axisLine={{ stroke: "#e4e7ec" }} />
            <YAxis type="category" dataKey="name" width={140} interval={0} tick={AXIS_TICK} tickLine={false} axisLine={false} tickFormatter={(v: string) => (v.length > 22 ? `${v.slice(0, 21)}…` : v)} />
            <Tooltip formatter={(v) => formatChartValue(Number(v), format)} contentStyle={{ borderRadius: 8, border: "1px solid #e4e7ec", fontSize: 12 }} />
            <Bar dataKey="value" name={label} fill={color} radius={[0, 3, 3, 0]} maxBarSize={20} isAnimationActive={false}>
              <LabelList dataKey="value" position="right" formatter={(v: unknown) => formatChartValue(Number(v), format)} style={{ fontSize: 11, fill: "#475467" }} />
            </Bar>
          </BarChart>
        </ResponsiveContainer>
      </div>
    </figure>
  );
}
