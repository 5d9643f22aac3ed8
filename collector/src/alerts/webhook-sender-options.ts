/** How the webhook sender queues, retries and times out. */
export interface WebhookSenderOptions {
  /** Alerts held for delivery at once (queued, in flight or between retries); past it an alert is dropped, counted and marked failed. */
  maxQueueSize: number;
  /** Attempts per alert, the first included; after the last failure the alert is marked failed. */
  maxAttempts: number;
  /** Wait after the first failed attempt; doubles after each one (with ±20% jitter). */
  baseDelayMs: number;
  /** Longest wait between attempts, Retry-After included. */
  maxDelayMs: number;
  /** Each attempt's deadline, from connecting to the answer's status. */
  timeoutMs: number;
  /** Attempts in flight at once, over every tenant. */
  concurrency: number;
  /** Pending alerts raised this recently are resumed at start. */
  resumeWindowMs: number;
}

/**
 * Defaults: 1 s, 2 s, 4 s ... capped at 5 minutes, 8 attempts (about 2 minutes of retries in all,
 * longer when the receiver asks with Retry-After), 10 s per attempt, 1,000 alerts held, 4 in flight,
 * pending alerts of the last 24 h resumed at start.
 */
export const DEFAULT_WEBHOOK_SENDER_OPTIONS: WebhookSenderOptions = {
  maxQueueSize: 1_000,
  maxAttempts: 8,
  baseDelayMs: 1_000,
  maxDelayMs: 300_000,
  timeoutMs: 10_000,
  concurrency: 4,
  resumeWindowMs: 86_400_000,
};
