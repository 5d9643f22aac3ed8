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
   * Optional fast path, offered together with `insertEncodedSpans`: encodes rows once (when they are
   * accepted) into a span block that is later inserted as it is. Resolves undefined when it
   * cannot encode now (e.g. the store is down); the caller then keeps the rows for `insertSpans`.
   */
  encodeSpans?(rows: readonly SpanRow[]): Promise<SpanBlock | undefined>;
  /**
   * Optional, with `insertEncodedSpans`: the block of rows a decoder wrote straight into a builder,
   * stamped with each tenant's retention. Resolves undefined when it cannot finish now (the store is
   * down); the caller then takes the rows path.
   */
  finishBlock?(builder: SpanBlockBuilder): Promise<SpanBlock | undefined>;
  /** Inserts span blocks (from `encodeSpans`, possibly several concatenated): same guarantees as `insertSpans`. */
  insertEncodedSpans?(block: SpanBlock, batchId: string): Promise<void>;
  /** Resolves when the store answers a trivial query; rejects otherwise (used by /readyz). */
  ping(): Promise<void>;
  close(): Promise<void>;
}
