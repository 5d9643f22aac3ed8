import type { CollectorMetrics } from "../metrics/collector-metrics.js";
import type { SpanRow } from "../store/span-row.js";
import type { SpanStore } from "../store/span-store.js";
import type { Spool, SpoolBatchRead } from "./spool.js";
import { SpoolWriter, type SpoolWriterOptions } from "./spool-writer.js";

/** How the span writer batches and retries. */
export type SpanWriterOptions = SpoolWriterOptions;

/**
 * Defaults: large inserts (ClickHouse prefers few big parts), visible within a quarter second; past
 * 5,000 spans in that quarter second (20,000 spans/s), within a second while spans keep arriving, in
 * fewer and larger parts: at 40,000 spans/s that took about a fifth of the collector's CPU per span
 * off (chDB's part files and merges; see docs/benchmarks.md).
 */
export const DEFAULT_SPAN_WRITER_OPTIONS: SpanWriterOptions = {
  maxBatchRows: 50_000,
  maxBatchDelayMs: 250,
  busy: { rows: 5_000, delayMs: 1_000, idleMs: 250 },
  initialRetryDelayMs: 100,
  maxRetryDelayMs: 5_000,
};

/**
 * Moves spooled spans into the store, one batch at a time, in spool order. Guarantees: a batch
 * leaves the spool only after `insertSpans` resolved; a failed insert is retried with the same rows
 * and the same batch id (backoff, forever, while the spool absorbs new spans); stopping never drops
 * a batch (what is left is replayed at the next start).
 */
export class SpanWriter extends SpoolWriter<SpanRow> {
  constructor(spool: Spool, store: SpanStore, metrics: CollectorMetrics, options: Partial<SpanWriterOptions> = {}) {
    const insert = async (next: SpoolBatchRead): Promise<void> => {
      const started = performance.now();
      // Spooled span blocks go to the store as they are (no re-encoding); otherwise rows.
      if (next.block && store.insertEncodedSpans) await store.insertEncodedSpans(next.block, next.batchId);
      else await store.insertSpans(next.rows, next.batchId);
      metrics.insertDuration.observe((performance.now() - started) / 1000);
      metrics.spansInserted.inc([], next.block?.rowCount ?? next.rows.length);
    };
    super(spool, insert, () => metrics.insertFailures.inc(), { ...DEFAULT_SPAN_WRITER_OPTIONS, ...options });
  }
}
