import { describe, expect, it } from "vitest";
import { topCategories } from "./top-categories";

describe("topCategories", () => {
  it("keeps the largest categories and sums the rest into one bar, so bars add up to the total", () => {
    const rows = [
      { name: "gpt-4o-mini", value: 1 },
      { name: "gpt-4o", value: 5 },
      { name: "", value: 0.5 },
      { name: "o3", value: 2 },
      { name: "claude", value: 0.25 },
    ];
    const top = topCategories(rows, 3, "(none)");
    expect(top).toEqual([{ name: "gpt-4o", value: 5 }, { name: "o3", value: 2 }, { name: "3 others", value: 1.75 }]);
    expect(top.reduce((n, r) => n + r.value, 0)).toBe(rows.reduce((n, r) => n + r.value, 0));
  });

  it("names an empty category and orders ties by name", () => {
    expect(topCategories([{ name: "b", value: 1 }, { name: "", value: 1 }, { name: "a", value: 1 }], 5, "(no agent)")).toEqual([
      { name: "(no agent)", value: 1 },
      { name: "a", value: 1 },
      { name: "b", value: 1 },
    ]);
  });
});
