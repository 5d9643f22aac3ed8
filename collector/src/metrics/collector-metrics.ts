import { MetricRegistry, type Counter, type Histogram } from "./metric-registry.js";

/** Live figures the pipeline exposes as gauges; read on every scrape. */
export interface PipelineGauges {
  queueDepthSpans(): number;
  spoolBytes(): number;
  spoolRecords(): number;
  forwardQueueDepthSpans(): number;
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
  readonly forwardSpansSent: Counter;
  /** Spans not forwarded, by reason (queue_full, failed). */
  readonly forwardSpansDropped: Counter;
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
  readonly usageInsertFailures: Counter;
  /** Usage records acknowledged earlier and lost afterwards, by reason (spool_corrupt_record). Should stay 0. */
  readonly usageDropped: Counter;
  #gauges: PipelineGauges | undefined;
  #usageGauges: UsagePipelineGauges | undefined;

  constructor() {
    const r = this.registry;
    this.requests = r.counter("troupe_collector_ingest_requests_total", "OTLP export requests answered, by outcome code (aborted: the body stopped arriving: client closed or body deadline).", ["code"]);
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
    this.logsRequests = r.counter("troupe_collector_logs_requests_total", "OTLP logs export requests answered, by outcome code (aborted: the body stopped arriving: client closed or body deadline).", ["code"]);
    this.usageAccepted = r.counter("troupe_collector_usage_records_accepted_total", "Usage records accepted and spooled.");
    this.usageRejected = r.counter("troupe_collector_usage_records_rejected_total", "Log records refused at ingest, by reason.", ["reason"]);
    this.usageDuplicates = r.counter("troupe_collector_usage_duplicates_total", "Usage records dropped by the writer as identical copies of a record already stored.");
    this.usageConflicts = r.counter(
      "troupe_collector_usage_conflicts_total",
      "Usage records dropped by the writer for reusing a stored record's id with different figures (the first stored wins).",
    );
    this.usageInserted = r.counter("troupe_collector_usage_records_inserted_total", "Usage records inserted into the store.");
    this.usageInsertFailures = r.counter("troupe_collector_usage_insert_failures_total", "Failed usage record inserts (retried).");
    this.usageDropped = r.counter("troupe_collector_usage_records_dropped_total", "Acknowledged usage records lost after acceptance, by reason.", ["reason"]);
    r.gauge("troupe_collector_usage_queue_depth_records", "Usage records accepted and not yet stored.", () => this.#usageGauges?.queueDepthRecords() ?? 0);
    r.gauge("troupe_collector_usage_spool_bytes", "Bytes in the usage spool not yet stored.", () => this.#usageGauges?.spoolBytes() ?? 0);
    r.gauge("troupe_collector_queue_depth_spans", "Spans accepted and not yet inserted into the store.", () => this.#gauges?.queueDepthSpans() ?? 0);
    r.gauge("troupe_collector_spool_bytes", "Bytes in the spool not yet inserted.", () => this.#gauges?.spoolBytes() ?? 0);
    r.gauge("troupe_collector_spool_records", "Spool records not yet inserted.", () => this.#gauges?.spoolRecords() ?? 0);
    r.gauge("troupe_collector_forward_queue_depth_spans", "Spans waiting to be forwarded.", () => this.#gauges?.forwardQueueDepthSpans() ?? 0);
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
