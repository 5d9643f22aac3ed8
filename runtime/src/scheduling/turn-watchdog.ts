const now = (): number => performance.now();

/** The longest delay a Node timer takes (ms). */
const MAX_TIMER_MS = 2_147_483_647;

/**
 * The timer behind turn time budgets. Guarantees: armed only while turns are in flight (it also
 * keeps the process alive then, so a pending send settles), it wakes only when the earliest
 * deadline it was given is due (within `intervalMs`), never on a fixed tick; when it fires it asks
 * `checkDeadlines` to end the turns past their budget and is armed again for the deadline returned.
 */
export class TurnWatchdog {
  #watchdogTimer: ReturnType<typeof setTimeout> | null = null;
  /** When the armed watchdog fires (ms, `now()` clock); Infinity when none is armed. */
  #watchdogDueAt = Number.POSITIVE_INFINITY;
  readonly #watchdogBound = (): void => this.#fire();

  readonly #watchdogIntervalMs: number;
  /** Ends the turns due at `nowMs`; returns the earliest deadline left, or null when no turn is in flight. */
  readonly #checkDeadlines: (nowMs: number) => number | null;

  constructor(
    watchdogIntervalMs: number,
    checkDeadlines: (nowMs: number) => number | null,
  ) {
    this.#watchdogIntervalMs = watchdogIntervalMs;
    this.#checkDeadlines = checkDeadlines;
  }

  /**
   * Arms the watchdog for a running turn's deadline, unless it is armed for one no later (within
   * `watchdogIntervalMs`, so turns starting one after another do not re-arm it each time). An idle
   * runtime, or one whose turns wait on I/O for seconds, takes no timer wake-ups, which matters when
   * several worker processes share few cores.
   */
  watchDeadline(deadlineMs: number): void {
    // The common case, a turn due no earlier than the armed watchdog, reads no clock.
    if (this.#watchdogTimer !== null && deadlineMs >= this.#watchdogDueAt - this.#watchdogIntervalMs) {
      this.#watchdogTimer.ref();
      return;
    }
    // A budget beyond a timer's range (or none) still arms one, which keeps the process alive while the turn runs.
    const t = now();
    const dueAt = Math.min(deadlineMs, t + MAX_TIMER_MS);
    if (this.#watchdogTimer !== null) {
      if (dueAt >= this.#watchdogDueAt - this.#watchdogIntervalMs) {
        this.#watchdogTimer.ref();
        return;
      }
      clearTimeout(this.#watchdogTimer);
    }
    this.#watchdogDueAt = dueAt;
    // Whole milliseconds plus one: the event loop's timer clock counts in cached milliseconds, and a
    // timer that fires before the deadline only to be armed again costs a wake-up for nothing.
    this.#watchdogTimer = setTimeout(this.#watchdogBound, Math.min(MAX_TIMER_MS, Math.max(1, Math.ceil(dueAt - t) + 1)));
  }

  /** The armed timer, or null (it holds the process alive only while turns are in flight). */
  get timer(): ReturnType<typeof setTimeout> | null {
    return this.#watchdogTimer;
  }

  /**
   * Nothing is in flight: the armed timer stays (a turn starting soon needs no new one) but no longer
   * keeps the process alive; if it fires first, it finds nothing and is not armed again.
   */
  idleWatchdog(): void {
    this.#watchdogTimer?.unref();
  }

  /** Disarms the watchdog (the runtime stops). */
  stopWatchdog(): void {
    if (this.#watchdogTimer !== null) clearTimeout(this.#watchdogTimer);
    this.#watchdogTimer = null;
    this.#watchdogDueAt = Number.POSITIVE_INFINITY;
  }

  #fire(): void {
    this.#watchdogTimer = null;
    this.#watchdogDueAt = Number.POSITIVE_INFINITY;
    const earliest = this.#checkDeadlines(now());
    if (earliest !== null) this.watchDeadline(earliest);
  }
}
