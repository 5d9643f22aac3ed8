import type { BudgetAlert, WebhookDelivery, WebhookEvent } from "@troupe/contract/query-api";
import { randomBase62 } from "../tenants/api-key.js";
import type { AlertMetrics } from "./alert-metrics.js";
import type { AlertStore } from "./alert-store.js";
import { postWebhook, type WebhookAttemptResult } from "./webhook-post.js";
import { DEFAULT_WEBHOOK_SENDER_OPTIONS, type WebhookSenderOptions } from "./webhook-sender-options.js";
import type { TenantWebhook, WebhookStore } from "./webhook-store.js";

/** What the sender reads and writes. */
export interface WebhookSenderDeps {
  alerts: AlertStore;
  webhooks: WebhookStore;
  metrics: AlertMetrics;
  now?: () => number;
  /** For jitter; default Math.random. */
  random?: () => number;
  /** Told about store failures of the delivery bookkeeping (never carrying a secret). */
  onError?: (err: unknown) => void;
}

interface Job {
  alert: BudgetAlert;
  /** The number of the attempt to make (1 for the first). */
  attempt: number;
}

/**
 * Delivers alerts to their tenant's webhook. Guarantees: every attempt is signed with the tenant's
 * current secret, sent to its current URL and logged in webhook_deliveries; a 2xx answer marks the
 * alert delivered, the last failed attempt (or the webhook's removal) marks it failed; between
 * attempts it waits with exponential backoff and jitter, or as long as a 429/503 Retry-After asks
 * (capped). At most `maxQueueSize` alerts are held; one more is dropped, counted and marked
 * failed. An alert still pending when the collector stops is resumed by `resumePending` at the next
 * start, so a receiver may get an event twice: it deduplicates on the event id.
 */
export class WebhookSender {
  readonly #deps: WebhookSenderDeps;
  readonly #options: WebhookSenderOptions;
  readonly #now: () => number;
  readonly #random: () => number;
  readonly #ready: Job[] = [];
  readonly #waiting = new Set<NodeJS.Timeout>();
  readonly #inFlight = new Set<Promise<void>>();
  /** Jobs held: ready, in flight or waiting to retry. */
  #held = 0;
  #closed = false;
  #idleWaiters: (() => void)[] = [];

  constructor(deps: WebhookSenderDeps, options: Partial<WebhookSenderOptions> = {}) {
    this.#deps = deps;
    this.#options = { ...DEFAULT_WEBHOOK_SENDER_OPTIONS, ...options };
    this.#now = deps.now ?? Date.now;
    this.#random = deps.random ?? Math.random;
  }

  /** Alerts held for delivery (queued, in flight or between retries). */
  queueDepth(): number {
    return this.#held;
  }

  /**
   * Queues a pending alert for delivery, its next attempt numbered `attemptsMade + 1`. Returns
   * false when it was dropped (queue full: it is marked failed) or the sender is closed.
   */
  enqueue(alert: BudgetAlert, attemptsMade = 0): boolean {
    if (this.#closed) return false;
    if (this.#held >= this.#options.maxQueueSize) {
      this.#deps.metrics.queueDropped.inc();
      this.#deps.alerts.setDelivery(alert, "failed").catch((err: unknown) => this.#fail("mark_dropped", err));
      return false;
    }
    this.#held++;
    this.#ready.push({ alert, attempt: attemptsMade + 1 });
    this.#pump();
    return true;
  }

  /** Queues the alerts left pending (by this or another instance) within the resume window; resolves how many were queued. */
  async resumePending(): Promise<number> {
    const pending = await this.#deps.alerts.pendingSince(this.#now() - this.#options.resumeWindowMs);
    let queued = 0;
    for (const p of pending) {
      if (p.attemptsMade >= this.#options.maxAttempts) await this.#deps.alerts.setDelivery(p.alert, "failed");
      else if (this.enqueue(p.alert, p.attemptsMade)) queued++;
    }
    return queued;
  }

  /** Sends a "test" event to the tenant's webhook once, now, and logs the attempt; null when the tenant has no webhook. */
  async sendTest(tenantId: string): Promise<WebhookDelivery | null> {
    const webhook = await this.#deps.webhooks.get(tenantId);
    if (!webhook) return null;
    const atMs = this.#now();
    const event: WebhookEvent = { id: `evt_test_${randomBase62(24)}`, type: "test", createdAt: new Date(atMs).toISOString(), tenantId, alert: null };
    const result = await this.#post(webhook, event, atMs);
    const delivery = toDelivery(event.id, tenantId, 1, atMs, webhook.url, result, result.delivered ? "delivered" : "failed");
    this.#deps.metrics.deliveries.inc([delivery.outcome]);
    await this.#deps.alerts.insertDelivery(delivery);
    return delivery;
  }

  /** Resolves once nothing is held (tests, and a graceful drain). */
  whenIdle(): Promise<void> {
    if (this.#held === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Stops: no new attempts; waits for the ones in flight. What was not delivered stays pending for the next start. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const timer of this.#waiting) clearTimeout(timer);
    this.#held -= this.#waiting.size + this.#ready.length;
    this.#waiting.clear();
    this.#ready.length = 0;
    await Promise.allSettled([...this.#inFlight]);
    this.#settle();
  }

  #pump(): void {
    while (!this.#closed && this.#inFlight.size < this.#options.concurrency && this.#ready.length > 0) {
      const job = this.#ready.shift()!;
      const run: Promise<void> = this.#attempt(job)
        .then(
          (retrying) => {
            if (!retrying) this.#release();
          },
          (err: unknown) => {
            // The store failed: the alert stays pending in it, to be resumed at the next start.
            this.#fail("deliver", err);
            this.#release();
          },
        )
        .finally(() => {
          this.#inFlight.delete(run);
          this.#pump();
        });
      this.#inFlight.add(run);
    }
  }

  /** Makes one attempt; resolves true when a retry was scheduled (the job is still held). */
  async #attempt(job: Job): Promise<boolean> {
    const { alert } = job;
    const webhook = await this.#deps.webhooks.get(alert.tenantId);
    if (!webhook) {
      await this.#deps.alerts.setDelivery(alert, "failed");
      return false;
    }
    const atMs = this.#now();
    const result = await this.#post(webhook, eventOf(alert), atMs);
    const last = result.delivered || job.attempt >= this.#options.maxAttempts;
    const outcome = result.delivered ? "delivered" : last ? "failed" : "retrying";
    this.#deps.metrics.deliveries.inc([outcome]);
    await this.#deps.alerts.insertDelivery(toDelivery(alert.alertId, alert.tenantId, job.attempt, atMs, webhook.url, result, outcome));
    if (last) {
      await this.#deps.alerts.setDelivery(alert, result.delivered ? "delivered" : "failed");
      return false;
    }
    if (this.#closed) return false;
    const timer = setTimeout(() => {
      this.#waiting.delete(timer);
      this.#ready.push({ alert, attempt: job.attempt + 1 });
      this.#pump();
    }, this.#retryDelayMs(job.attempt, result.retryAfterMs));
    timer.unref();
    this.#waiting.add(timer);
    return true;
  }

  #post(webhook: TenantWebhook, event: WebhookEvent, atMs: number): Promise<WebhookAttemptResult> {
    return postWebhook({ url: webhook.url, secret: webhook.secret, event, timeoutMs: this.#options.timeoutMs, nowMs: atMs });
  }

  /** The wait after failed attempt number `attempt`: the receiver's Retry-After when it sent one, else exponential with ±20% jitter; capped. */
  #retryDelayMs(attempt: number, retryAfterMs: number | null): number {
    const { baseDelayMs, maxDelayMs } = this.#options;
    if (retryAfterMs !== null) return Math.min(maxDelayMs, retryAfterMs);
    const exponential = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));
    return Math.min(maxDelayMs, Math.round(exponential * (0.8 + 0.4 * this.#random())));
  }

  #release(): void {
    this.#held--;
    this.#settle();
  }

  #settle(): void {
    if (this.#held > 0) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  #fail(stage: string, err: unknown): void {
    this.#deps.metrics.errors.inc([stage]);
    this.#deps.onError?.(err);
  }
}

/** The event an alert is delivered as: the same id and body on every attempt. */
export function eventOf(alert: BudgetAlert): WebhookEvent {
  return {
    id: alert.alertId,
    type: alert.kind === "rejected" ? "budget.rejected" : "budget.threshold",
    createdAt: alert.raisedAt,
    tenantId: alert.tenantId,
    alert: { ...alert, delivery: "pending" },
  };
}

function toDelivery(alertId: string, tenantId: string, attempt: number, atMs: number, url: string, r: WebhookAttemptResult, outcome: WebhookDelivery["outcome"]): WebhookDelivery {
  return { alertId, tenantId, attempt, at: new Date(atMs).toISOString(), url, statusCode: r.statusCode, outcome, error: r.error, durationMs: r.durationMs };
}
