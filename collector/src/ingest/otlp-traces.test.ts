import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { durationNs } from "./otlp-traces.js";

describe("durationNs", () => {
  it("equals end - start (0 when negative) for any 64-bit timestamps", () => {
    const ts = fc.oneof(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.bigInt({ min: 1_600_000_000_000_000_000n, max: 1_900_000_000_000_000_000n }));
    fc.assert(
      fc.property(ts, fc.oneof(ts, fc.bigInt({ min: 0n, max: 10n ** 12n })), (start, later) => {
        const end = later < 10n ** 12n ? start + later : later;
        const expected = end > start ? Number(end - start) : 0;
        expect(durationNs(start.toString(), end.toString())).toBe(expected);
      }),
      { numRuns: 3000 },
    );
  });
});
