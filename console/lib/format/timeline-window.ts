// The part of a trace's timeline the waterfall shows (zoom), in ms from the trace start. Pure functions.

/** A shown window of the timeline: [startMs, endMs] from the trace start. */
export interface TimelineWindow {
  startMs: number;
  endMs: number;
}

/** The narrowest window the timeline zooms to (1 µs): below that, bars are only rounding. */
export const MIN_WINDOW_MS = 0.001;

/** The whole trace. */
export function fullWindow(totalMs: number): TimelineWindow {
  return { startMs: 0, endMs: Math.max(totalMs, MIN_WINDOW_MS) };
}

/** Whether `w` shows the whole trace. */
export function isFullWindow(w: TimelineWindow, totalMs: number): boolean {
  return w.startMs <= 0 && w.endMs >= totalMs;
}

/**
 * `startMs`-`endMs` (either order) as a window inside the trace, at least MIN_WINDOW_MS wide; it
 * keeps its width when it would stick out of the trace, and is cut to the trace when wider.
 */
export function clampWindow(startMs: number, endMs: number, totalMs: number): TimelineWindow {
  const total = Math.max(totalMs, MIN_WINDOW_MS);
  let lo = Math.min(startMs, endMs);
  let hi = Math.max(startMs, endMs);
  if (hi - lo < MIN_WINDOW_MS) {
    const mid = (lo + hi) / 2;
    lo = mid - MIN_WINDOW_MS / 2;
    hi = mid + MIN_WINDOW_MS / 2;
  }
  if (hi - lo >= total) return { startMs: 0, endMs: total };
  if (lo < 0) [lo, hi] = [0, hi - lo];
  if (hi > total) [lo, hi] = [lo - (hi - total), total];
  return { startMs: lo, endMs: hi };
}

/** `w` zoomed by `factor` (2: twice as close, 0.5: twice as far) around `centerMs` (default: its middle), kept inside the trace. */
export function zoomWindow(w: TimelineWindow, factor: number, totalMs: number, centerMs = (w.startMs + w.endMs) / 2): TimelineWindow {
  const half = (w.endMs - w.startMs) / factor / 2;
  return clampWindow(centerMs - half, centerMs + half, totalMs);
}

/**
 * Where a span [offsetMs, offsetMs + durationMs] draws inside window `w`, in percent of the track:
 * cut to the window; null when it lies wholly outside. A zero-length span inside still draws (at
 * its point).
 */
export function placeInWindow(offsetMs: number, durationMs: number, w: TimelineWindow): { leftPct: number; widthPct: number } | null {
  const span = w.endMs - w.startMs;
  const start = offsetMs;
  const end = offsetMs + Math.max(0, durationMs);
  if (end < w.startMs || start > w.endMs) return null;
  const lo = Math.max(start, w.startMs);
  const hi = Math.min(end, w.endMs);
  return { leftPct: ((lo - w.startMs) / span) * 100, widthPct: ((hi - lo) / span) * 100 };
}

/** The ms from the trace start under a point `fraction` (0-1) across the track showing `w`. */
export function timeAt(w: TimelineWindow, fraction: number): number {
  return w.startMs + Math.min(1, Math.max(0, fraction)) * (w.endMs - w.startMs);
}
