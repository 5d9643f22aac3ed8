import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { uint64Decimal } from "./protobuf-wire-reader.js";

describe("uint64Decimal", () => {
  it("prints every unsigned 64-bit value exactly", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), (v) => {
        expect(uint64Decimal(Number(v & 0xffffffffn), Number(v >> 32n))).toBe(v.toString());
      }),
      { numRuns: 2000 },
    );
    expect(uint64Decimal(0xffffffff, 0xffffffff)).toBe("18446744073709551615");
    expect(uint64Decimal(0, 0x200000)).toBe((2n ** 53n).toString());
  });
});
