import { CollectorError } from "../errors.js";
import { RETRIES_REACH_VIEWS, type ClickHouseGateway, type InsertOptions } from "./clickhouse-gateway.js";
import { SPAN_BLOCK_FORMAT, spanBlockColumnNames, SpanBlockBuilder, type SpanBlock } from "./span-block.js";
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
 * Span inserts skip the per-insert replacing merge (`optimize_on_insert`): it cost about a third of
 * the engine's insert time, and exactness never depended on it — a span re-sent in another batch is
 * only collapsed by background merges anyway, which is why every counting read uses FINAL.
 */
const SPAN_INSERT_SETTINGS: InsertOptions["settings"] = { optimize_on_insert: 0, ...RETRIES_REACH_VIEWS };

/**
 * The SpanStore on ClickHouse (chDB or a server, through the gateway). Guarantees: a batch is
 * durable when `insertSpans` resolves; the batch id is the insert deduplication token, so a replayed
 * batch writes nothing; spans re-sent in another batch collapse by (tenant, trace, span) and queries
 * read with FINAL. Rows travel as span blocks (ClickHouse Native: encoded once, read by the engine without parsing text).
 * `close()` stops accepting inserts; it does not close the shared gateway.
 */
export function createClickHouseSpanStore(gateway: ClickHouseGateway, options: ClickHouseSpanStoreOptions = {}): SpanStore {
  const retentionDaysOf = options.retentionDaysOf ?? (() => DEFAULT_RETENTION_DAYS);
  let closed = false;

  const finish = async (builder: SpanBlockBuilder): Promise<SpanBlock> => {
    const retention = new Map<string, number>();
    for (const tenantId of builder.tenantIds()) retention.set(tenantId, await retentionDaysOf(tenantId));
    return builder.finish((tenantId) => retention.get(tenantId) ?? DEFAULT_RETENTION_DAYS);
  };

  const insertBlock = async (block: SpanBlock, batchId: string): Promise<void> => {
    if (closed) throw new CollectorError("store_unavailable", "the span store is closed");
    if (block.rowCount === 0) return;
    await gateway.insertFormatted(
      "spans",
      { format: SPAN_BLOCK_FORMAT, columns: spanBlockColumnNames(block.payload), payload: block.payload },
      { dedupToken: batchId, settings: SPAN_INSERT_SETTINGS },
    );
  };

  return {
    async insertSpans(rows: readonly SpanRow[], batchId: string): Promise<void> {
      if (closed) throw new CollectorError("store_unavailable", "the span store is closed");
      if (rows.length === 0) return;
      await insertBlock(await finish(SpanBlockBuilder.of(rows)), batchId);
    },

    async finishBlock(builder: SpanBlockBuilder): Promise<SpanBlock | undefined> {
      try {
        return await finish(builder);
      } catch {
        // A retention lookup failed (the store is down): the caller keeps the rows; insertSpans looks again later.
        return undefined;
      }
    },

    insertEncodedSpans: insertBlock,

    async ping(): Promise<void> {
      await gateway.query("SELECT 1 AS ok");
    },

    async close(): Promise<void> {
      closed = true;
    },
  };
}
