// @troupe/collector public API. Named exports only.
export { CollectorError } from "./errors.js";
export type { CollectorErrorCode } from "./errors.js";
export type { SpanRow } from "./store/span-row.js";
export { plainSpanFields } from "./store/span-row.js";
export type { SpanStore } from "./store/span-store.js";
export type { UsageRecordRow } from "./store/usage-record-row.js";
export type { UsageStore, UsageKey } from "./store/usage-store.js";
export type { Principal, KeyKind, KeyAuthenticator } from "./tenants/principal.js";

export { createCollectorApp } from "./http/app.js";
export type { CollectorAppDeps, UsageIngestDeps } from "./http/app.js";
export { listen } from "./http/server.js";
export type { RunningServer } from "./http/server.js";
export { DEFAULT_INGEST_LIMITS } from "./ingest/ingest-limits.js";
export type { IngestLimits } from "./ingest/ingest-limits.js";
export { CollectorMetrics } from "./metrics/collector-metrics.js";
export { IngestPipeline } from "./pipeline/ingest-pipeline.js";
export type { IngestPipelineOptions, PipelineHealth, SpanSink } from "./pipeline/ingest-pipeline.js";
export { OtlpForwarder } from "./forward/otlp-forwarder.js";
export type { OtlpForwarderOptions } from "./forward/otlp-forwarder.js";
export { DEFAULT_FORWARD_DESTINATION, forwardUrl } from "./forward/forward-destination.js";
export type { ForwardDestinationOptions } from "./forward/forward-destination.js";
export type { ForwardDestinationConfig } from "./forward/forward-config.js";
export type { OtlpWireFormat } from "./forward/otlp-encode.js";
export { Spool } from "./pipeline/spool.js";
export type { SpoolOptions } from "./pipeline/spool.js";
export { DEFAULT_SPAN_WRITER_OPTIONS } from "./pipeline/span-writer.js";
export type { SpanWriterOptions } from "./pipeline/span-writer.js";
export type { SpoolWriterOptions } from "./pipeline/spool-writer.js";
export { UsagePipeline } from "./pipeline/usage-pipeline.js";
export type { UsagePipelineOptions, UsagePipelineHealth, UsageSink } from "./pipeline/usage-pipeline.js";
export { DEFAULT_USAGE_WRITER_OPTIONS } from "./pipeline/usage-writer.js";
export { loadCollectorConfig, parseHeaderList, CollectorConfigError } from "./config.js";
export type { CollectorConfig } from "./config.js";
export { OTLP_EXPORT_PATHS, startCollector } from "./start-collector.js";
export type { RunningCollector, StartCollectorOptions } from "./start-collector.js";

// Store, tenants and query API (built by the store/query work; exported here for entry points,
// tools and cross-package tests).
export { openClickHouse } from "./store/open-clickhouse.js";
export type { ClickHouseTarget } from "./store/open-clickhouse.js";
export type { ClickHouseGateway, QueryParams, InsertOptions } from "./store/clickhouse-gateway.js";
export { createClickHouseSpanStore, DEFAULT_RETENTION_DAYS } from "./store/clickhouse-span-store.js";
export type { ClickHouseSpanStoreOptions } from "./store/clickhouse-span-store.js";
export { createClickHouseUsageStore } from "./store/clickhouse-usage-store.js";
export { createTenantRegistry, TENANT_TIERS, MIN_ADMIN_KEY_LENGTH } from "./tenants/tenant-registry.js";
export type { TenantRegistry, TenantRegistryOptions, NewTenant, TenantPatch } from "./tenants/tenant-registry.js";
export { createQueryRoutes } from "./query/query-routes.js";
export { createSessionRoutes } from "./query/session-routes.js";
export type { SessionRoutesOptions } from "./query/session-routes.js";
export { createEndedSessions, SESSION_DIGEST_PATTERN } from "./tenants/ended-sessions.js";
export type { EndedSessions } from "./tenants/ended-sessions.js";
export type { QueryRoutesOptions } from "./query/query-routes.js";
export { createAdminRoutes } from "./query/admin-routes.js";
export type { AdminRoutesOptions } from "./query/admin-routes.js";
export type {
  ApiErrorBody,
  ApiErrorCode,
  TraceSearchParams,
  TraceSummary,
  TraceSearchResponse,
  TraceSpan,
  TraceSpanEvent,
  TraceSpanLink,
  AttributeValue,
  TraceDetailResponse,
  AgentsParams,
  AgentSummary,
  AgentsResponse,
  UsageGroupBy,
  UsageParams,
  UsageFigures,
  UsageRow,
  UsageResponse,
  OverviewParams,
  OverviewPoint,
  OverviewTopAgent,
  OverviewResponse,
  SamplingInForce,
  SamplingParams,
  SamplingResponse,
  TenantBudgets,
  TenantRecord,
  TenantKeyKind,
  ApiKeyInfo,
  IssuedKey,
  CreateTenantRequest,
  CreateTenantResponse,
  UpdateTenantRequest,
  IssueKeyRequest,
  IssueKeyResponse,
  CreateServiceKeyRequest,
  CreateServiceKeyResponse,
  RevokeKeyResponse,
  BudgetStatus,
  TenantActivity,
  AdminTenantOverview,
  AdminTenantsParams,
  AdminTenantsResponse,
  AdminTenantDetailResponse,
  UpdateTenantResponse,
} from "@troupe/contract/query-api";
export type { TenantTier } from "@troupe/contract";
