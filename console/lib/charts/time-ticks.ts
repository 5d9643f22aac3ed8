// Where a time axis puts its ticks and what it calls a bucket. Times are UTC.
import { formatClock, formatDay } from "../format/format";

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

/** Tick spacings a time axis may use, finest first. */
const TICK_STEPS_MS = [MIN, 2 * MIN, 5 * MIN, 10 * MIN, 15 * MIN, 30 * MIN, HOUR, 2 * HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, DAY, 2 * DAY, 7 * DAY, 14 * DAY, 28 * DAY];

/** Ticks of a time axis: their times (epoch ms, ascending) and the spacing between them. */
export interface TimeTicks {
  ticks: number[];
  stepMs: number;
}

/**
 * Ticks for an axis from `fromMs` to `toMs`: the finest spacing of TICK_STEPS_MS that gives at most
 * `maxTicks` ticks, each on a whole multiple of that spacing (so on the minute, hour or UTC
 * midnight), all within the range.
 */
export function timeTicks(fromMs: number, toMs: number, maxTicks = 8): TimeTicks {
  const span = Math.max(0, toMs - fromMs);
  const stepMs = TICK_STEPS_MS.find((s) => Math.floor(span / s) + 1 <= maxTicks) ?? Math.ceil(span / (maxTicks - 1) / DAY) * DAY;
  const ticks: number[] = [];
  for (let t = Math.ceil(fromMs / stepMs) * stepMs; t <= toMs; t += stepMs) ticks.push(t);
  return { ticks, stepMs };
}

/**
 * A tick's label, short enough for seven to fit a half-width chart: the day as "MM-DD" (ISO order;
 * the tooltip gives the full date) for day spacing or at UTC midnight, else the clock ("14:30").
 */
export function timeTickLabel(ms: number, tickStepMs: number): string {
  const iso = new Date(ms).toISOString();
  return tickStepMs >= DAY || ms % DAY === 0 ? iso.slice(5, 10) : formatClock(iso);
}

/** A bucket width in words, as in "Spans per …": "minute", "7 min", "hour", "3 h", "day", "2 days". */
export function bucketName(stepMs: number): string {
  if (stepMs % DAY === 0) return stepMs === DAY ? "day" : `${stepMs / DAY} days`;
  if (stepMs % HOUR === 0) return stepMs === HOUR ? "hour" : `${stepMs / HOUR} h`;
  if (stepMs % MIN === 0) return stepMs === MIN ? "minute" : `${stepMs / MIN} min`;
  return `${Math.round(stepMs / 1000)} s`;
}

/** A bucket's start for a tooltip: "2025-01-02 14:30 UTC", or the day alone for day buckets. */
export function bucketStartLabel(ms: number, stepMs: number): string {
  const iso = new Date(ms).toISOString();
  return stepMs % DAY === 0 ? formatDay(iso) : `${iso.slice(0, 16).replace("T", " ")} UTC`;
}
