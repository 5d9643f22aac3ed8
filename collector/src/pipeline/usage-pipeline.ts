import type { CollectorMetrics } from "../metrics/collector-metrics.js";
import type { UsageRecordRow } from "../store/usage-record-row.js";
import type { UsageStore } from "../store/usage-store.js";
import type { Spool } from "./spool.js";
import type { SpoolWriterOptions } from "./spool-writer.js";
import { openUsageSpool, type UsageSpoolOptions } from "./usage-spool.js";
import { UsageWriter } from "./usage-writer.js";

/** Where accepted usage records go. `accept` resolves only once the rows are durable (never lost after). */
export interface UsageSink {
  accept(rows: UsageRecordRow[]): Promise<void>;
}

/** Everything the usage pipeline needs. */
export interface UsagePipelineOptions {
  store: UsageStore;
  metrics: CollectorMetrics;
  /** Its own directory: usage records never share a spool with spans. Records are spooled as usage blocks. */
  spool: UsageSpoolOptions;
  writer?: Partial<SpoolWriterOptions>;
}

/** Told the tenants whose usage records were just stored (after each insert). Must not throw. */
export type UsageStoredListener = (tenantIds: ReadonlySet<string>) => void;

/** What /readyz reports about the usage pipeline. */
export interface UsagePipelineHealth {
  spoolBytes: number;
  spoolMaxBytes: number;
  spoolRecords: number;
  /** Usage records accepted and not yet stored. */
  queueDepthRecords: number;
  /** The store's last insert error while inserts fail. */
  storeError: string | undefined;
}

/**
 * Accepted usage records → durable spool (acknowledged) → deduplicated batched store inserts.
 * Guarantees: `accept` resolves after the rows are fsynced to the spool and rejects with
 * `overloaded` (Retry-After) when the spool is at its bound; every accepted record reaches the store
 * even across crashes, and each (tenant, record id) is stored once, the first copy winning.
 */
export class UsagePipeline implements UsageSink {
  readonly spool: Spool<UsageRecordRow>;
  readonly #writer: UsageWriter;
  readonly #metrics: CollectorMetrics;
  readonly #listeners: Set<UsageStoredListener>;

  private constructor(spool: Spool<UsageRecordRow>, writer: UsageWriter, metrics: CollectorMetrics, listeners: Set<UsageStoredListener>) {
    this.spool = spool;
    this.#writer = writer;
    this.#metrics = metrics;
    this.#listeners = listeners;
  }

  /** Opens the spool (replaying what a previous run left) and starts the writer. */
  static async start(options: UsagePipelineOptions): Promise<UsagePipeline> {
    const spool = await openUsageSpool(options.spool);
    if (spool.corruptRecordsAtOpen > 0) options.metrics.usageDropped.inc(["spool_corrupt_record"], spool.corruptRecordsAtOpen);
    const listeners = new Set<UsageStoredListener>();
    const writer = new UsageWriter(spool, options.store, options.metrics, options.writer, (tenantIds) => {
      for (const listener of listeners) listener(tenantIds);
    });
    options.metrics.bindUsageGauges({ queueDepthRecords: () => spool.rowCount(), spoolBytes: () => spool.bytes() });
    writer.start();
    return new UsagePipeline(spool, writer, options.metrics, listeners);
  }

  /** Tells `listener` the tenants of every batch of usage records stored from now on; returns how to stop. */
  onStored(listener: UsageStoredListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async accept(rows: UsageRecordRow[]): Promise<void> {
    if (rows.length === 0) return;
    await this.spool.append(rows);
    this.#metrics.usageAccepted.inc([], rows.length);
  }

  /**
   * Resolves true once every usage record acknowledged before the call is stored (inserted at once,
   * not after the batch delay), false past `timeoutMs`: what budget reads wait for, so that usage a
   * runtime exported and was acknowledged for counts against its budget.
   */
  waitUntilStored(timeoutMs: number): Promise<boolean> {
    return this.#writer.waitUntilStored(timeoutMs);
  }

  health(): UsagePipelineHealth {
    const err = this.#writer.lastError();
    return {
      spoolBytes: this.spool.bytes(),
      spoolMaxBytes: this.spool.maxBytes(),
      spoolRecords: this.spool.recordCount(),
      queueDepthRecords: this.spool.rowCount(),
      storeError: err === undefined ? undefined : err instanceof Error ? err.message : String(err),
    };
  }

  /** Graceful stop: stores what is spooled (up to `flushTimeoutMs`) and closes the spool; the rest waits for the next start. */
  async close(flushTimeoutMs = 10_000): Promise<void> {
    await this.#writer.drainAndStop(flushTimeoutMs);
    await this.spool.close();
  }
}
