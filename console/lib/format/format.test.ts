import { describe, expect, it } from "vitest";
import type { TraceSpan } from "../api/types";
import { formatCount, formatDateTime, formatDay, formatMs, formatPct, formatRelative, formatUsd } from "./format";
import { formatSamplingRatio, samplingLabel } from "./sampling";
import { parseDay, resolveRange } from "./time-range";
import { parseTraceFilters, traceListQuery } from "./trace-filters";
import { parseUsageQuery } from "./usage-query";
import { layoutWaterfall } from "./waterfall";

describe("formatting", () => {
  it("formats durations, money and ratios readably", () => {
    expect(formatMs(0.5)).toBe("500 µs");
    expect(formatMs(12.345)).toBe("12.3 ms");
    expect(formatMs(3200)).toBe("3.20 s");
    expect(formatMs(245_000)).toBe("4m 05s");
    expect(formatUsd(0.0042)).toBe("$0.0042");
    expect(formatUsd(1234.5)).toBe("$1,234.50");
    expect(formatUsd(0.0126)).toBe("$0.0126");
    expect(formatPct(0.125)).toBe("13%");
    expect(formatPct(0.05)).toBe("5.0%");
  });

  it("formats every cost one way: cents from $1 up, up to four decimals below, never a non-zero cost as zero", () => {
    expect(formatUsd(0)).toBe("$0.00");
    expect(formatUsd(0.5)).toBe("$0.50");
    expect(formatUsd(0.1)).toBe("$0.10");
    expect(formatUsd(0.123456)).toBe("$0.1235");
    expect(formatUsd(0.00004)).toBe("<$0.0001");
    expect(formatUsd(1)).toBe("$1.00");
    expect(formatUsd(12.345)).toBe("$12.35");
    expect(formatUsd(1_234_567.891)).toBe("$1,234,567.89");
    expect(formatUsd(Number.NaN)).toBe("–");
  });

  it("writes dates as ISO 8601 (UTC), never month-first", () => {
    expect(formatDay("2025-01-02T23:59:00.000Z")).toBe("2025-01-02");
    expect(formatDateTime("2025-01-02T03:04:05.678Z")).toBe("2025-01-02 03:04:05 UTC");
  });

  it("puts a count's noun in the singular only for one", () => {
    expect(formatCount(1, "row")).toBe("1 row");
    expect(formatCount(0, "row")).toBe("0 rows");
    expect(formatCount(1204, "error")).toBe("1,204 errors");
    expect(formatCount(1, "key", "keys")).toBe("1 key");
    expect(formatCount(3, "entry", "entries")).toBe("3 entries");
  });

  it("says how long ago a time was", () => {
    const now = Date.parse("2025-01-02T03:04:05.000Z");
    expect(formatRelative("2025-01-02T03:04:03.000Z", now)).toBe("just now");
    expect(formatRelative("2025-01-02T03:03:23.000Z", now)).toBe("42 s ago");
    expect(formatRelative("2025-01-02T02:59:00.000Z", now)).toBe("5 min ago");
    expect(formatRelative("2025-01-01T23:04:05.000Z", now)).toBe("4 h ago");
    expect(formatRelative("2024-12-30T03:04:05.000Z", now)).toBe("3 d ago");
  });
});

describe("sampling labels", () => {
  it("labels counts as sampled only when a ratio below 1 was in force, naming every ratio", () => {
    expect(formatSamplingRatio(0.01)).toBe("1%");
    expect(formatSamplingRatio(0.125)).toBe("12.5%");
    expect(formatSamplingRatio(0.3333)).toBe("33.3%");
    expect(samplingLabel({ ratios: [1], sampled: false })).toBeNull();
    expect(samplingLabel(undefined)).toBeNull();
    expect(samplingLabel({ ratios: [0.01], sampled: true })).toBe("sampled at 1%");
    expect(samplingLabel({ ratios: [0.01, 1], sampled: true })).toBe("sampled at 1% and 100%");
    expect(samplingLabel({ ratios: [0.01, 0.5, 1], sampled: true })).toBe("sampled at 1%, 50% and 100%");
  });
});

describe("time ranges", () => {
  it("resolves a named range ending at the next whole minute, falling back on unknown keys", () => {
    const now = Date.UTC(2025, 0, 2, 3, 4, 30);
    const r = resolveRange("6h", "1h", now);
    expect(r.to).toBe("2025-01-02T03:05:00.000Z");
    expect(r.from).toBe("2025-01-01T21:05:00.000Z");
    expect(resolveRange("bogus", "1h", now).key).toBe("1h");
  });

  it("accepts only real yyyy-mm-dd days", () => {
    expect(parseDay("2025-02-28")).toBe("2025-02-28T00:00:00.000Z");
    expect(parseDay("2025-02-30")).toBeNull();
    expect(parseDay("yesterday")).toBeNull();
  });
});

describe("trace filters", () => {
  it("reads valid filters and names each invalid one", () => {
    const { filters, problems } = parseTraceFilters({ q: " chat ", status: "broken", minDurationMs: "-5", agentType: "" });
    expect(filters).toEqual({ q: "chat" });
    expect(problems).toEqual(['status must be "ok" or "error"', "minimum duration cannot be negative"]);
  });

  it("round-trips through the URL", () => {
    const query = traceListQuery({ q: "chat", status: "error", minDurationMs: 250, range: "6h", tenant: undefined });
    const { filters } = parseTraceFilters(Object.fromEntries(new URLSearchParams(query.slice(1))));
    expect(filters).toEqual({ q: "chat", status: "error", minDurationMs: 250 });
  });
});

describe("usage query", () => {
  it("defaults to the last 7 days by day, with an exclusive end the day after", () => {
    const now = Date.UTC(2025, 5, 10, 12);
    const { query, error } = parseUsageQuery({}, now);
    expect(error).toBeNull();
    expect(query).toMatchObject({ fromDay: "2025-06-04", toDay: "2025-06-10", groupBy: "day", from: "2025-06-04T00:00:00.000Z", to: "2025-06-11T00:00:00.000Z" });
  });

  it("names a bad parameter", () => {
    expect(parseUsageQuery({ groupBy: "week" }).error).toContain('"groupBy"');
    expect(parseUsageQuery({ from: "2025-13-01" }).error).toContain('"from"');
    expect(parseUsageQuery({ from: "2025-06-10", to: "2025-06-01" }).error).toContain("after");
  });
});

describe("waterfall layout", () => {
  const span = (id: string, startNs: bigint, durationMs: number): TraceSpan => ({
    spanId: id, parentSpanId: "", depth: 0, name: id, kind: 1, startTime: "", startTimeUnixNano: startNs.toString(), durationMs,
    statusCode: 0, serviceName: "s", agentType: "", operation: "", model: "", inputTokens: 0, outputTokens: 0, costUsd: 0, outcome: "", attributes: {}, resourceAttributes: {},
    scope: { name: "", version: "" }, traceState: "", flags: 0, events: [], links: [],
  });

  it("places spans by exact nanosecond offsets and clamps to the track", () => {
    const base = 1_700_000_000_000_000_123n;
    const rows = layoutWaterfall([span("root", base, 100), span("child", base + 25_000_000n, 50), span("late", base + 90_000_000n, 40)], 100);
    expect(rows.map((r) => [r.offsetPct, r.widthPct])).toEqual([[0, 100], [25, 50], [90, 10]]);
  });
});
