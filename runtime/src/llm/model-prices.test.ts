import { describe, expect, it } from "vitest";
import { FALLBACK_MODEL_PRICE, ModelPriceTable } from "./model-prices.js";

describe("ModelPriceTable", () => {
  it("prices exact names, dated snapshots by prefix, and unknown models at the fallback", () => {
    const table = new ModelPriceTable();
    expect(table.priceOf("gpt-4o")).toEqual({ inputPerMTokUsd: 2.5, outputPerMTokUsd: 10 });
    expect(table.priceOf("gpt-4o-mini-2024-07-18")).toEqual({ inputPerMTokUsd: 0.15, outputPerMTokUsd: 0.6 });
    expect(table.priceOf("gpt-4o-2024-08-06")).toEqual({ inputPerMTokUsd: 2.5, outputPerMTokUsd: 10 });
    expect(table.priceOf("llama3:8b")).toBe(FALLBACK_MODEL_PRICE);
    expect(table.costUsd("gpt-4.1", 1_000_000, 500_000)).toBeCloseTo(2 + 4);
  });

  it("lets a tenant override prices", () => {
    const table = new ModelPriceTable({ "gpt-4o": { inputPerMTokUsd: 1, outputPerMTokUsd: 2 }, "llama3:8b": { inputPerMTokUsd: 0, outputPerMTokUsd: 0 } });
    expect(table.costUsd("gpt-4o", 1_000_000, 1_000_000)).toBe(3);
    expect(table.costUsd("llama3:8b", 5_000, 5_000)).toBe(0);
  });
});
