import type { SpanRow } from "../store/span-row.js";
import type { SpanStore } from "../store/span-store.js";

/**
 * An in-memory SpanStore for tests and tools: keeps rows, deduplicates on batchId like the real
 * stores, and can be told to fail (to exercise retries and the spool).
 */
export class MemorySpanStore implements SpanStore {
  readonly rows: SpanRow[] = [];
  readonly batchIds = new Set<string>();
  /** Inserts attempted (including duplicates and failures). */
  attempts = 0;
  /** While set, insertSpans and ping reject with this error. */
  failWith: Error | undefined;
  /** Delay every insert by this many ms (a slow store). */
  insertDelayMs = 0;

  async insertSpans(rows: readonly SpanRow[], batchId: string): Promise<void> {
    this.attempts++;
    if (this.insertDelayMs > 0) await new Promise((r) => setTimeout(r, this.insertDelayMs));
    if (this.failWith) throw this.failWith;
    if (this.batchIds.has(batchId)) return;
    this.batchIds.add(batchId);
    for (const row of rows) this.rows.push(row);
  }

  async ping(): Promise<void> {
    if (this.failWith) throw this.failWith;
  }

  async close(): Promise<void> {}
}
