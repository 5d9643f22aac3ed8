import { describe, expect, it } from "vitest";
import { DEFAULT_RETRY_POLICY, backoffDelayMs, isRetryableStatus, retryAfterMs } from "./retry-policy.js";

describe("retry policy", () => {
  it("retries 408, 409, 429 and 5xx only", () => {
    expect([408, 409, 429, 500, 503, 599].every(isRetryableStatus)).toBe(true);
    expect([200, 400, 401, 403, 404, 422, undefined].some(isRetryableStatus)).toBe(false);
  });

  it("reads retry-after-ms, retry-after seconds and HTTP dates", () => {
    expect(retryAfterMs(new Headers({ "retry-after-ms": "250" }))).toBe(250);
    expect(retryAfterMs(new Headers({ "retry-after": "2" }))).toBe(2_000);
    const now = Date.parse("2025-01-01T00:00:00Z");
    expect(retryAfterMs(new Headers({ "retry-after": "Wed, 01 Jan 2025 00:00:05 GMT" }), now)).toBe(5_000);
    expect(retryAfterMs(new Headers({ "retry-after": "soon" }))).toBeUndefined();
    expect(retryAfterMs(undefined)).toBeUndefined();
  });

  it("backs off exponentially with jitter, capped", () => {
    const p = { ...DEFAULT_RETRY_POLICY, baseDelayMs: 100, maxDelayMs: 1_000 };
    expect(backoffDelayMs(p, 1, () => 0)).toBe(50);
    expect(backoffDelayMs(p, 1, () => 1)).toBe(100);
    expect(backoffDelayMs(p, 3, () => 1)).toBe(400);
    expect(backoffDelayMs(p, 10, () => 1)).toBe(1_000);
    expect(backoffDelayMs(p, 10, () => 0)).toBe(500);
  });
});
