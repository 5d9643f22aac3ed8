// The soak in its CI form: ~40 s of mixed load through runtime → real OTLP exporter → collector →
// chDB. No span may be lost and the heap (after GC) must not trend upwards (generous bound).
import { describe, expect, it } from "vitest";
import { runSoak } from "./soak-run.js";

describe("soak (short form)", () => {
  it("every exported span is stored and the heap stays flat", async () => {
    const summary = await runSoak({ durationMs: 40_000, operationsPerSecond: 100, sampleEveryMs: 2_000, log: () => undefined });
    console.log(`soak-short: ${JSON.stringify(summary)}`);
    expect(summary.operations_started).toBeGreaterThan(3_000);
    expect(summary.operations_failed).toBe(0);
    expect(summary.spans_exported).toBeGreaterThan(10_000);
    expect(summary.spans_export_failed).toBe(0);
    expect(summary.spans_stored).toBe(summary.spans_exported);
    expect(summary.spans_lost).toBe(0);
    expect(summary.samples).toBeGreaterThanOrEqual(15);
    // Flat within noise: a leak of even 1 KB per operation would show as ~6 MB/min here.
    expect(summary.heap_slope_second_half_mb_per_min).toBeLessThan(15);
    expect(summary.heap_max_mb).toBeLessThan(summary.heap_start_mb + 150);
  }, 120_000);
});
