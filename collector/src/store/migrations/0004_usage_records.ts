import type { Migration } from "./migration.js";

/**
 * Usage records: one row per LLM call attempt (runtime/src/usage/usage-record.ts), the source of every
 * usage figure (reports, downloads, the console, budgets), whatever the trace sampling. Design choices:
 * - ReplacingMergeTree keyed (tenant_id, day, record_id): a record re-sent in any batch collapses to
 *   one row; queries that count read with FINAL so they are exact before merges, and a re-inserted
 *   batch is dropped at once by `insert_deduplication_token`. A record's time is part of the record,
 *   so every copy of it lies in the same day and month partition.
 * - A record re-sent with the same id and different numbers is refused by the writer, which looks the
 *   ids of a batch up before inserting (the bloom filter serves that lookup): the first stored wins.
 * - tenant_id first in the sort key; partitions by month; per-tenant retention as for spans.
 * - The backfill turns the LLM calls already stored as spans into records (ids `span:<trace>:<span>`),
 *   so reports over periods before this change read the same figures as before. It reads with FINAL,
 *   and a second run collapses into the first (same sort keys).
 */
export const migration0004: Migration = {
  version: 4,
  name: "usage_records",
  statements: [
    `CREATE TABLE IF NOT EXISTS usage_records (
      tenant_id LowCardinality(String),
      time DateTime64(3, 'UTC'),
      record_id String,
      agent_type LowCardinality(String),
      provider LowCardinality(String),
      model LowCardinality(String),
      response_model LowCardinality(String),
      outcome LowCardinality(String),
      input_tokens UInt64,
      output_tokens UInt64,
      cached_input_tokens UInt64,
      reasoning_tokens UInt64,
      cost_usd Float64,
      usage_exact Bool,
      trace_id String,
      span_id String,
      service_name LowCardinality(String),
      retention_days UInt16,
      INDEX idx_record_id record_id TYPE bloom_filter(0.001) GRANULARITY 1
    )
    ENGINE = ReplacingMergeTree
    PARTITION BY toYYYYMM(time)
    ORDER BY (tenant_id, toStartOfDay(time), record_id)
    TTL toDateTime(time) + toIntervalDay(retention_days)
    SETTINGS non_replicated_deduplication_window = 10000`,
    `INSERT INTO usage_records (tenant_id, time, record_id, agent_type, provider, model, response_model, outcome,
        input_tokens, output_tokens, cached_input_tokens, reasoning_tokens, cost_usd, usage_exact, trace_id, span_id,
        service_name, retention_days)
     SELECT tenant_id, toDateTime64(start_time, 3, 'UTC'), concat('span:', trace_id, ':', span_id), agent_type,
        attributes['gen_ai.provider.name'],
        if(attributes['gen_ai.request.model'] != '', attributes['gen_ai.request.model'], model),
        attributes['gen_ai.response.model'],
        multiIf(outcome IN ('ok', 'error', 'budget_rejected', 'rate_limited', 'timeout'), outcome, status_code = 2, 'error', 'ok'),
        input_tokens, output_tokens, 0, 0, cost_usd, true, trace_id, span_id, service_name, retention_days
     FROM spans FINAL
     WHERE operation IN ('chat', 'text_completion', 'generate_content', 'embeddings')
     SETTINGS do_not_merge_across_partitions_select_final = 1`,
  ],
};
