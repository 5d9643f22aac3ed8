import type { Spool, SpoolBatchRead } from "./spool.js";

/** How a spool writer batches and retries. */
export interface SpoolWriterOptions {
  /** Insert once this many rows wait (one batch never exceeds it unless one request does). */
  maxBatchRows: number;
  /** ...or once the oldest waiting row is this old. */
  maxBatchDelayMs: number;
  /**
   * Under load: when at least `rows` rows wait once the batch delay is up, wait for more while they
   * keep coming, until the oldest row is `delayMs` old, maxBatchRows wait, or none arrived for
   * `idleMs`. Each insert costs the engine a part of its own in every table it fills, with its files
   * and its later merges, whatever its size: a busy writer makes fewer, larger ones, while a quiet
   * one still stores within the batch delay, and the end of a burst is not held back.
   */
  busy?: { rows: number; delayMs: number; idleMs: number };
  /** First retry delay after a failed insert; doubles up to maxRetryDelayMs. */
  initialRetryDelayMs: number;
  maxRetryDelayMs: number;
}

/**
 * Stores one spool batch; resolves only once its rows are durable in the store. Called again with
 * the same batch after a failure; `attempt` counts from 1 (a failed attempt may have stored part of it).
 */
export type InsertSpoolBatch<Row> = (batch: SpoolBatchRead<Row>, attempt: number) => Promise<void>;

/**
 * Moves spooled rows into a store, one batch at a time, in spool order. Guarantees: a batch leaves
 * the spool only after `insert` resolved; a failed insert is retried with the same rows and the same
 * batch id (backoff, forever, while the spool absorbs new rows); stopping never drops a batch (what
 * is left is replayed at the next start). What a store does with a batch is the `insert` given.
 */
export class SpoolWriter<Row> {
  readonly #spool: Spool<Row>;
  readonly #insert: InsertSpoolBatch<Row>;
  readonly #onFailure: (err: unknown) => void;
  readonly #options: SpoolWriterOptions;
  #running: Promise<void> | undefined;
  #stopping = false;
  #draining = false;
  #wake: (() => void) | undefined;
  #retryWake: (() => void) | undefined;
  #lastError: unknown;
  /** Callers of `waitUntilStored`, each waiting for the spool's consumed count to reach its mark. */
  #storedWaiters: Array<{ mark: number; resolve: (stored: boolean) => void }> = [];
  /** The highest mark waited for: until it is consumed, batches are inserted without the batch delay. */
  #urgentMark = 0;

  /** `onFailure` is told of every failed insert (before its retry wait). */
  constructor(spool: Spool<Row>, insert: InsertSpoolBatch<Row>, onFailure: (err: unknown) => void, options: SpoolWriterOptions) {
    this.#spool = spool;
    this.#insert = insert;
    this.#onFailure = onFailure;
    this.#options = options;
    // New data ends a wait for data or for the batch delay; never a retry wait (see #insertNextBatch).
    spool.onAppend(() => this.#notify());
  }

  /** Starts the background loop (idempotent). */
  start(): void {
    this.#running ??= this.#loop();
  }

  /** The last insert error while the store is failing, undefined once an insert succeeds. */
  lastError(): unknown {
    return this.#lastError;
  }

  /**
   * Inserts everything spooled so far without waiting for the batch delay, then stops. Resolves
   * true when the spool was emptied within `timeoutMs`, false otherwise (the rest stays spooled).
   */
  async drainAndStop(timeoutMs: number): Promise<boolean> {
    this.#draining = true;
    await this.waitUntilStored(timeoutMs);
    const emptied = this.#spool.recordCount() === 0;
    await this.stop();
    return emptied;
  }

  /**
   * Resolves true once every row spooled before the call is stored, false when that takes longer
   * than `timeoutMs` (the store is failing or slow: the rows stay spooled) or the writer is not
   * running. Those rows are inserted without waiting for the batch delay: for a read that must see
   * every acknowledged row.
   */
  waitUntilStored(timeoutMs: number): Promise<boolean> {
    const mark = this.#spool.appendedCount();
    if (this.#spool.consumedCount() >= mark) return Promise.resolve(true);
    if (!this.#running || this.#stopping) return Promise.resolve(false);
    this.#urgentMark = Math.max(this.#urgentMark, mark);
    this.#notify();
    return new Promise((resolve) => {
      const waiter = {
        mark,
        resolve: (stored: boolean) => {
          clearTimeout(timer);
          this.#storedWaiters = this.#storedWaiters.filter((w) => w !== waiter);
          resolve(stored);
        },
      };
      const timer = setTimeout(() => waiter.resolve(false), timeoutMs);
      this.#storedWaiters.push(waiter);
    });
  }

  #tellStoredWaiters(): void {
    const consumed = this.#spool.consumedCount();
    for (const waiter of this.#storedWaiters) if (waiter.mark <= consumed) waiter.resolve(true);
  }

  /** Stops after the insert in flight (if any) settles or its retry wait ends. */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#notify();
    const retryWake = this.#retryWake;
    this.#retryWake = undefined;
    retryWake?.();
    await this.#running;
    this.#running = undefined;
    for (const waiter of this.#storedWaiters) waiter.resolve(false);
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  #wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#wake = undefined;
        resolve();
      }, ms);
      this.#wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  async #loop(): Promise<void> {
    const { maxBatchRows, maxBatchDelayMs, busy } = this.#options;
    while (!this.#stopping) {
      const head = this.#spool.peek();
      if (!head) {
        await this.#wait(maxBatchDelayMs * 4);
        continue;
      }
      const rows = this.#spool.headSegmentRows();
      let dueAtMs = head.appendedAtMs + maxBatchDelayMs;
      if (busy !== undefined && rows >= busy.rows) dueAtMs = Math.max(dueAtMs, Math.min(head.appendedAtMs + busy.delayMs, this.#spool.lastAppendedAtMs() + busy.idleMs));
      const dueInMs = dueAtMs - Date.now();
      const urgent = this.#draining || this.#spool.consumedCount() < this.#urgentMark;
      if (!urgent && !this.#spool.hasOpenBatch() && dueInMs > 0 && rows < maxBatchRows) {
        await this.#wait(dueInMs);
        continue;
      }
      await this.#insertNextBatch();
    }
  }

  async #insertNextBatch(): Promise<void> {
    const next = await this.#spool.nextBatch(this.#options.maxBatchRows);
    if (!next) return;
    // The batch after this one is formed and persisted while this one is inserted (when it is
    // already full), so the next insert does not wait for a state write.
    const preparing = this.#spool.prepareFollowingBatch(this.#options.maxBatchRows).catch(() => undefined);
    let delay = this.#options.initialRetryDelayMs;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#insert(next, attempt);
        this.#lastError = undefined;
        break;
      } catch (err) {
        this.#lastError = err;
        this.#onFailure(err);
        if (this.#stopping) return; // left in the spool, offered again at the next start
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, delay);
          this.#retryWake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.#retryWake = undefined;
        if (this.#stopping) return;
        delay = Math.min(delay * 2, this.#options.maxRetryDelayMs);
      }
    }
    await preparing;
    await this.#spool.commit(next.batch);
    this.#tellStoredWaiters();
  }
}
