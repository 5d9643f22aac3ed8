import type { SpanBlock, SpanBlockBuilder } from "./span-block.js";
import type { SpanRow } from "./span-row.js";

/**
 * Where accepted spans are written. Guarantees: `insertSpans` resolves only once the rows are
 * durable in ClickHouse; inserting the same batch again with the same `batchId` (a retry, a spool
 * replay) never makes any span count twice in query or usage results.
 */
export interface SpanStore {
  insertSpans(rows: readonly SpanRow[], batchId: string): Promise<void>;
  /**
   * Optional fast path, offered together with `insertEncodedSpans`: the block of the rows in a
   * builder (written by a decoder, or added whole), stamped with each tenant's retention, encoded
   * once when the spans are accepted and later inserted as it is (a spool lies between the two).
   * Resolves undefined when it cannot finish now (the store is down); the caller then keeps the
   * rows for `insertSpans`.
   */
  finishBlock?(builder: SpanBlockBuilder): Promise<SpanBlock | undefined>;
  /** Inserts span blocks (from `finishBlock`, possibly several concatenated): same guarantees as `insertSpans`. */
  insertEncodedSpans?(block: SpanBlock, batchId: string): Promise<void>;
  /** Resolves when the store answers a trivial query; rejects otherwise (used by /readyz). */
  ping(): Promise<void>;
  close(): Promise<void>;
}
