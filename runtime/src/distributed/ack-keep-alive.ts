import type { JsMsg } from "@nats-io/jetstream";

/**
 * Keeps the ack deadline of messages whose turns are running: one timer for all of them (not one
 * per message), which tells the broker every `ackWaitMs / 3` that each tracked message is still
 * being worked on. Guarantees: a tracked message gets its deadline extended within a third of
 * `ackWaitMs` of being tracked and every third after, so only a dead worker's messages are
 * redelivered; an untracked message is never touched again.
 */
export class AckKeepAlive {
  readonly #messages = new Set<JsMsg>();
  #timer: ReturnType<typeof setInterval> | null = null;

  readonly #ackWaitMs: number;

  constructor(ackWaitMs: number) {
    this.#ackWaitMs = ackWaitMs;
  }

  /** Starts extending `m` until `untrack(m)`. */
  track(m: JsMsg): void {
    this.#messages.add(m);
    if (this.#timer === null) {
      this.#timer = setInterval(() => this.#extend(), Math.max(50, Math.floor(this.#ackWaitMs / 3)));
      this.#timer.unref();
    }
  }

  untrack(m: JsMsg): void {
    this.#messages.delete(m);
  }

  /** Messages tracked now. */
  get size(): number {
    return this.#messages.size;
  }

  /** Stops the timer and forgets every message. */
  stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    this.#messages.clear();
  }

  #extend(): void {
    if (this.#messages.size === 0) {
      // Idle: no timer until the next message.
      if (this.#timer !== null) clearInterval(this.#timer);
      this.#timer = null;
      return;
    }
    for (const m of this.#messages) m.working();
  }
}
