/**
 * When an OTLP/HTTP export is sent again, as the OTLP specification says
 * (https://opentelemetry.io/docs/specs/otlp/#otlphttp-response): only 429, 502, 503 and 504 (and
 * network errors, which never reached the server's answer) are retried; every other 4xx or 5xx is
 * final. A retryable answer's Retry-After (seconds or an HTTP date) is honoured; without one the
 * delay grows exponentially, with jitter so that many senders do not retry in step.
 */

const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([429, 502, 503, 504]);

/** Whether an answer with this status may be sent again (429, 502, 503, 504). */
export function isRetryableStatus(status: number): boolean {
  return RETRYABLE_STATUSES.has(status);
}

/**
 * The wait a Retry-After header asks for, in ms from `nowMs`: delay-seconds (`120`) or an HTTP date
 * (`Wed, 21 Oct 2015 07:28:00 GMT`; a date already past means at once). Undefined when absent or unreadable.
 */
export function retryAfterMs(header: string | null | undefined, nowMs: number): number | undefined {
  if (header === null || header === undefined) return undefined;
  const text = header.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  if (!/[a-z]/i.test(text)) return undefined;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

/** Exponential backoff with jitter: `attempt` 1 waits about `initialMs`, doubling up to `maxMs`; the wait is drawn from [half, all] of it. */
export function backoffDelayMs(attempt: number, initialMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, initialMs * 2 ** Math.max(0, attempt - 1));
  return ceiling / 2 + random() * (ceiling / 2);
}
