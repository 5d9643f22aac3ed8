import { describe, expect, it } from "vitest";
import { TokenBucket } from "./token-bucket.js";

describe("TokenBucket", () => {
  it("grants a burst of its capacity, then makes callers wait in proportion to the deficit", () => {
    let now = 0;
    const bucket = new TokenBucket(60, 60, () => now); // 1 token/s
    for (let i = 0; i < 60; i++) expect(bucket.tryReserve(1, 0)).toBe(0);
    expect(bucket.tryReserve(1, 0)).toBeUndefined();
    expect(bucket.tryReserve(1, 1_000)).toBeCloseTo(1_000);
    expect(bucket.tryReserve(1, 1_500)).toBeUndefined(); // second waiter would need 2 s
    now = 3_000;
    expect(bucket.available).toBeCloseTo(2);
  });

  it("refunds and charges adjust the balance, never above capacity", () => {
    let now = 0;
    const bucket = new TokenBucket(600, 100, () => now);
    bucket.tryReserve(100, 0);
    bucket.refund(500);
    expect(bucket.available).toBe(100);
    bucket.charge(150);
    expect(bucket.available).toBe(-50);
    now = 10_000; // 10 tokens/s * 10 s
    expect(bucket.available).toBe(50);
  });

  it("rejects a non-positive rate", () => {
    expect(() => new TokenBucket(0)).toThrow(RangeError);
  });
});
