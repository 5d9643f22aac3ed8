import { describe, expect, it } from "vitest";
import { valueAxis } from "./value-axis";

describe("valueAxis", () => {
  it("runs a ratio's axis to 100% when nothing failed, never to 400%", () => {
    expect(valueAxis([0, 0, null, 0], "pct")).toEqual({ max: 1, ticks: [0, 0.5, 1] });
    expect(valueAxis([], "pct").max).toBe(1);
  });

  it("scales a ratio's axis to the data and never above 100%", () => {
    expect(valueAxis([0.01, 0.28, null], "pct")).toEqual({ max: 0.3, ticks: [0, 0.1, 0.2, 0.3] });
    expect(valueAxis([0.04], "pct")).toEqual({ max: 0.04, ticks: [0, 0.01, 0.02, 0.03, 0.04] });
    expect(valueAxis([0.97], "pct").max).toBe(1);
    expect(valueAxis([1], "pct").max).toBe(1);
    expect(valueAxis([3.5], "pct").max).toBe(1);
  });

  it("gives counts whole, round steps just above the largest value", () => {
    expect(valueAxis([0, 0], "count")).toEqual({ max: 1, ticks: [0, 1] });
    expect(valueAxis([3, 4], "count")).toEqual({ max: 4, ticks: [0, 1, 2, 3, 4] });
    expect(valueAxis([2], "count")).toEqual({ max: 2, ticks: [0, 1, 2] });
    expect(valueAxis([20_000], "count")).toEqual({ max: 20_000, ticks: [0, 5000, 10_000, 15_000, 20_000] });
    expect(valueAxis([21_000], "count")).toEqual({ max: 30_000, ticks: [0, 10_000, 20_000, 30_000] });
  });

  it("keeps small money amounts readable and ignores gaps and non-finite values", () => {
    expect(valueAxis([0.0031, null, Number.NaN], "usd")).toEqual({ max: 0.004, ticks: [0, 0.001, 0.002, 0.003, 0.004] });
    for (const values of [[7], [0.7], [123_456], [0.000_09]]) {
      const axis = valueAxis(values, "usd");
      expect(axis.max).toBeGreaterThanOrEqual(values[0]!);
      expect(axis.max).toBeLessThanOrEqual(values[0]! * 2.5);
      expect(axis.ticks.length).toBeLessThanOrEqual(5);
      expect(axis.ticks.at(-1)).toBe(axis.max);
    }
  });
});
