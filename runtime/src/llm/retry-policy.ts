/** How provider failures are retried. Every retry is bounded: by count and by each delay. */
export interface RetryPolicy {
  /** Retries after the first attempt (0 = never retry). */
  readonly maxRetries: number;
  /** First backoff delay; doubled on each retry. */
  readonly baseDelayMs: number;
  /** Cap on a computed backoff delay. */
  readonly maxDelayMs: number;
  /**
   * The longest Retry-After the client will honour. A provider asking for a longer pause ends the
   * retries at once (the call fails) instead of holding the caller that long.
   */
  readonly maxRetryAfterMs: number;
}

/** Defaults: 3 retries, 250 ms doubling to at most 8 s, Retry-After honoured up to 30 s. */
export const DEFAULT_RETRY_POLICY: RetryPolicy = Object.freeze({ maxRetries: 3, baseDelayMs: 250, maxDelayMs: 8_000, maxRetryAfterMs: 30_000 });

/** True for HTTP statuses worth retrying: 408, 409 (lock timeout), 429 and every 5xx. */
export function isRetryableStatus(status: number | undefined): boolean {
  return status === 408 || status === 409 || status === 429 || (status !== undefined && status >= 500 && status <= 599);
}

/**
 * The delay the provider asked for, from `retry-after-ms` (milliseconds, OpenAI's extension) or
 * `retry-after` (seconds or an HTTP date); undefined when absent or unparseable.
 */
export function retryAfterMs(headers: Headers | undefined, nowMs: number = Date.now()): number | undefined {
  if (!headers) return undefined;
  const ms = headers.get("retry-after-ms");
  if (ms !== null) {
    const value = Number.parseFloat(ms);
    if (Number.isFinite(value) && value >= 0) return value;
  }
  const after = headers.get("retry-after");
  if (after === null) return undefined;
  const seconds = Number.parseFloat(after);
  if (Number.isFinite(seconds) && /^\s*\d+(\.\d+)?\s*$/.test(after)) return Math.max(0, seconds * 1000);
  const date = Date.parse(after);
  return Number.isNaN(date) ? undefined : Math.max(0, date - nowMs);
}

/**
 * The wait before retry number `retry` (1-based): exponential backoff with "equal jitter" (half fixed,
 * half random), so retries of many tenants spread out yet never fire immediately.
 */
export function backoffDelayMs(policy: RetryPolicy, retry: number, random: () => number = Math.random): number {
  const exp = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, retry - 1));
  return exp / 2 + random() * (exp / 2);
}
