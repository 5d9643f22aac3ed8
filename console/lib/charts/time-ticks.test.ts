import { describe, expect, it } from "vitest";
import { bucketName, bucketStartLabel, timeTickLabel, timeTicks } from "./time-ticks";

const DAY = 86_400_000;

describe("timeTicks", () => {
  it("puts 7 daily ticks on UTC midnights across a 7-day range", () => {
    const to = Date.parse("2025-03-08T09:41:00.000Z");
    const { ticks, stepMs } = timeTicks(to - 7 * DAY, to);
    expect(stepMs).toBe(DAY);
    expect(ticks.map((t) => new Date(t).toISOString().slice(0, 10))).toEqual(["2025-03-02", "2025-03-03", "2025-03-04", "2025-03-05", "2025-03-06", "2025-03-07", "2025-03-08"]);
    expect(ticks.map((t) => timeTickLabel(t, stepMs))).toEqual(["03-02", "03-03", "03-04", "03-05", "03-06", "03-07", "03-08"]);
  });

  it("puts ticks on round minutes within an hour, labelled by clock", () => {
    const to = Date.parse("2025-03-08T09:41:00.000Z");
    const { ticks, stepMs } = timeTicks(to - 3_600_000, to);
    expect(stepMs).toBe(10 * 60_000);
    expect(ticks.map((t) => timeTickLabel(t, stepMs))).toEqual(["08:50", "09:00", "09:10", "09:20", "09:30", "09:40"]);
  });

  it("labels a midnight tick with its day inside a 24-hour range", () => {
    const to = Date.parse("2025-03-08T09:00:00.000Z");
    const { ticks, stepMs } = timeTicks(to - DAY, to);
    expect(stepMs).toBe(6 * 3_600_000);
    const labels = ticks.map((t) => timeTickLabel(t, stepMs));
    expect(labels).toContain("12:00");
    expect(labels).toContain("03-08");
    expect(ticks.length).toBeLessThanOrEqual(8);
  });

  it("never gives more than maxTicks, all inside the range", () => {
    for (const span of [15 * 60_000, 3_600_000, 6 * 3_600_000, DAY, 7 * DAY, 30 * DAY, 400 * DAY]) {
      const to = Date.parse("2025-03-08T09:41:00.000Z");
      const { ticks } = timeTicks(to - span, to);
      expect(ticks.length).toBeGreaterThan(0);
      expect(ticks.length).toBeLessThanOrEqual(8);
      expect(ticks[0]).toBeGreaterThanOrEqual(to - span);
      expect(ticks.at(-1)).toBeLessThanOrEqual(to);
    }
  });
});

describe("bucket names", () => {
  it("names the bucket width as a title reads it", () => {
    expect(bucketName(60_000)).toBe("minute");
    expect(bucketName(7 * 60_000)).toBe("7 min");
    expect(bucketName(3_600_000)).toBe("hour");
    expect(bucketName(3 * 3_600_000)).toBe("3 h");
    expect(bucketName(DAY)).toBe("day");
    expect(bucketName(2 * DAY)).toBe("2 days");
    expect(bucketName(30_000)).toBe("30 s");
  });

  it("gives a bucket's start in UTC, or its day for day buckets", () => {
    const t = Date.parse("2025-03-08T09:41:00.000Z");
    expect(bucketStartLabel(t, 60_000)).toBe("2025-03-08 09:41 UTC");
    expect(bucketStartLabel(Date.parse("2025-03-08T00:00:00.000Z"), DAY)).toBe("2025-03-08");
  });
});
