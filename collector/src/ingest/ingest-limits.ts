/** Bounds on one OTLP export request. Every bound answers a clear 4xx or a counted rejection. */
export interface IngestLimits {
  /** Largest body, compressed and after gunzip (413 beyond). */
  maxBodyBytes: number;
  /** Most spans in one request (413 beyond: lower the exporter's maxExportBatchSize). */
  maxSpansPerRequest: number;
  /** Most log records in one logs request (413 beyond: lower the exporter's maxExportBatchSize). */
  maxLogRecordsPerRequest: number;
  /** Most attributes on one span, resource, event or log record; one beyond is rejected (too_many_attributes). */
  maxAttributesPerSpan: number;
  /** Most events on one span; a span beyond is rejected (too_many_events). */
  maxEventsPerSpan: number;
  /** Most links on one span; a span beyond is rejected (too_many_links). */
  maxLinksPerSpan: number;
  /** Deepest nesting of arrays and key-value lists inside one attribute value (400 beyond). */
  maxAnyValueDepth: number;
}

/** Defaults sized for the official exporters (maxExportBatchSize up to 8192, 128 attributes per span). */
export const DEFAULT_INGEST_LIMITS: IngestLimits = {
  maxBodyBytes: 8 * 1024 * 1024,
  maxSpansPerRequest: 8192,
  maxLogRecordsPerRequest: 8192,
  maxAttributesPerSpan: 256,
  maxEventsPerSpan: 256,
  maxLinksPerSpan: 256,
  maxAnyValueDepth: 8,
};

/**
 * How far ahead of the collector's clock a span may start (clock skew between hosts). A span
 * starting later is refused (time_in_future): it would sit ahead of every query's time range.
 */
export const MAX_SPAN_START_AHEAD_MS = 10 * 60_000;

/**
 * How far behind the collector's clock a span may start: the longest retention a tenant may have
 * (tenant-registry.ts). An older span is refused (time_expired): the table's TTL would delete it at
 * once. Spans are not checked against their own tenant's (shorter) retention at ingest: rows are
 * built before the store looks retention up (clickhouse-span-store.ts stamps it on the block).
 */
export const MAX_SPAN_AGE_DAYS = 3650;
