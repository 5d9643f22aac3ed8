import { describe, expect, it } from "vitest";
import { bucketStepMs, chartValue, fillTimeBuckets as fillColumns, isolatedPoints, MAX_BUCKETS, timedColumns, type BucketRange, type EmptyBucket, type TimedPoint } from "./time-buckets";

const MIN = 60_000;
const T0 = Date.parse("2025-03-03T10:00:00.000Z");
const at = (minutes: number) => new Date(T0 + minutes * MIN).toISOString();
/** The charts' input from points, as the pages build it. */
const fillTimeBuckets = (points: TimedPoint[], keys: string[], range: BucketRange, empty: EmptyBucket) => fillColumns(timedColumns(points, keys), keys, range, empty);

describe("fillTimeBuckets", () => {
  it("draws every bucket of the range, a 10-minute gap as ten zero buckets", () => {
    const points = [...[0, 1, 2].map((m) => ({ time: at(m), spans: 5 })), ...[13, 14].map((m) => ({ time: at(m), spans: 7 }))];
    const filled = fillTimeBuckets(points, ["spans"], { fromMs: T0, toMs: T0 + 15 * MIN, stepMs: MIN }, "zero");
    expect(filled).toHaveLength(15);
    expect(filled.map((p) => p.t)).toEqual(Array.from({ length: 15 }, (_, i) => T0 + i * MIN));
    expect(filled.map((p) => p.spans)).toEqual([5, 5, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7, 7]);
  });

  it("leaves a ratio's empty buckets as gaps, and keeps a null value null", () => {
    const filled = fillTimeBuckets([{ time: at(0), rate: 0.5 }, { time: at(2), rate: null }, { time: at(3), rate: 0 }], ["rate"], { fromMs: T0, toMs: T0 + 4 * MIN, stepMs: MIN }, "gap");
    expect(filled.map((p) => p.rate)).toEqual([0.5, null, null, 0]);
  });

  it("starts at the bucket holding `from`, ends before `to`, and drops points outside", () => {
    const filled = fillTimeBuckets(
      [{ time: at(-10), n: 1 }, { time: at(0), n: 2 }, { time: at(7 * 3 + 1), n: 3 }, { time: at(7 * 4), n: 4 }],
      ["n"],
      { fromMs: T0 + 2 * MIN, toMs: T0 + 28 * MIN, stepMs: 7 * MIN },
      "zero",
    );
    // 10:00 is a multiple of 7 minutes since the epoch only by chance; buckets start at such multiples.
    const step = 7 * MIN;
    expect(filled[0]!.t).toBe(Math.floor((T0 + 2 * MIN) / step) * step);
    expect(filled.at(-1)!.t).toBeLessThan(T0 + 28 * MIN);
    expect(filled.reduce((n, p) => n + (p.n ?? 0), 0)).toBe(filled[0]!.t <= T0 ? 2 + 3 : 3);
  });

  it("fills whole UTC days for a daily report, zero where nothing was used", () => {
    const day = 86_400_000;
    const from = Date.parse("2025-03-01T00:00:00.000Z");
    const filled = fillTimeBuckets([{ time: "2025-03-03T00:00:00.000Z", costUsd: 1.5 }, { time: "2025-03-07T00:00:00.000Z", costUsd: 2 }], ["costUsd"], { fromMs: from, toMs: from + 7 * day, stepMs: day }, "zero");
    expect(filled.map((p) => new Date(p.t).toISOString().slice(0, 10))).toEqual(["2025-03-01", "2025-03-02", "2025-03-03", "2025-03-04", "2025-03-05", "2025-03-06", "2025-03-07"]);
    expect(filled.map((p) => p.costUsd)).toEqual([0, 0, 1.5, 0, 0, 0, 2]);
  });

  it("adds points that share a bucket and widens a step that would need too many buckets", () => {
    const filled = fillTimeBuckets([{ time: at(0), n: 1 }, { time: at(0.5), n: 2 }], ["n"], { fromMs: T0, toMs: T0 + MIN, stepMs: MIN }, "zero");
    expect(filled).toEqual([{ t: T0, n: 3 }]);
    const range = { fromMs: T0, toMs: T0 + 30 * 86_400_000, stepMs: 1000 };
    const step = bucketStepMs(range);
    expect(step % 1000).toBe(0);
    expect(fillTimeBuckets([], ["n"], range, "zero").length).toBeLessThanOrEqual(MAX_BUCKETS);
  });

  it("finds the values a line cannot show: those between two gaps", () => {
    const filled = fillTimeBuckets([{ time: at(0), rate: 0 }, { time: at(2), rate: 0.5 }, { time: at(3), rate: 0.25 }, { time: at(5), rate: 1 }], ["rate"], { fromMs: T0, toMs: T0 + 6 * MIN, stepMs: MIN }, "gap");
    expect([...isolatedPoints(filled, "rate")]).toEqual([0, 5]);
  });

  it("takes columns: one shared time array, a missing or non-numeric value as null, floats to 9 significant digits", () => {
    const t = [T0, T0 + MIN, T0 + 2 * MIN];
    const filled = fillColumns({ t, values: { a: [1, null, 2], b: [0.5] } }, ["a", "b"], { fromMs: T0, toMs: T0 + 3 * MIN, stepMs: MIN }, "gap");
    expect(filled).toEqual([{ t: T0, a: 1, b: 0.5 }, { t: T0 + MIN, a: null, b: null }, { t: T0 + 2 * MIN, a: 2, b: null }]);
    expect(timedColumns([{ time: at(0), rate: 1 / 3, n: 7, bad: "x" }], ["rate", "n", "bad"])).toEqual({ t: [T0], values: { rate: [0.333333333], n: [7], bad: [null] } });
    expect([chartValue(799.8199199999996), chartValue(123456789.123), chartValue(0.000123456789012), chartValue(Number.NaN), chartValue(null)]).toEqual([799.81992, 123456789, 0.000123456789, null, null]);
  });
});
