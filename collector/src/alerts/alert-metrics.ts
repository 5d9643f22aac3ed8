import type { Counter, MetricRegistry } from "../metrics/metric-registry.js";

/** What budget alerts and their webhook deliveries report on GET /metrics. */
export class AlertMetrics {
  /** Alerts raised, by kind (threshold, rejected). */
  readonly alertsRaised: Counter;
  /** Webhook delivery attempts, by outcome (delivered, retrying, failed). */
  readonly deliveries: Counter;
  /** Alerts not delivered because the delivery queue was full (marked failed). */
  readonly queueDropped: Counter;
  /** Tenants not evaluated on their own because the evaluation set was full (the next sweep covers them). */
  readonly evaluationsDropped: Counter;
  /** Evaluations and deliveries that failed on the store (retried by the next evaluation or at restart). */
  readonly errors: Counter;

  #queueDepth: () => number = () => 0;

  /** Registers the figures in the collector's registry (once per registry). */
  constructor(registry: MetricRegistry) {
    this.alertsRaised = registry.counter("troupe_collector_budget_alerts_raised_total", "Budget alerts raised, by kind (threshold, rejected).", ["kind"]);
    this.deliveries = registry.counter("troupe_collector_webhook_deliveries_total", "Webhook delivery attempts, by outcome (delivered, retrying, failed).", ["outcome"]);
    this.queueDropped = registry.counter("troupe_collector_webhook_queue_dropped_total", "Alerts not delivered because the webhook delivery queue was full.");
    this.evaluationsDropped = registry.counter(
      "troupe_collector_alert_evaluations_dropped_total",
      "Tenants with new usage not evaluated at once because the evaluation set was full (the next sweep covers them).",
    );
    this.errors = registry.counter("troupe_collector_alert_errors_total", "Budget alert evaluations and delivery bookkeeping that failed, by stage.", ["stage"]);
    registry.gauge("troupe_collector_webhook_queue_depth", "Alerts waiting for delivery (queued or between retries).", () => this.#queueDepth());
  }

  /** Binds the queue depth gauge to the live sender. */
  bindQueueDepth(read: () => number): void {
    this.#queueDepth = read;
  }
}
