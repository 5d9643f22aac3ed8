// Answers of the admin endpoints (tenants, keys, runtimes, alerts, webhooks), the tenant's own
// budget and alerts, and the console's sessions. Secrets appear only in the answers that create them.
import type { ManagedBudgets, ManagedQuotas, ManagedRateLimits, TenantTier } from "../control-wire.js";
import type { TenantAlertSettings } from "./admin-bodies.js";
import type { UsageFigures } from "./report-responses.js";

/** Token and cost budgets; null: none set here (a runtime's own code budget applies, if any; else unlimited). */
export type TenantBudgets = ManagedBudgets;

/** A tenant as stored: the one source of the settings its runtimes follow. */
export interface TenantRecord {
  id: string;
  name: string;
  tier: TenantTier;
  /** Spans and usage records older than this are deleted. */
  retentionDays: number;
  budgets: TenantBudgets;
  /** Runtime quotas; a null field leaves the runtime's code option in force. */
  quotas: ManagedQuotas;
  /** LLM rate limits; a null field leaves the runtime's code option in force. */
  rateLimits: ManagedRateLimits;
  /** Head-sampling ratio of new traces; null leaves the runtime's own. */
  samplingRatio: number | null;
  alerts: TenantAlertSettings;
  /** Increases on every change; runtimes report the version they applied. */
  settingsVersion: number;
  createdAt: string;
  updatedAt: string;
}

/** A key as listed: never its secret. */
export interface ApiKeyInfo {
  keyId: string;
  kind: "ingest" | "console" | "service";
  /** "" for a service key. */
  tenantId: string;
  /** Service keys only. */
  allowedTenants: string[];
  createdAt: string;
  /** null while active. */
  revokedAt: string | null;
}

/** A freshly issued key. `secret` is shown this once and never stored or shown again. */
export interface IssuedKey {
  keyId: string;
  kind: "ingest" | "console" | "service";
  tenantId: string;
  allowedTenants: string[];
  /** `trp_<kind>_<base62>`: send as `Authorization: Bearer <secret>`. */
  secret: string;
  createdAt: string;
}

/** Answer of POST /api/v1/admin/tenants (201). 409 when the id exists. */
export interface CreateTenantResponse {
  tenant: TenantRecord;
  keys: IssuedKey[];
}

/** Answer of POST /api/v1/admin/tenants/{id}/keys (201). */
export interface IssueKeyResponse {
  key: IssuedKey;
  revokedKeyIds: string[];
}

/** Answer of POST /api/v1/admin/service-keys (201). */
export interface CreateServiceKeyResponse {
  key: IssuedKey;
}

/** Answer of DELETE /api/v1/admin/keys/{keyId}. */
export interface RevokeKeyResponse {
  keyId: string;
  revokedAt: string;
}

/** Where a tenant stands against its budgets today and this month (UTC), from its usage records. */
export interface BudgetStatus {
  dailyTokensUsed: number;
  monthlyTokensUsed: number;
  dailyCostUsdUsed: number;
  monthlyCostUsdUsed: number;
  /** The highest used/limit ratio over the set budgets, or null when none is set. */
  maxUtilization: number | null;
  /** "over" at ≥ 100%, "near" at ≥ 80%, "ok" otherwise or when no budget is set. */
  state: "ok" | "near" | "over";
}

/**
 * A tenant's activity over the range of an admin overview: the usage figures from usage records
 * (exact), the span, turn and time figures from stored spans (the kept traces when sampled).
 */
export interface TenantActivity extends UsageFigures {
  spans: number;
  /** Spans with error status (any kind). */
  spanErrors: number;
  turns: number;
  queueWaitMsTotal: number;
  handlerWallMsTotal: number;
  /** This tenant's share (0-1) of all tenants' queue wait over the range. */
  queueWaitShare: number;
  /** This tenant's share (0-1) of all tenants' handler wall time over the range. */
  handlerTimeShare: number;
}

/** One row of the all-tenant overview. */
export interface AdminTenantOverview {
  tenant: TenantRecord;
  activity: TenantActivity;
  budget: BudgetStatus;
}

/**
 * Answer of GET /api/v1/admin/tenant-list: every tenant's settings, sorted by id, without activity
 * or budget state (what a tenant picker needs, at the cost of one registry read).
 */
export interface AdminTenantListResponse {
  tenants: TenantRecord[];
}

/** Answer of GET /api/v1/admin/tenants (sorted by cost, descending, then id). */
export interface AdminTenantsResponse {
  from: string;
  to: string;
  tenants: AdminTenantOverview[];
}

/**
 * Answer of GET /api/v1/budget: one tenant's budgets as the operator set them and where its usage
 * stands against them (today and this month, UTC, from usage records), the same figures the
 * operator's view shows. Read-only.
 */
export interface BudgetResponse {
  tenantId: string;
  budgets: TenantBudgets;
  status: BudgetStatus;
}

/** Answer of GET /api/v1/admin/tenants/{id}. */
export interface AdminTenantDetailResponse extends AdminTenantOverview {
  keys: ApiKeyInfo[];
}

/** Answer of PUT /api/v1/admin/tenants/{id}. */
export interface UpdateTenantResponse {
  tenant: TenantRecord;
}

/** A runtime's last check-in: a read of its tenants' settings (every long poll, at least every 30 s while it runs). */
export interface RuntimeCheckIn {
  runtimeId: string;
  /** Service name and host, as the runtime reported them. */
  name: string;
  /** The tenants its last read covered. */
  tenants: string[];
  /** The settings version it had applied at that read (0 before any). */
  appliedVersion: number;
  firstSeenAt: string;
  lastSeenAt: string;
}

/** Answer of GET /api/v1/admin/tenants/{id}/runtimes: runtimes seen within the last 24 h, newest check-in first. */
export interface TenantRuntimesResponse {
  tenantId: string;
  /** The tenant's current settings version: a runtime with a lower appliedVersion has not caught up. */
  settingsVersion: number;
  runtimes: RuntimeCheckIn[];
}

/** What a budget alert is about. */
export type BudgetAlertKind = "threshold" | "rejected";

/** One budget alert: a threshold crossed in a window, or the window's first refused call. Raised once per (window, metric, threshold). */
export interface BudgetAlert {
  alertId: string;
  tenantId: string;
  kind: BudgetAlertKind;
  window: "day" | "month";
  /** `YYYY-MM-DD` or `YYYY-MM` (UTC). */
  windowKey: string;
  /** For "rejected": the budget the refused call ran into, when known, else "tokens". */
  metric: "tokens" | "costUsd";
  /** The fraction crossed (threshold alerts); null for "rejected". */
  threshold: number | null;
  /** Used so far in the window when the alert was raised. */
  used: number;
  /** The budget it is measured against (null when none applies). */
  limit: number | null;
  raisedAt: string;
  /** Where its webhook delivery stands ("none": no webhook configured when it was raised). */
  delivery: "none" | "pending" | "delivered" | "failed";
}

/** One attempt to deliver an alert to the tenant's webhook. */
export interface WebhookDelivery {
  alertId: string;
  tenantId: string;
  /** 1 for the first attempt. */
  attempt: number;
  at: string;
  url: string;
  /** The receiver's HTTP status; null when none came (timeout, refused connection). */
  statusCode: number | null;
  outcome: "delivered" | "retrying" | "failed";
  /** Why it was not delivered; null when it was. */
  error: string | null;
  durationMs: number;
}

/** Answer of GET /api/v1/admin/tenants/{id}/alerts and GET /api/v1/alerts (a tenant's own): newest first. */
export interface TenantAlertsResponse {
  tenantId: string;
  thresholds: number[];
  /** The configured webhook (never its secret); null when none. */
  webhook: { url: string; updatedAt: string } | null;
  alerts: BudgetAlert[];
  /** Admin only (empty for a tenant's own view): the latest delivery attempts, newest first. */
  deliveries: WebhookDelivery[];
}

/** Answer of PUT /api/v1/admin/tenants/{id}/webhook: the signing secret, shown this once. */
export interface SetWebhookResponse {
  url: string;
  /** `whsec_<base62>`: verify `Troupe-Signature: t=<unix s>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`. */
  secret: string;
}

/** Answer of DELETE /api/v1/admin/tenants/{id}/webhook. */
export interface RemoveWebhookResponse {
  tenantId: string;
  /** False when the tenant had no webhook. */
  removed: boolean;
}

/** The JSON body POSTed to a webhook (also sent by POST /api/v1/admin/tenants/{id}/webhook/test with type "test"). */
export interface WebhookEvent {
  /** Unique per alert; the same on every retry (deduplicate on it). Header `Troupe-Event-Id` too. */
  id: string;
  type: "budget.threshold" | "budget.rejected" | "test";
  createdAt: string;
  tenantId: string;
  alert: BudgetAlert | null;
}

/** `GET /api/v1/sessions/ended/{digest}`: whether that console session was signed out. */
export interface SessionEndedResponse {
  ended: boolean;
}
