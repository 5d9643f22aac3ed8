interface KeyState {
  lastAtMs: number;
  pending: { count: number; line: (count: number) => string } | undefined;
  timer: NodeJS.Timeout | undefined;
}

/**
 * Log lines about a recurring event, at most one per `intervalMs` for each key: the first report
 * is written at once; later ones within the interval are summed and written when it ends (one line
 * with the count and the latest detail), so a destination failing every batch logs once a minute,
 * not once a batch. The timer it sets does not keep the process alive; `flush` writes what is pending.
 */
export class IntervalLog {
  readonly #write: (line: string) => void;
  readonly #intervalMs: number;
  readonly #keys = new Map<string, KeyState>();

  constructor(write: (line: string) => void, intervalMs: number) {
    this.#write = write;
    this.#intervalMs = intervalMs;
  }

  /** Reports `count` occurrences under `key`; `line(total)` words the line for the total written. */
  report(key: string, count: number, line: (count: number) => string): void {
    const now = Date.now();
    let state = this.#keys.get(key);
    if (state === undefined) this.#keys.set(key, (state = { lastAtMs: -Infinity, pending: undefined, timer: undefined }));
    if (state.pending === undefined && now - state.lastAtMs >= this.#intervalMs) {
      state.lastAtMs = now;
      this.#write(line(count));
      return;
    }
    state.pending = { count: (state.pending?.count ?? 0) + count, line };
    if (state.timer === undefined) {
      const s = state;
      s.timer = setTimeout(() => this.#flushKey(s), Math.max(0, s.lastAtMs + this.#intervalMs - now));
      s.timer.unref();
    }
  }

  /** Writes every pending line now. */
  flush(): void {
    for (const state of this.#keys.values()) this.#flushKey(state);
  }

  #flushKey(state: KeyState): void {
    if (state.timer !== undefined) clearTimeout(state.timer);
    state.timer = undefined;
    const pending = state.pending;
    if (pending === undefined) return;
    state.pending = undefined;
    state.lastAtMs = Date.now();
    this.#write(pending.line(pending.count));
  }
}
