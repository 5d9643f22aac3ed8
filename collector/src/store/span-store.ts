import type { SpanRow } from "./span-row.js";

/**
 * Where accepted spans are written. Guarantees: `insertSpans` resolves only once the rows are
 * durable in ClickHouse; inserting the same batch again with the same `batchId` (a retry, a spool
 * replay) never makes any span count twice in query or usage results.
 */
export interface SpanStore {
  insertSpans(rows: readonly SpanRow[], batchId: string): Promise<void>;
  /** Resolves when the store answers a trivial query; rejects otherwise (used by /readyz). */
  ping(): Promise<void>;
  close(): Promise<void>;
}
