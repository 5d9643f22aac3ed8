import { MetricRegistry, type Counter, type Histogram } from "./metric-registry.js";

/** Live figures the pipeline exposes as gauges; read on every scrape. */
export interface PipelineGauges {
  queueDepthSpans(): number;
  spoolBytes(): number;
  spoolRecords(): number;
}

/** Why a span was not forwarded to a destination. */
export type ForwardDropReason =
  | "queue_full" // the destination's queue was at its bound (spans or bytes) when the span came
  | "rejected" // the destination answered an error that must not be retried (4xx but 429, 500, 501...)
  | "failed_after_retries" // retryable answers or network errors until the attempts ran out
  | "shutdown" // still queued or in flight when the collector stopped
  | "encode_failed"; // its stored block could not be read (should stay 0)

/** A forwarding destination's live figures, read on every scrape. */
export interface ForwardDestinationGauges {
  destination: string;
  /** Spans accepted for it and not yet delivered (queued or in flight). */
  queueSpans: number;
  /** Bytes of span blocks it holds for them. */
  queueBytes: number;
  /** How long the oldest of them has waited (0 when none). */
  lagSeconds: number;
}

/** What a forwarding destination counts; each call also counts toward the all-destinations totals. */
export interface ForwardDestinationMetrics {
  sent(spans: number): void;
  retried(): void;
  dropped(reason: ForwardDropReason, spans: number): void;
  /** Spans a destination refused in a partial success (answer 200). */
  partiallyRejected(spans: number): void;
}

/** Live figures of the usage-record pipeline; read on every scrape. */
export interface UsagePipelineGauges {
  queueDepthRecords(): number;
  spoolBytes(): number;
}

/**
 * Every figure the collector reports on GET /metrics. Counters are incremented by ingest and the
 * pipeline; gauges are bound to the pipeline with `bindGauges` once it exists.
 */
export class CollectorMetrics {
  readonly registry = new MetricRegistry();
  readonly requests: Counter;
  readonly spansAccepted: Counter;
  /** Accepted spans by how their request was decoded: "direct" (wire straight into a span block) or "general". */
  readonly spansDecoded: Counter;
  /** Spans refused at ingest, by reason (tenant_mismatch, missing_tenant, ...). */
  readonly spansRejected: Counter;
  /** Spans acknowledged earlier and lost afterwards, by reason (spool_corrupt). Should stay 0. */
  readonly spansDropped: Counter;
  /** Attributes removed by the allow-list, by where they were (span, resource, event). */
  readonly attributesDropped: Counter;
  /** Attribute values cut to the length cap. */
  readonly attributesTruncated: Counter;
  readonly spansInserted: Counter;
  readonly insertFailures: Counter;
  readonly insertDuration: Histogram;
  /** Spans delivered to forwarding destinations, all destinations together (the per-destination series are forwardDestination*). */
  readonly forwardSpansSent: Counter;
  /** Spans not forwarded, all destinations together, by reason (ForwardDropReason). */
  readonly forwardSpansDropped: Counter;
  /** Per destination (label `destination`): spans it accepted. */
  readonly forwardDestinationSpansSent: Counter;
  /** Per destination: requests sent again (retryable answer or network error). */
  readonly forwardDestinationRetries: Counter;
  /** Per destination, by reason (ForwardDropReason): spans it did not get. */
  readonly forwardDestinationSpansDropped: Counter;
  /** Per destination: spans it rejected in the partial success of a 200. */
  readonly forwardDestinationPartialRejected: Counter;
  /** POST /v1/logs requests answered, by outcome code. */
  readonly logsRequests: Counter;
  /** Usage records accepted and spooled. */
  readonly usageAccepted: Counter;
  /** Log records refused at ingest, by reason (not_usage, invalid_record, tenant_mismatch, ...). */
  readonly usageRejected: Counter;
  /** Usage records the writer dropped as identical copies of a stored (or earlier) record. */
  readonly usageDuplicates: Counter;
  /** Usage records the writer dropped for having a stored record's id with different figures (the first stored wins). */
  readonly usageConflicts: Counter;
  readonly usageInserted: Counter;
  /** Stored usage records inserted again by a retried or replayed batch, for the tables an interrupted insert may have missed. */
  readonly usageRestored: Counter;
  readonly usageInsertFailures: Counter;
  /** Usage records acknowledged earlier and lost afterwards, by reason (spool_corrupt_record). Should stay 0. */
  readonly usageDropped: Counter;
  #gauges: PipelineGauges | undefined;
  #usageGauges: UsagePipelineGauges | undefined;
  #forwardGauges: () => readonly ForwardDestinationGauges[] = () => [];

  constructor() {
    const r = this.registry;
    this.requests = r.counter("troupe_collector_ingest_requests_total", "OTLP export requests answered, by outcome code (aborted: the body stopped arriving: client closed or body deadline).", ["code"]);
    this.spansAccepted = r.counter("troupe_collector_spans_accepted_total", "Spans accepted and spooled.");
    this.spansDecoded = r.counter(
      "troupe_collector_spans_decoded_total",
      "Spans of accepted requests by decoding path: direct (protobuf or JSON straight into a span block) or general (rows: requests with anything unusual).",
      ["path"],
    );
    this.spansRejected = r.counter("troupe_collector_spans_rejected_total", "Spans rejected at ingest, by reason.", ["reason"]);
    this.spansDropped = r.counter("troupe_collector_spans_dropped_total", "Acknowledged spans lost after acceptance, by reason.", ["reason"]);
    this.attributesDropped = r.counter("troupe_collector_attributes_dropped_total", "Attributes removed by the allow-list, by scope.", ["scope"]);
    this.attributesTruncated = r.counter("troupe_collector_attributes_truncated_total", "Attribute values cut to the length cap.");
    this.spansInserted = r.counter("troupe_collector_spans_inserted_total", "Spans inserted into the store.");
    this.insertFailures = r.counter("troupe_collector_store_insert_failures_total", "Failed store inserts (retried).");
    this.insertDuration = r.histogram("troupe_collector_store_insert_duration_seconds", "Store insert latency.", [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]);
    this.forwardSpansSent = r.counter("troupe_collector_forward_spans_sent_total", "Spans delivered to forwarding destinations (all destinations).");
    this.forwardSpansDropped = r.counter("troupe_collector_forward_spans_dropped_total", "Spans not forwarded (all destinations), by reason.", ["reason"]);
    this.forwardDestinationSpansSent = r.counter(
      "troupe_collector_forward_destination_spans_sent_total",
      "Spans a forwarding destination accepted (answer 200, less what a partial success rejected).",
      ["destination"],
    );
    this.forwardDestinationRetries = r.counter(
      "troupe_collector_forward_destination_retries_total",
      "Export requests sent again to a destination after a retryable answer (429, 502, 503, 504) or a network error.",
      ["destination"],
    );
    this.forwardDestinationSpansDropped = r.counter(
      "troupe_collector_forward_destination_spans_dropped_total",
      "Spans not forwarded to a destination, by reason (queue_full, rejected, failed_after_retries, shutdown, encode_failed).",
      ["destination", "reason"],
    );
    this.forwardDestinationPartialRejected = r.counter(
      "troupe_collector_forward_destination_partial_rejected_spans_total",
      "Spans a destination answered 200 for but rejected in its partial success.",
      ["destination"],
    );
    this.logsRequests = r.counter("troupe_collector_logs_requests_total", "OTLP logs export requests answered, by outcome code (aborted: the body stopped arriving: client closed or body deadline).", ["code"]);
    this.usageAccepted = r.counter("troupe_collector_usage_records_accepted_total", "Usage records accepted and spooled.");
    this.usageRejected = r.counter("troupe_collector_usage_records_rejected_total", "Log records refused at ingest, by reason.", ["reason"]);
    this.usageDuplicates = r.counter("troupe_collector_usage_duplicates_total", "Usage records dropped by the writer as identical copies of a record already stored.");
    this.usageConflicts = r.counter(
      "troupe_collector_usage_conflicts_total",
      "Usage records dropped by the writer for reusing a stored record's id with different figures (the first stored wins).",
    );
    this.usageInserted = r.counter("troupe_collector_usage_records_inserted_total", "Usage records inserted into the store.");
    this.usageRestored = r.counter(
      "troupe_collector_usage_records_restored_total",
      "Stored usage records inserted again by a retried or replayed batch, for the derived tables an interrupted insert may have missed.",
    );
    this.usageInsertFailures = r.counter("troupe_collector_usage_insert_failures_total", "Failed usage record inserts (retried).");
    this.usageDropped = r.counter("troupe_collector_usage_records_dropped_total", "Acknowledged usage records lost after acceptance, by reason.", ["reason"]);
    r.gauge("troupe_collector_usage_queue_depth_records", "Usage records accepted and not yet stored.", () => this.#usageGauges?.queueDepthRecords() ?? 0);
    r.gauge("troupe_collector_usage_spool_bytes", "Bytes in the usage spool not yet stored.", () => this.#usageGauges?.spoolBytes() ?? 0);
    r.gauge("troupe_collector_queue_depth_spans", "Spans accepted and not yet inserted into the store.", () => this.#gauges?.queueDepthSpans() ?? 0);
    r.gauge("troupe_collector_spool_bytes", "Bytes in the spool not yet inserted.", () => this.#gauges?.spoolBytes() ?? 0);
    r.gauge("troupe_collector_spool_records", "Spool records not yet inserted.", () => this.#gauges?.spoolRecords() ?? 0);
    r.gauge("troupe_collector_forward_queue_depth_spans", "Spans waiting to be forwarded (all destinations).", () =>
      this.#forwardGauges().reduce((sum, d) => sum + d.queueSpans, 0),
    );
    const perDestination = (value: (d: ForwardDestinationGauges) => number) => () => this.#forwardGauges().map((d) => [[d.destination], value(d)] as const);
    r.labeledGauge("troupe_collector_forward_destination_queue_spans", "Spans waiting for a destination (queued or in flight).", ["destination"], perDestination((d) => d.queueSpans));
    r.labeledGauge("troupe_collector_forward_destination_queue_bytes", "Bytes of span blocks held for a destination.", ["destination"], perDestination((d) => d.queueBytes));
    r.labeledGauge("troupe_collector_forward_destination_lag_seconds", "Age of the oldest span waiting for a destination (0 when none).", ["destination"], perDestination((d) => d.lagSeconds));
  }

  /** The counters of one forwarding destination (label `destination`). */
  forwardDestination(destination: string): ForwardDestinationMetrics {
    return {
      sent: (spans) => {
        this.forwardDestinationSpansSent.inc([destination], spans);
        this.forwardSpansSent.inc([], spans);
      },
      retried: () => this.forwardDestinationRetries.inc([destination]),
      dropped: (reason, spans) => {
        this.forwardDestinationSpansDropped.inc([destination, reason], spans);
        this.forwardSpansDropped.inc([reason], spans);
      },
      partiallyRejected: (spans) => this.forwardDestinationPartialRejected.inc([destination], spans),
    };
  }

  /** Binds the forwarding gauges to the live destinations. */
  bindForwardGauges(read: () => readonly ForwardDestinationGauges[]): void {
    this.#forwardGauges = read;
  }

  /** Binds the gauges to the live pipeline. */
  bindGauges(gauges: PipelineGauges): void {
    this.#gauges = gauges;
  }

  /** Binds the usage gauges to the live usage pipeline. */
  bindUsageGauges(gauges: UsagePipelineGauges): void {
    this.#usageGauges = gauges;
  }

  /** Prometheus text exposition. */
  render(): string {
    return this.registry.render();
  }
}
