import { diag } from "@opentelemetry/api";
import { ExportResultCode } from "@opentelemetry/core";
import type { ExportResult } from "@opentelemetry/core";
import type { LogRecordExporter, LogRecordProcessor, ReadWriteLogRecord, ReadableLogRecord } from "@opentelemetry/sdk-logs";
import { USAGE_ATTR, USAGE_EVENT_NAME } from "@troupe/contract";

/** Batching of a UsageLogRecordProcessor; every field has a default. */
export interface UsageBatchOptions {
  /** Records held (waiting, or sent and not yet acknowledged) at most; past it a new record is dropped and counted. Default 65,536. */
  maxQueueSize?: number;
  /** Records per export request at most. Default 512. */
  maxExportBatchSize?: number;
  /** Longest wait before a partial batch is sent. Default 1,000 ms. */
  scheduledDelayMs?: number;
  /** How long `forceFlush` and `shutdown` wait for every held record to be acknowledged. Default 30,000 ms. */
  exportTimeoutMs?: number;
  /** Longest pause between two tries of a batch the receiver could not take (it doubles from 500 ms up to this). Default 30,000 ms. */
  maxRetryDelayMs?: number;
}

/** The defaults of UsageBatchOptions. */
export const DEFAULT_USAGE_BATCH: Readonly<Required<UsageBatchOptions>> = {
  maxQueueSize: 65_536,
  maxExportBatchSize: 512,
  scheduledDelayMs: 1_000,
  exportTimeoutMs: 30_000,
  maxRetryDelayMs: 30_000,
};

/** What a UsageLogRecordProcessor did with the usage records it was given. */
export interface UsageExportStats {
  /** Accepted into the queue. */
  queued: number;
  /** Exported: the receiver acknowledged them. */
  exported: number;
  /** Lost on arrival: the queue already held `maxQueueSize` records, or the pipeline was shut down. */
  dropped: number;
  /** Lost in export: the receiver refused them for good (a 4xx other than 408 and 429), or shutdown came first. */
  failed: number;
  /** Queued and not yet acknowledged or failed. */
  pending: number;
  /** Exports tried again after the receiver could not take them (unreachable, 429, 5xx, timeout). */
  retries: number;
  /** Attributes outside the usage contract removed from records (a record carries nothing else). */
  droppedAttributes: number;
}

const USAGE_ATTRIBUTE_NAMES: ReadonlySet<string> = new Set<string>(Object.values(USAGE_ATTR));
const WARN_EVERY_DROPS = 10_000;
const FIRST_RETRY_DELAY_MS = 500;

/**
 * The export path of usage records (billing data): only log records named USAGE_EVENT_NAME pass (any
 * other log record is not exported, and the logger reports itself disabled for it), stripped of
 * anything outside the contract (a body, unknown attributes). Unlike the SDK's batch processor, a
 * batch the receiver could not take (unreachable, 429, 5xx, a timeout) is not lost: it is tried
 * again, with backoff, until acknowledged — records carry a stable id, so a batch that arrived but
 * whose answer was lost is deduplicated by the collector. Only a permanent refusal (another 4xx)
 * fails a batch. What is held is bounded by `maxQueueSize`: a record arriving past it is dropped, and
 * every lost record is counted in `stats()` and reported through the diag logger. One export is in
 * flight at a time. It never looks at trace sampling.
 */
export class UsageLogRecordProcessor implements LogRecordProcessor {
  readonly #exporter: LogRecordExporter;
  readonly #o: Required<UsageBatchOptions>;
  readonly #stats = { queued: 0, exported: 0, dropped: 0, failed: 0, retries: 0, droppedAttributes: 0 };
  /** Records waiting to be sent, oldest first (a batch to try again goes back to the front). */
  #waiting: ReadableLogRecord[] = [];
  #inFlight = 0;
  #retryDelayMs = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerDueMs = 0;
  #shutdown = false;
  /** Called whenever nothing is held any more. */
  #idle: Array<() => void> = [];

  constructor(exporter: LogRecordExporter, options: UsageBatchOptions = {}) {
    this.#exporter = exporter;
    this.#o = { ...DEFAULT_USAGE_BATCH, ...definedOnly(options) };
    this.#o.maxExportBatchSize = Math.min(this.#o.maxExportBatchSize, this.#o.maxQueueSize);
  }

  /** A snapshot of the counters. */
  stats(): UsageExportStats {
    const s = this.#stats;
    return { ...s, pending: this.#waiting.length + this.#inFlight };
  }

  enabled(options: { eventName?: string }): boolean {
    return options.eventName === USAGE_EVENT_NAME;
  }

  onEmit(record: ReadWriteLogRecord): void {
    if (record.eventName !== USAGE_EVENT_NAME) return;
    if (this.#shutdown || this.#waiting.length + this.#inFlight >= this.#o.maxQueueSize) {
      const dropped = ++this.#stats.dropped;
      if (dropped === 1 || dropped % WARN_EVERY_DROPS === 0) {
        diag.warn(`usage records: ${dropped} dropped so far (${this.#shutdown ? "the pipeline is shut down" : `${this.#o.maxQueueSize} held, none acknowledged yet`}); billing will miss them`);
      }
      return;
    }
    if (record.body !== undefined) record.body = undefined;
    for (const key in record.attributes) {
      if (!USAGE_ATTRIBUTE_NAMES.has(key)) {
        delete (record.attributes as Record<string, unknown>)[key];
        this.#stats.droppedAttributes++;
      }
    }
    this.#stats.queued++;
    this.#waiting.push(record);
    if (this.#waiting.length >= this.#o.maxExportBatchSize && this.#retryDelayMs === 0) this.#schedule(0);
    else this.#schedule(this.#retryDelayMs || this.#o.scheduledDelayMs);
  }

  /** Sends everything held now; resolves once all of it is acknowledged (or failed for good), rejects after `exportTimeoutMs` with what is still held (kept, and still retried). */
  forceFlush(): Promise<void> {
    if (this.#waiting.length + this.#inFlight === 0) return Promise.resolve();
    if (this.#retryDelayMs === 0) this.#schedule(0);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#idle = this.#idle.filter((f) => f !== done);
        reject(new Error(`usage records: ${this.#waiting.length + this.#inFlight} still held after ${this.#o.exportTimeoutMs} ms (the collector has not acknowledged them; they are kept and retried)`));
      }, this.#o.exportTimeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      this.#idle.push(done);
    });
  }

  /** Flushes (up to `exportTimeoutMs`), then stops; records still held are counted as failed. */
  async shutdown(): Promise<void> {
    if (this.#shutdown) return;
    try {
      await this.forceFlush();
    } catch (error) {
      diag.error(String(error));
    }
    this.#shutdown = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    const lost = this.#waiting.length + this.#inFlight;
    if (lost > 0) {
      this.#stats.failed += lost;
      this.#waiting = [];
      diag.error(`usage records: ${lost} never acknowledged before shutdown; billing will miss them`);
    }
    await this.#exporter.shutdown();
  }

  #schedule(delayMs: number): void {
    if (this.#shutdown || this.#inFlight > 0) return;
    const due = Date.now() + delayMs;
    if (this.#timer !== undefined) {
      if (this.#timerDueMs <= due) return;
      clearTimeout(this.#timer);
    }
    this.#timerDueMs = due;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#sendNext();
    }, delayMs);
    // A pending export never keeps a process alive on its own; shutdown flushes what is held.
    this.#timer.unref?.();
  }

  #sendNext(): void {
    if (this.#shutdown || this.#inFlight > 0 || this.#waiting.length === 0) return;
    const batch = this.#waiting.splice(0, this.#o.maxExportBatchSize);
    this.#inFlight = batch.length;
    let answered = false;
    const onResult = (result: ExportResult): void => {
      if (answered) return;
      answered = true;
      this.#inFlight = 0;
      this.#settle(batch, result);
    };
    try {
      this.#exporter.export(batch, onResult);
    } catch (error) {
      onResult({ code: ExportResultCode.FAILED, error: error instanceof Error ? error : new Error(String(error)) });
    }
  }

  #settle(batch: ReadableLogRecord[], result: ExportResult): void {
    if (result.code === ExportResultCode.SUCCESS) {
      this.#stats.exported += batch.length;
      this.#retryDelayMs = 0;
    } else if (isPermanent(result.error)) {
      const failed = (this.#stats.failed += batch.length);
      diag.error(`usage records: the receiver refused ${batch.length} (${failed} lost so far); billing will miss them: ${result.error?.message ?? "no reason given"}`);
    } else {
      if (this.#shutdown) {
        this.#stats.failed += batch.length;
      } else {
        this.#waiting.unshift(...batch);
        this.#stats.retries++;
        this.#retryDelayMs = Math.min(this.#o.maxRetryDelayMs, Math.max(FIRST_RETRY_DELAY_MS, this.#retryDelayMs * 2));
        if (this.#stats.retries === 1 || this.#retryDelayMs === this.#o.maxRetryDelayMs) {
          diag.warn(`usage records: export failed (${result.error?.message ?? "no reason given"}); ${this.#waiting.length} held, next try in ${this.#retryDelayMs} ms`);
        }
      }
    }
    if (this.#waiting.length + this.#inFlight === 0) {
      for (const done of this.#idle.splice(0)) done();
      return;
    }
    const full = this.#waiting.length >= this.#o.maxExportBatchSize;
    const flushing = this.#idle.length > 0;
    this.#schedule(this.#retryDelayMs > 0 ? this.#retryDelayMs : full || flushing ? 0 : this.#o.scheduledDelayMs);
  }
}

/** A refusal that trying again cannot change: an HTTP 4xx other than 408 (timeout) and 429 (too many requests). */
function isPermanent(error: Error | undefined): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === "number" && code >= 400 && code < 500 && code !== 408 && code !== 429;
}

function definedOnly<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as Partial<T>;
}
