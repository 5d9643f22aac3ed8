// @troupe/contract: what the runtime, the collector and the console agree on. Each name is
// documented where it is defined; this index only curates them. zod is the only dependency.

// Telemetry attributes: the names Troupe emits and the allow-lists both sides enforce.
export {
  ATTR,
  TURN_OUTCOMES,
  SAMPLING_KEPT_BY,
  SPAN_ATTRIBUTE_ALLOW_LIST,
  RESOURCE_ATTRIBUTE_ALLOW_LIST,
  EVENT_ATTRIBUTE_ALLOW_LIST,
  MAX_ATTRIBUTE_VALUE_LENGTH,
  TENANT_BAGGAGE_KEY,
} from "./telemetry-attributes.js";
export type { TurnOutcome, SamplingKeptBy } from "./telemetry-attributes.js";

// The tenant-id rule.
export { isTenantId, tenantIdProblem, MAX_TENANT_ID_LENGTH } from "./tenant-id.js";
export type { TenantId } from "./tenant-id.js";

// Usage records: one per LLM call attempt, sent as OTLP log records.
export { USAGE_EVENT_NAME, USAGE_OUTCOMES, USAGE_ATTR, usageRecordSchema, checkUsageRecord } from "./usage-record.js";
export type { UsageRecord, UsageOutcome } from "./usage-record.js";

// The control plane: tenants' managed settings and usage so far, as the collector serves them.
export {
  CONTROL_PATHS,
  CONTROL_HEADERS,
  MAX_SETTINGS_WAIT_S,
  TENANT_TIERS,
  managedQuotasSchema,
  managedBudgetsSchema,
  managedRateLimitsSchema,
  samplingRatioSchema,
  managedTenantSettingsSchema,
  controlSettingsResponseSchema,
  controlUsageResponseSchema,
  UNSET_QUOTAS,
  UNSET_BUDGETS,
  UNSET_RATE_LIMITS,
} from "./control-wire.js";
export type {
  TenantTier,
  ManagedQuotas,
  ManagedBudgets,
  ManagedRateLimits,
  ManagedTenantSettings,
  ControlSettingsResponse,
  TenantUsageSoFar,
  ControlUsageResponse,
} from "./control-wire.js";
