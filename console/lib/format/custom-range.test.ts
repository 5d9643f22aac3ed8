import { describe, expect, it } from "vitest";
import { customRangeKey, customRangeProblem, formatUtcDateTime, parseCustomRange, parseUtcDateTime } from "./custom-range";
import { resolveRange } from "./time-range";

describe("custom time ranges", () => {
  it("reads ISO-8601 UTC date-times as typed, and nothing US-formatted or impossible", () => {
    expect(parseUtcDateTime("2026-03-01 14:30")).toBe(Date.UTC(2026, 2, 1, 14, 30));
    expect(parseUtcDateTime("2026-03-01T14:30:05Z")).toBe(Date.UTC(2026, 2, 1, 14, 30, 5));
    expect(parseUtcDateTime(" 2026-03-01 14:30 UTC ")).toBe(Date.UTC(2026, 2, 1, 14, 30));
    for (const bad of ["03/01/2026 2:30 PM", "2026-02-30 10:00", "2026-03-01 24:00", "2026-03-01", "1999-12-31 23:59", "2026-03-01 14:30+02:00", "", "now"]) {
      expect(parseUtcDateTime(bad), bad).toBeNull();
    }
    expect(formatUtcDateTime(Date.UTC(2026, 2, 1, 14, 30))).toBe("2026-03-01 14:30");
    expect(formatUtcDateTime(Date.UTC(2026, 2, 1, 14, 30, 5))).toBe("2026-03-01 14:30:05");
  });

  it("must run forwards and span at most 90 days", () => {
    const t = Date.UTC(2026, 2, 1);
    expect(customRangeProblem(t, t + 1)).toBe("");
    expect(customRangeProblem(t, t)).toMatch(/before the end/);
    expect(customRangeProblem(t + 1, t)).toMatch(/before the end/);
    expect(customRangeProblem(t, t + 91 * 86_400_000)).toMatch(/at most 90 days/);
  });

  it("lives in the range parameter as an ISO interval that every page's resolveRange reads back exactly", () => {
    const from = Date.UTC(2026, 2, 1, 14, 30);
    const to = Date.UTC(2026, 2, 1, 16, 0);
    const key = customRangeKey(from, to);
    expect(key).toBe("2026-03-01T14:30Z/2026-03-01T16:00Z");
    const r = resolveRange(key, "1h", Date.UTC(2030, 0, 1));
    expect(r).toEqual({ key, label: "2026-03-01 14:30 – 16:00 UTC", from: "2026-03-01T14:30:00.000Z", to: "2026-03-01T16:00:00.000Z" });
    expect(parseCustomRange(customRangeKey(from, to + 86_400_000))?.label).toBe("2026-03-01 14:30 – 2026-03-02 16:00 UTC");
    // A reversed, too long or malformed interval is not a custom range: the page falls back to its preset.
    for (const bad of [customRangeKey(to, from), customRangeKey(from, from + 100 * 86_400_000), "2026-03-01T14:30Z", "a/b", `${key}/x`]) {
      expect(parseCustomRange(bad), bad).toBeNull();
      expect(resolveRange(bad, "6h").key).toBe("6h");
    }
  });
});
