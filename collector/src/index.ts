// @troupe/collector public API. Named exports only.
export { CollectorError } from "./errors.js";
export type { CollectorErrorCode } from "./errors.js";
export type { SpanRow } from "./store/span-row.js";
export type { SpanStore } from "./store/span-store.js";
export type { Principal, KeyKind, KeyAuthenticator } from "./tenants/principal.js";

export { createCollectorApp } from "./http/app.js";
export type { CollectorAppDeps } from "./http/app.js";
export { listen } from "./http/server.js";
export type { RunningServer } from "./http/server.js";
export { DEFAULT_INGEST_LIMITS } from "./ingest/ingest-limits.js";
export type { IngestLimits } from "./ingest/ingest-limits.js";
export { CollectorMetrics } from "./metrics/collector-metrics.js";
export { IngestPipeline } from "./pipeline/ingest-pipeline.js";
export type { IngestPipelineOptions, PipelineHealth, SpanSink } from "./pipeline/ingest-pipeline.js";
export { OtlpForwarder, forwardUrl } from "./pipeline/otlp-forwarder.js";
export type { OtlpForwarderOptions } from "./pipeline/otlp-forwarder.js";
export type { OtlpWireFormat } from "./pipeline/otlp-encode.js";
export { Spool } from "./pipeline/spool.js";
export type { SpoolOptions } from "./pipeline/spool.js";
export { DEFAULT_SPAN_WRITER_OPTIONS } from "./pipeline/span-writer.js";
export type { SpanWriterOptions } from "./pipeline/span-writer.js";
export { MemorySpanStore } from "./testing/memory-span-store.js";
export { StaticKeyAuthenticator } from "./testing/static-key-authenticator.js";
export { loadCollectorConfig, parseHeaderList, CollectorConfigError } from "./config.js";
export type { CollectorConfig } from "./config.js";
export { startCollector } from "./start-collector.js";
export type { RunningCollector, StartCollectorOptions } from "./start-collector.js";
