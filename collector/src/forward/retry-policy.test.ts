import { describe, expect, it } from "vitest";
import { backoffDelayMs, isRetryableStatus, retryAfterMs } from "./retry-policy.js";

describe("retry policy (OTLP/HTTP)", () => {
  it("retries 429, 502, 503 and 504 only", () => {
    const retryable = [200, 400, 401, 403, 404, 408, 413, 429, 500, 501, 502, 503, 504, 505].filter(isRetryableStatus);
    expect(retryable).toEqual([429, 502, 503, 504]);
  });

  it("reads Retry-After as seconds or as an HTTP date; a past date means now; anything else is no answer", () => {
    const now = Date.parse("Wed, 21 Oct 2026 07:28:00 GMT");
    expect(retryAfterMs("120", now)).toBe(120_000);
    expect(retryAfterMs(" 0 ", now)).toBe(0);
    expect(retryAfterMs("Wed, 21 Oct 2026 07:28:30 GMT", now)).toBe(30_000);
    expect(retryAfterMs("Wed, 21 Oct 2026 07:00:00 GMT", now)).toBe(0);
    for (const bad of [null, undefined, "", "-5", "1.5", "soon", "12 s"]) expect(retryAfterMs(bad, now)).toBeUndefined();
  });

  it("backs off exponentially up to the cap, each wait drawn from [half, all] of its ceiling", () => {
    expect([1, 2, 3, 4, 5, 6].map((a) => backoffDelayMs(a, 100, 1000, () => 1))).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect([1, 2, 3, 4, 5, 6].map((a) => backoffDelayMs(a, 100, 1000, () => 0))).toEqual([50, 100, 200, 400, 500, 500]);
  });
});
