import type { TraceSpan } from "../api/types";

/** A span placed on the trace's timeline, in percent of the trace duration. */
export interface WaterfallRow {
  span: TraceSpan;
  offsetPct: number;
  widthPct: number;
}

/**
 * Places each span on the timeline relative to the earliest span start, computed from exact
 * nanosecond start times. Offsets and widths are clamped to [0, 100] so a clock-skewed child never
 * draws outside the track; order is kept as given (the API sends depth-first order).
 */
export function layoutWaterfall(spans: readonly TraceSpan[], traceDurationMs: number): WaterfallRow[] {
  if (spans.length === 0) return [];
  let min = BigInt(spans[0]!.startTimeUnixNano);
  for (const s of spans) {
    const start = BigInt(s.startTimeUnixNano);
    if (start < min) min = start;
  }
  const total = traceDurationMs > 0 ? traceDurationMs : Math.max(1e-6, ...spans.map((s) => s.durationMs));
  return spans.map((span) => {
    const offsetMs = Number(BigInt(span.startTimeUnixNano) - min) / 1e6;
    const offsetPct = clamp((offsetMs / total) * 100);
    const widthPct = Math.min(clamp((span.durationMs / total) * 100), 100 - offsetPct);
    return { span, offsetPct, widthPct };
  });
}

function clamp(pct: number): number {
  return Number.isFinite(pct) ? Math.min(100, Math.max(0, pct)) : 0;
}
