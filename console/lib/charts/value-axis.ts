// The value axis of a chart: from zero to a round number just above the data.

/** How a chart's values read: a count, US dollars, or a 0-1 ratio shown as a percentage. */
export type ValueFormat = "count" | "usd" | "pct";

/** A value axis: its top and its ticks (ascending, from 0). */
export interface ValueAxis {
  max: number;
  ticks: number[];
}

/**
 * The axis for these values: from 0 to the first multiple of a round step (1, 2 or 5 times a power
 * of ten) at or above the largest value, in at most 5 ticks. Without a positive value the axis runs
 * to 1 (100% for a ratio). A ratio's axis never goes above 1 (100%); a count's step is whole.
 */
export function valueAxis(values: Iterable<number | null>, format: ValueFormat): ValueAxis {
  let top = 0;
  for (const v of values) if (v !== null && Number.isFinite(v) && v > top) top = v;
  if (format === "pct") top = Math.min(top, 1);
  if (top <= 0) top = 1;
  // For a ratio (top ≤ 1) the step divides 1, so the axis stops at 100% at most.
  const step = format === "count" ? Math.max(1, roundStep(top / 4)) : roundStep(top / 4);
  const max = tidy(Math.ceil(tidy(top / step)) * step);
  const ticks: number[] = [];
  for (let i = 0; tidy(i * step) <= max; i++) ticks.push(tidy(i * step));
  return { max, ticks };
}

/** The smallest of 1, 2, 5 × 10^k at or above `rough`. */
function roundStep(rough: number): number {
  const power = 10 ** Math.floor(Math.log10(rough));
  for (const m of [1, 2, 5, 10]) if (m * power >= rough * (1 - 1e-9)) return tidy(m * power);
  return tidy(10 * power);
}

/** Drops floating-point noise (0.30000000000000004 → 0.3). */
function tidy(n: number): number {
  return Number(n.toPrecision(12));
}
