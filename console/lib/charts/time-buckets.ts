// Time buckets of a chart: every bucket of the range, whether or not the collector sent a point for it.

/** The bucketing of a chart's range: [fromMs, toMs), buckets `stepMs` long starting at multiples of `stepMs` since the epoch (UTC), as the collector's buckets and UTC days do. */
export interface BucketRange {
  fromMs: number;
  toMs: number;
  stepMs: number;
}

/** What an empty bucket shows: 0 (counts: nothing happened) or a gap (ratios: nothing to divide). */
export type EmptyBucket = "zero" | "gap";

/** A sparse input point: an ISO bucket start and one value per series (null: no value). */
export type TimedPoint = { time: string } & Record<string, number | string | null>;

/**
 * Sparse input points as columns: bucket starts (epoch ms) and, per series key, one value (or null)
 * per start. What a server page hands a chart: several charts share one `t` array (sent once), and
 * a 1,440-bucket day is tens of kilobytes, not the half megabyte of one object per point per chart.
 */
export interface TimedColumns {
  t: readonly number[];
  values: Readonly<Record<string, readonly (number | null)[]>>;
}

/** `points` as columns of `keys` (values that are not finite numbers become null). */
export function timedColumns(points: readonly TimedPoint[], keys: readonly string[]): TimedColumns {
  const values: Record<string, (number | null)[]> = {};
  for (const k of keys) values[k] = points.map((p) => chartValue(p[k]));
  return { t: points.map((p) => Date.parse(p.time)), values };
}

/** A value as a chart receives it: null unless a finite number; a float kept to 9 significant digits (more than any axis or tooltip shows, without float noise). */
export function chartValue(v: unknown): number | null {
  if (typeof v !== "number" || !Number.isFinite(v)) return null;
  return Number.isInteger(v) ? v : Number(v.toPrecision(9));
}

/** A filled point: the bucket start `t` (epoch ms) and one value per series key (null: a gap). */
export type BucketPoint = { t: number } & Record<string, number | null>;

/** Most buckets a chart draws; a finer step is widened to keep within it. */
export const MAX_BUCKETS = 2000;

/** The first bucket's start: the bucket holding `fromMs`. */
export function firstBucketStart(range: BucketRange): number {
  return Math.floor(range.fromMs / range.stepMs) * range.stepMs;
}

/**
 * One point per bucket of the range, in time order, from the first bucket holding `fromMs` to the
 * last one starting before `toMs`. A bucket without an input point gets 0 for every key (`empty:
 * "zero"`) or null (`empty: "gap"`); an input value that is null (or missing) stays null. Input
 * points are placed in the bucket holding their time; points sharing a bucket are added. Points
 * outside the range are ignored. At most MAX_BUCKETS buckets: a finer step is widened to whole
 * multiples of itself.
 */
export function fillTimeBuckets(points: TimedColumns, keys: readonly string[], range: BucketRange, empty: EmptyBucket): BucketPoint[] {
  const stepMs = bucketStepMs(range);
  const start = firstBucketStart({ ...range, stepMs });
  const count = Math.max(0, Math.ceil((range.toMs - start) / stepMs));
  const filled: BucketPoint[] = [];
  const seen = new Array<boolean>(count).fill(false);
  for (let i = 0; i < count; i++) {
    const p: BucketPoint = { t: start + i * stepMs };
    for (const k of keys) p[k] = empty === "zero" ? 0 : null;
    filled.push(p);
  }
  points.t.forEach((ms, at) => {
    if (!Number.isFinite(ms) || ms < start || ms >= range.toMs) return;
    const i = Math.floor((ms - start) / stepMs);
    const target = filled[i]!;
    for (const k of keys) {
      const v = points.values[k]?.[at];
      const value = typeof v === "number" && Number.isFinite(v) ? v : null;
      if (!seen[i]) target[k] = value;
      else if (value !== null) target[k] = (target[k] ?? 0) + value;
    }
    seen[i] = true;
  });
  return filled;
}

/** The step buckets are drawn at: the range's own, widened to a whole multiple of it when the range would need more than MAX_BUCKETS. */
export function bucketStepMs(range: BucketRange): number {
  const base = Math.max(1, range.stepMs);
  const count = (step: number) => Math.ceil((range.toMs - Math.floor(range.fromMs / step) * step) / step);
  let factor = Math.max(1, Math.ceil(count(base) / MAX_BUCKETS));
  while (count(base * factor) > MAX_BUCKETS) factor++;
  return base * factor;
}

/** Indices of the points whose `key` has a value while both neighbours are gaps: a line cannot show them, so they are drawn as dots. */
export function isolatedPoints(points: readonly BucketPoint[], key: string): Set<number> {
  const isolated = new Set<number>();
  const has = (i: number) => i >= 0 && i < points.length && points[i]![key] !== null && points[i]![key] !== undefined;
  for (let i = 0; i < points.length; i++) if (has(i) && !has(i - 1) && !has(i + 1)) isolated.add(i);
  return isolated;
}
