import { describe, expect, it } from "vitest";
import type { TraceSpan } from "../api/types";
import { formatMs, formatPct, formatUsd } from "./format";
import { formatSamplingRatio, samplingLabel } from "./sampling";
import { parseDay, resolveRange } from "./time-range";
import { parseTraceFilters, traceListQuery } from "./trace-filters";
import { parseUsageQuery } from "./usage-query";
import { layoutWaterfall } from "./waterfall";
import { parseCreateTenantForm, parseUpdateTenantForm } from "./tenant-forms";

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
  });

  it("places spans by exact nanosecond offsets and clamps to the track", () => {
    const base = 1_700_000_000_000_000_123n;
    const rows = layoutWaterfall([span("root", base, 100), span("child", base + 25_000_000n, 50), span("late", base + 90_000_000n, 40)], 100);
    expect(rows.map((r) => [r.offsetPct, r.widthPct])).toEqual([[0, 100], [25, 50], [90, 10]]);
  });
});

describe("tenant forms", () => {
  const form = (fields: Record<string, string>) => {
    const f = new FormData();
    for (const [k, v] of Object.entries(fields)) f.set(k, v);
    return f;
  };

  it("builds a create request with empty budgets as unlimited", () => {
    const r = parseCreateTenantForm(form({ id: "acme", name: "", tier: "worker", retentionDays: "14", dailyTokens: "1000", monthlyTokens: "", dailyCostUsd: "2.5", monthlyCostUsd: "" }));
    expect(r).toEqual({ request: { id: "acme", name: "acme", tier: "worker", retentionDays: 14, budgets: { dailyTokens: 1000, monthlyTokens: null, dailyCostUsd: 2.5, monthlyCostUsd: null }, keys: ["ingest", "console"] } });
  });

  it("names each bad field", () => {
    const r = parseUpdateTenantForm(form({ name: "", tier: "gold", retentionDays: "0", dailyTokens: "-1", monthlyTokens: "", dailyCostUsd: "", monthlyCostUsd: "" }));
    expect("fieldErrors" in r && r.fieldErrors).toEqual({
      name: "Name is required",
      tier: "Tier must be shared, worker or process",
      retentionDays: "Retention is at least 1 day",
      dailyTokens: "Daily tokens must be a positive number, or empty for no limit",
    });
    const bad = parseCreateTenantForm(form({ id: "Bad Id", name: "", tier: "shared", retentionDays: "30", dailyTokens: "", monthlyTokens: "", dailyCostUsd: "", monthlyCostUsd: "" }));
    expect("fieldErrors" in bad && bad.fieldErrors.id).toMatch(/Tenant id/);
  });
});
