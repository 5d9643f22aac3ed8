import { describe, expect, it } from "vitest";
import { chartNote } from "./chart-note";

describe("chartNote", () => {
  it("says the bucket, how empty buckets are drawn and whether series are stacked", () => {
    expect(chartNote({ stepMs: 7 * 60_000, empty: "zero", stacked: false, seriesCount: 2, kind: "area" })).toBe(
      "One point per 7 min (UTC) · empty buckets drawn as 0 · not stacked: each series from 0",
    );
    expect(chartNote({ stepMs: 86_400_000, empty: "zero", stacked: true, seriesCount: 2, kind: "bar" })).toBe(
      "One bar per day (UTC) · empty buckets drawn as 0 · stacked: the top edge is the total",
    );
    expect(chartNote({ stepMs: 60_000, empty: "gap", stacked: false, seriesCount: 1, kind: "area" })).toBe(
      "One point per minute (UTC) · no line where there is nothing to measure",
    );
  });
});
