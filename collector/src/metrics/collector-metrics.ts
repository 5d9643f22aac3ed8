import { MetricRegistry, type Counter, type Histogram } from "./metric-registry.js";

/** Live figures the pipeline exposes as gauges; read on every scrape. */
export interface PipelineGauges {
  queueDepthSpans(): number;
  spoolBytes(): number;
  spoolRecords(): number;
  forwardQueueDepthSpans(): number;
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
  readonly forwardSpansSent: Counter;
  /** Spans not forwarded, by reason (queue_full, failed). */
  readonly forwardSpansDropped: Counter;
  #gauges: PipelineGauges | undefined;

  constructor() {
    const r = this.registry;
    this.requests = r.counter("troupe_collector_ingest_requests_total", "OTLP export requests answered, by outcome code.", ["code"]);
    this.spansAccepted = r.counter("troupe_collector_spans_accepted_total", "Spans accepted and spooled.");
    this.spansDecoded = r.counter(
      "troupe_collector_spans_decoded_total",
      "Spans of accepted requests by decoding path: direct (protobuf straight into a span block) or general (rows; JSON, and requests with anything unusual).",
      ["path"],
    );
    this.spansRejected = r.counter("troupe_collector_spans_rejected_total", "Spans rejected at ingest, by reason.", ["reason"]);
    this.spansDropped = r.counter("troupe_collector_spans_dropped_total", "Acknowledged spans lost after acceptance, by reason.", ["reason"]);
    this.attributesDropped = r.counter("troupe_collector_attributes_dropped_total", "Attributes removed by the allow-list, by scope.", ["scope"]);
    this.attributesTruncated = r.counter("troupe_collector_attributes_truncated_total", "Attribute values cut to the length cap.");
    this.spansInserted = r.counter("troupe_collector_spans_inserted_total", "Spans inserted into the store.");
    this.insertFailures = r.counter("troupe_collector_store_insert_failures_total", "Failed store inserts (retried).");
    this.insertDuration = r.histogram("troupe_collector_store_insert_duration_seconds", "Store insert latency.", [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]);
    this.forwardSpansSent = r.counter("troupe_collector_forward_spans_sent_total", "Spans forwarded to the configured OTLP endpoint.");
    this.forwardSpansDropped = r.counter("troupe_collector_forward_spans_dropped_total", "Spans not forwarded, by reason.", ["reason"]);
    r.gauge("troupe_collector_queue_depth_spans", "Spans accepted and not yet inserted into the store.", () => this.#gauges?.queueDepthSpans() ?? 0);
    r.gauge("troupe_collector_spool_bytes", "Bytes in the spool not yet inserted.", () => this.#gauges?.spoolBytes() ?? 0);
    r.gauge("troupe_collector_spool_records", "Spool records not yet inserted.", () => this.#gauges?.spoolRecords() ?? 0);
    r.gauge("troupe_collector_forward_queue_depth_spans", "Spans waiting to be forwarded.", () => this.#gauges?.forwardQueueDepthSpans() ?? 0);
  }

  /** Binds the gauges to the live pipeline. */
  bindGauges(gauges: PipelineGauges): void {
    this.#gauges = gauges;
  }

  /** Prometheus text exposition. */
  render(): string {
    return this.registry.render();
  }
}
