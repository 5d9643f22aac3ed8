import { CollectorError } from "../errors.js";
import type { ClickHouseGateway } from "./clickhouse-gateway.js";
import type { SpanRow } from "./span-row.js";
import type { SpanStore } from "./span-store.js";

/** Retention applied when a tenant has no setting of its own. */
export const DEFAULT_RETENTION_DAYS = 30;

/** Options of the ClickHouse span store. */
export interface ClickHouseSpanStoreOptions {
  /** The tenant's retention in days, stamped on each row (the table's TTL reads it). Default: 30 for all. */
  retentionDaysOf?: (tenantId: string) => Promise<number> | number;
}

/**
 * The SpanStore on ClickHouse (chDB or a server, through the gateway). Guarantees: a batch is
 * durable when `insertSpans` resolves; the batch id is the insert deduplication token, so a replayed
 * batch writes nothing; spans re-sent in another batch collapse by (tenant, trace, span) and queries
 * read with FINAL. `close()` stops accepting inserts; it does not close the shared gateway.
 */
export function createClickHouseSpanStore(gateway: ClickHouseGateway, options: ClickHouseSpanStoreOptions = {}): SpanStore {
  const retentionDaysOf = options.retentionDaysOf ?? (() => DEFAULT_RETENTION_DAYS);
  let closed = false;

  return {
    async insertSpans(rows: readonly SpanRow[], batchId: string): Promise<void> {
      if (closed) throw new CollectorError("store_unavailable", "the span store is closed");
      if (rows.length === 0) return;
      const retention = new Map<string, number>();
      for (const row of rows) {
        if (!retention.has(row.tenantId)) retention.set(row.tenantId, await retentionDaysOf(row.tenantId));
      }
      const records = rows.map((row) => toSpanRecord(row, retention.get(row.tenantId) ?? DEFAULT_RETENTION_DAYS));
      await gateway.insert("spans", records, { dedupToken: batchId });
    },

    async ping(): Promise<void> {
      await gateway.query("SELECT 1 AS ok");
    },

    async close(): Promise<void> {
      closed = true;
    },
  };
}

/** The spans-table record of a SpanRow (derived columns are computed by the table itself). */
export function toSpanRecord(row: SpanRow, retentionDays: number): Record<string, unknown> {
  return {
    tenant_id: row.tenantId,
    trace_id: row.traceId,
    span_id: row.spanId,
    parent_span_id: row.parentSpanId,
    name: row.name,
    kind: row.kind,
    start_time: nanosToSecondsText(row.startTimeUnixNano),
    duration_ns: row.durationNs,
    status_code: row.statusCode,
    service_name: row.serviceName,
    attributes: row.attributes,
    resource_attributes: row.resourceAttributes,
    retention_days: Math.max(1, Math.min(65535, Math.floor(retentionDays))),
  };
}

/**
 * "1700000000123456789" → "1700000000.123456789": seconds with a 9-digit fraction, which ClickHouse
 * parses into DateTime64(9) exactly and without guessing the unit.
 */
export function nanosToSecondsText(unixNano: string): string {
  const digits = /^\d{1,20}$/.test(unixNano) ? unixNano.replace(/^0+(?=\d)/, "") : "0";
  const padded = digits.padStart(10, "0");
  return `${padded.slice(0, -9)}.${padded.slice(-9)}`;
}
