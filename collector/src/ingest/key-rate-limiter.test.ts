import { describe, expect, it } from "vitest";
import { KeyRateLimiter } from "./key-rate-limiter.js";

describe("KeyRateLimiter", () => {
  it("allows a burst, then the sustained rate, per key", () => {
    let now = 0;
    const limiter = new KeyRateLimiter({ spansPerSecond: 100, burstSpans: 200 }, { now: () => now });
    expect(limiter.take("a", 200)).toEqual({ ok: true });
    expect(limiter.take("a", 50)).toEqual({ ok: false, retryAfterS: 1 });
    expect(limiter.take("b", 200)).toEqual({ ok: true }); // another key is unaffected
    now = 500;
    expect(limiter.take("a", 50)).toEqual({ ok: true });
    expect(limiter.take("a", 1)).toMatchObject({ ok: false });
    now = 10_000;
    expect(limiter.take("a", 200)).toEqual({ ok: true }); // never more than the burst
    expect(limiter.take("a", 1)).toMatchObject({ ok: false });
  });

  it("keeps at most maxKeys buckets", () => {
    const limiter = new KeyRateLimiter({ spansPerSecond: 1, burstSpans: 1 }, { now: () => 0, maxKeys: 2 });
    expect(limiter.take("a", 1).ok).toBe(true);
    expect(limiter.take("b", 1).ok).toBe(true);
    expect(limiter.take("c", 1).ok).toBe(true); // evicts a
    expect(limiter.take("b", 1).ok).toBe(false);
    expect(limiter.take("a", 1).ok).toBe(true); // forgotten, forgiven
  });
});
