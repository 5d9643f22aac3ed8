import { TENANT_TIERS, type TenantTier } from "@troupe/contract";
import type { TenantRecord } from "@troupe/contract/query-api";
import { toClickHouseDateTime } from "../store/clickhouse-time.js";

/** The columns of `tenants` a TenantRecord is read from (migrations 0002 and 0005). */
export const TENANT_COLUMNS = `id, name, tier, retention_days, daily_tokens, monthly_tokens, daily_cost_usd, monthly_cost_usd,
  max_in_flight_turns, max_queued_messages, messages_per_second, turn_timeout_ms, weight, requests_per_minute, tokens_per_minute,
  sampling_ratio, alert_thresholds, version,
  toUnixTimestamp64Milli(created_at) AS created_ms, toUnixTimestamp64Milli(updated_at) AS updated_ms`;

/** Alert thresholds of a tenant that never set any (and of rows written before they existed). */
export const DEFAULT_ALERT_THRESHOLDS: readonly number[] = [0.8, 0.95];

/** A `tenants` row as TENANT_COLUMNS reads it (64-bit integers may come back as decimal strings). */
export interface TenantDbRow {
  id: string;
  name: string;
  tier: string;
  retention_days: number;
  daily_tokens: number | string | null;
  monthly_tokens: number | string | null;
  daily_cost_usd: number | null;
  monthly_cost_usd: number | null;
  max_in_flight_turns: number | null;
  max_queued_messages: number | null;
  messages_per_second: number | null;
  turn_timeout_ms: number | null;
  weight: number | null;
  requests_per_minute: number | null;
  tokens_per_minute: number | null;
  sampling_ratio: number | null;
  alert_thresholds: number[];
  version: number | string;
  created_ms: number | string;
  updated_ms: number | string;
}

const num = (v: number | string | null): number | null => (v === null ? null : Number(v));

/** The record a stored row holds; its settings version is the row's version. */
export function toTenantRecord(row: TenantDbRow): TenantRecord {
  return {
    id: row.id,
    name: row.name,
    tier: (TENANT_TIERS as readonly string[]).includes(row.tier) ? (row.tier as TenantTier) : "shared",
    retentionDays: Number(row.retention_days),
    budgets: {
      dailyTokens: num(row.daily_tokens),
      monthlyTokens: num(row.monthly_tokens),
      dailyCostUsd: num(row.daily_cost_usd),
      monthlyCostUsd: num(row.monthly_cost_usd),
    },
    quotas: {
      maxInFlightTurns: num(row.max_in_flight_turns),
      maxQueuedMessages: num(row.max_queued_messages),
      messagesPerSecond: num(row.messages_per_second),
      turnTimeoutMs: num(row.turn_timeout_ms),
      weight: num(row.weight),
    },
    rateLimits: { requestsPerMinute: num(row.requests_per_minute), tokensPerMinute: num(row.tokens_per_minute) },
    samplingRatio: num(row.sampling_ratio),
    alerts: { thresholds: row.alert_thresholds.length > 0 ? row.alert_thresholds.map(Number) : [...DEFAULT_ALERT_THRESHOLDS] },
    settingsVersion: Number(row.version),
    createdAt: new Date(Number(row.created_ms)).toISOString(),
    updatedAt: new Date(Number(row.updated_ms)).toISOString(),
  };
}

/** The row to insert for a record, stored under `version` (which becomes its settingsVersion). */
export function toTenantRow(t: TenantRecord, version: number): Record<string, unknown> {
  return {
    id: t.id,
    name: t.name,
    tier: t.tier,
    retention_days: t.retentionDays,
    daily_tokens: t.budgets.dailyTokens,
    monthly_tokens: t.budgets.monthlyTokens,
    daily_cost_usd: t.budgets.dailyCostUsd,
    monthly_cost_usd: t.budgets.monthlyCostUsd,
    max_in_flight_turns: t.quotas.maxInFlightTurns,
    max_queued_messages: t.quotas.maxQueuedMessages,
    messages_per_second: t.quotas.messagesPerSecond,
    turn_timeout_ms: t.quotas.turnTimeoutMs,
    weight: t.quotas.weight,
    requests_per_minute: t.rateLimits.requestsPerMinute,
    tokens_per_minute: t.rateLimits.tokensPerMinute,
    sampling_ratio: t.samplingRatio,
    alert_thresholds: t.alerts.thresholds,
    created_at: toClickHouseDateTime(Date.parse(t.createdAt)),
    updated_at: toClickHouseDateTime(Date.parse(t.updatedAt)),
    version,
  };
}
