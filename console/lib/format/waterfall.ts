import type { TraceSpan } from "../api/types";

/** A span placed on the trace's timeline: its offset from the earliest span start, also in percent of the trace duration. */
export interface WaterfallRow {
  span: TraceSpan;
  offsetMs: number;
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
    return { span, offsetMs, offsetPct, widthPct };
  });
}

/** Whether the row at `index` has children: in depth-first order, the next row is deeper. */
export function hasChildren(rows: readonly { span: Pick<TraceSpan, "depth"> }[], index: number): boolean {
  const next = rows[index + 1];
  return next !== undefined && next.span.depth > rows[index]!.span.depth;
}

/** The index of the row's parent in depth-first order (the nearest earlier, shallower row), or -1 for a root. */
export function parentIndex(rows: readonly { span: Pick<TraceSpan, "depth"> }[], index: number): number {
  const depth = rows[index]!.span.depth;
  for (let i = index - 1; i >= 0; i--) if (rows[i]!.span.depth < depth) return i;
  return -1;
}

/** The rows left when the subtrees under `collapsed` span ids are hidden (the collapsed spans themselves stay). */
export function visibleRows<R extends { span: Pick<TraceSpan, "depth" | "spanId"> }>(rows: readonly R[], collapsed: ReadonlySet<string>): R[] {
  const out: R[] = [];
  let hideDeeperThan = Number.POSITIVE_INFINITY;
  for (const row of rows) {
    if (row.span.depth > hideDeeperThan) continue;
    hideDeeperThan = collapsed.has(row.span.spanId) ? row.span.depth : Number.POSITIVE_INFINITY;
    out.push(row);
  }
  return out;
}

/** The number of spans under the row at `index` (its whole subtree, itself excluded). */
export function descendantCount(rows: readonly { span: Pick<TraceSpan, "depth"> }[], index: number): number {
  const depth = rows[index]!.span.depth;
  let n = 0;
  for (let i = index + 1; i < rows.length && rows[i]!.span.depth > depth; i++) n++;
  return n;
}

function clamp(pct: number): number {
  return Number.isFinite(pct) ? Math.min(100, Math.max(0, pct)) : 0;
}
