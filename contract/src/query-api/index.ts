// @troupe/contract/query-api: the collector's query and admin API (`/api/v1`) as both sides see it.
// Request schemas (zod, with their inferred types) that the collector validates with, the answer
// types, the error body, and the one typed client the console, the CLI and the demo call it with.
//
// Conventions: times in answers are ISO-8601 UTC strings with millisecond precision; time parameters
// (`from`, `to`) take ISO-8601 or epoch ms, `from` inclusive, `to` exclusive, by default the hour (or
// for usage and the admin overview the 24 hours) before now. Durations are milliseconds, costs US
// dollars, token counts integers. Console keys see only their own tenant; admin keys name one with
// `tenant=`. Every error is an ApiErrorBody with the HTTP status of its code.
export {
  alertSettingsSchema,
  alertThresholdsSchema,
  createServiceKeyBody,
  createTenantBody,
  endSessionBody,
  issueKeyBody,
  MAX_WEBHOOK_URL_LENGTH,
  SESSION_DIGEST_PATTERN,
  SESSION_DIGEST_RULE,
  sessionDigestParam,
  setWebhookBody,
  tenantKeyKindSchema,
  updateTenantBody,
  webhookUrlSchema,
} from "./admin-bodies.js";
export type {
  CreateServiceKeyRequest,
  CreateTenantRequest,
  EndSessionRequest,
  IssueKeyRequest,
  SetWebhookRequest,
  TenantAlertSettings,
  TenantKeyKind,
  UpdateTenantRequest,
} from "./admin-bodies.js";
export type {
  AdminTenantDetailResponse,
  AdminTenantListResponse,
  AdminTenantOverview,
  AdminTenantsResponse,
  ApiKeyInfo,
  BudgetAlert,
  BudgetAlertKind,
  BudgetResponse,
  BudgetStatus,
  CreateServiceKeyResponse,
  CreateTenantResponse,
  IssuedKey,
  IssueKeyResponse,
  RemoveWebhookResponse,
  RevokeKeyResponse,
  RuntimeCheckIn,
  SessionEndedResponse,
  SetWebhookResponse,
  TenantActivity,
  TenantAlertsResponse,
  TenantBudgets,
  TenantRecord,
  TenantRuntimesResponse,
  UpdateTenantResponse,
  WebhookDelivery,
  WebhookEvent,
} from "./admin-responses.js";
export { QueryApiError } from "./errors.js";
export type { ApiErrorBody, ApiErrorCode, QueryApiErrorCode, QueryApiErrorDetails } from "./errors.js";
export {
  attributeFilterParam,
  durationMsParam,
  formatParam,
  intParam,
  labelParam,
  MAX_ATTRIBUTE_FILTERS,
  MAX_RANGE_MS,
  MAX_TIME_MS,
  tenantParam,
  timeParam,
} from "./param-rules.js";
export type { AttributeFilter } from "./param-rules.js";
export { DEFAULT_QUERY_API_TIMEOUT_MS, QueryApiClient } from "./query-api-client.js";
export type { QueryApiClientOptions } from "./query-api-client.js";
export {
  adminTenantQuery,
  adminTenantListQuery,
  adminTenantsQuery,
  agentsQuery,
  alertsQuery,
  budgetQuery,
  conversationsQuery,
  keyIdParam,
  overviewQuery,
  samplingQuery,
  traceIdParam,
  traceQuery,
  traceSearchQuery,
  usageGroupBySchema,
  usageQuery,
} from "./query-params.js";
export type {
  AdminTenantParams,
  AdminTenantsParams,
  AgentsParams,
  AlertsParams,
  BudgetParams,
  ConversationsParams,
  OverviewParams,
  QueryParamsOf,
  SamplingParams,
  TraceParams,
  TraceSearchParams,
  UsageGroupBy,
  UsageParams,
} from "./query-params.js";
export type {
  AgentSummary,
  AgentsResponse,
  OverviewPoint,
  OverviewResponse,
  OverviewTopAgent,
  UsageFigures,
  UsageResponse,
  UsageRow,
} from "./report-responses.js";
export type {
  AttributeValue,
  ConversationSummary,
  ConversationsResponse,
  SamplingInForce,
  SamplingResponse,
  TraceDetailResponse,
  TraceSearchResponse,
  TraceSpan,
  TraceSpanEvent,
  TraceSpanLink,
  TraceSummary,
} from "./trace-responses.js";
