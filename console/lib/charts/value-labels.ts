// How a chart writes its values: in tooltips (as the rest of the console does) and on its value axis.
import { formatCompact, formatPct, formatUsd } from "../format/format";
import type { ValueFormat } from "./value-axis";

/** A value as the tooltip shows it; null (a gap) as "no data". */
export function formatChartValue(value: number | null, format: ValueFormat): string {
  if (value === null) return "no data";
  return format === "usd" ? formatUsd(value) : format === "pct" ? formatPct(value) : formatCompact(value);
}

/** A value-axis tick: as few digits as tell the ticks apart ("$0.002", "50%", "20K"). */
export function formatAxisValue(value: number, format: ValueFormat): string {
  if (format === "usd") return value === 0 ? "$0" : Math.abs(value) < 0.01 ? `$${Number(value.toPrecision(2))}` : Math.abs(value) < 1 ? `$${value.toFixed(2)}` : formatUsd(value);
  return format === "pct" ? formatPct(value) : formatCompact(value);
}
