import { describe, expect, it } from "vitest";
import { TokenBucket, perMinute, perSecond } from "./token-bucket.js";

describe("TokenBucket", () => {
  it("grants a burst of its capacity, then makes callers wait in proportion to the deficit", () => {
    let now = 0;
    const bucket = new TokenBucket(perMinute(60), 60, () => now); // 1 token/s
    for (let i = 0; i < 60; i++) expect(bucket.tryReserve(1, 0)).toBe(0);
    expect(bucket.tryReserve(1, 0)).toBeUndefined();
    expect(bucket.tryReserve(1, 1_000)).toBeCloseTo(1_000);
    expect(bucket.tryReserve(1, 1_500)).toBeUndefined(); // second waiter would need 2 s
    now = 3_000;
    expect(bucket.available).toBeCloseTo(2);
  });

  it("refunds and charges adjust the balance, never above capacity", () => {
    let now = 0;
    const bucket = new TokenBucket(perMinute(600), 100, () => now);
    bucket.tryReserve(100, 0);
    bucket.refund(500);
    expect(bucket.available).toBe(100);
    bucket.charge(150);
    expect(bucket.available).toBe(-50);
    now = 10_000; // 10 tokens/s * 10 s
    expect(bucket.available).toBe(50);
  });

  it("takes single tokens at a per-second rate and names the whole milliseconds until the next one", () => {
    let now = 0;
    const bucket = new TokenBucket(perSecond(10), 3, () => now);
    expect([bucket.tryTake(), bucket.tryTake(), bucket.tryTake(), bucket.tryTake()]).toEqual([true, true, true, false]);
    expect(bucket.msUntilNextToken()).toBe(100);
    now = 40;
    expect(bucket.tryTake()).toBe(false);
    expect(bucket.msUntilNextToken()).toBe(60);
    // A caller that has just read the clock passes its reading.
    expect(bucket.tryTake(100)).toBe(true);
    expect(bucket.tryTake(100)).toBe(false);
  });

  it("keeps the tokens earned when reconfigured, clamped to the new capacity", () => {
    let now = 0;
    const bucket = new TokenBucket(perSecond(1), 5, () => now);
    for (let i = 0; i < 5; i++) bucket.tryTake();
    now = 2_000; // 2 tokens earned at the old rate
    bucket.reconfigure(perSecond(100), 1);
    expect(bucket.available).toBe(1);
    bucket.reconfigure(perSecond(100), 50);
    now = 2_100; // 10 more at the new rate
    expect(bucket.available).toBeCloseTo(11);
  });

  it("defaults its capacity to one period of the rate", () => {
    const bucket = new TokenBucket(perMinute(30), undefined, () => 0);
    expect(bucket.available).toBe(30);
  });

  it("rejects a non-positive rate or capacity", () => {
    expect(() => new TokenBucket(perMinute(0))).toThrow(RangeError);
    expect(() => new TokenBucket(perSecond(1), 0)).toThrow(RangeError);
    expect(() => new TokenBucket(perSecond(1)).reconfigure(perSecond(-1))).toThrow(RangeError);
  });
});
