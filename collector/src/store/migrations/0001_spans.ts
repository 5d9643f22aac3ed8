import type { Migration } from "./migration.js";

/**
 * The spans table. Design choices:
 * - ReplacingMergeTree keyed (tenant_id, hour, trace_id, span_id): a span re-sent in any batch
 *   collapses to one row on merge; queries that count read with FINAL so they are exact before merges.
 *   `insert_deduplication_token` plus a deduplication window drop a re-inserted batch at once.
 * - tenant_id first in the sort key; partitions by day.
 * - Per-tenant retention: `retention_days` is written at insert from the tenant's setting and the TTL
 *   reads it, so each row expires on its own tenant's schedule.
 * - Derived columns are MATERIALIZED from the allow-listed attributes, so they can never disagree
 *   with them. There is no payload column.
 */
export const migration0001: Migration = {
  version: 1,
  name: "spans",
  statements: [
    `CREATE TABLE IF NOT EXISTS spans (
      tenant_id LowCardinality(String),
      trace_id String,
      span_id String,
      parent_span_id String,
      name String,
      kind UInt8,
      start_time DateTime64(9, 'UTC'),
      duration_ns UInt64,
      status_code UInt8,
      service_name LowCardinality(String),
      attributes Map(LowCardinality(String), String),
      resource_attributes Map(LowCardinality(String), String),
      retention_days UInt16,
      agent_type LowCardinality(String) MATERIALIZED attributes['troupe.agent.type'],
      operation LowCardinality(String) MATERIALIZED if(attributes['gen_ai.operation.name'] != '', attributes['gen_ai.operation.name'], attributes['messaging.operation.name']),
      model LowCardinality(String) MATERIALIZED if(attributes['gen_ai.response.model'] != '', attributes['gen_ai.response.model'], attributes['gen_ai.request.model']),
      input_tokens UInt64 MATERIALIZED toUInt64OrZero(attributes['gen_ai.usage.input_tokens']),
      output_tokens UInt64 MATERIALIZED toUInt64OrZero(attributes['gen_ai.usage.output_tokens']),
      cost_usd Float64 MATERIALIZED toFloat64OrZero(attributes['troupe.llm.cost_usd']),
      outcome LowCardinality(String) MATERIALIZED attributes['troupe.turn.outcome'],
      queue_wait_ms Float64 MATERIALIZED toFloat64OrZero(attributes['troupe.queue.wait_ms']),
      handler_wall_ms Float64 MATERIALIZED toFloat64OrZero(attributes['troupe.handler.wall_ms']),
      INDEX idx_trace_id trace_id TYPE bloom_filter(0.001) GRANULARITY 1
    )
    ENGINE = ReplacingMergeTree
    PARTITION BY toDate(start_time)
    ORDER BY (tenant_id, toStartOfHour(start_time), trace_id, span_id)
    TTL toDateTime(start_time) + toIntervalDay(retention_days)
    SETTINGS non_replicated_deduplication_window = 10000`,
  ],
};
