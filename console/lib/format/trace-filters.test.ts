import { describe, expect, it } from "vitest";
import { isFiltered, parseTraceFilters, traceListQuery } from "./trace-filters";

describe("trace list filters in the URL", () => {
  it("reads model, attribute and a duration window, and writes them back", () => {
    const { filters, problems } = parseTraceFilters({ model: " gpt-4o ", attr: "troupe.turn.outcome=timeout", minDurationMs: "10", maxDurationMs: "2500" });
    expect(problems).toEqual([]);
    expect(filters).toEqual({ model: "gpt-4o", attr: "troupe.turn.outcome=timeout", minDurationMs: 10, maxDurationMs: 2500 });
    expect(isFiltered(filters)).toBe(true);
    expect(isFiltered({ cursor: "abc" })).toBe(false);
    expect(parseTraceFilters(Object.fromEntries(new URLSearchParams(traceListQuery({ ...filters, range: "6h" }).slice(1)))).filters).toEqual(filters);
  });

  it("names what it drops: a malformed attribute filter, a maximum below the minimum", () => {
    const { filters, problems } = parseTraceFilters({ attr: "no-equals-sign", minDurationMs: "500", maxDurationMs: "100" });
    expect(filters).toEqual({ minDurationMs: 500 });
    expect(problems).toEqual(["attribute filter must be key=value, e.g. gen_ai.request.model=gpt-4o", "maximum duration cannot be below the minimum"]);
  });
});
