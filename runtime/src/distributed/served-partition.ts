import type { ConsumerConfig, ConsumerMessages, JetStreamClient, JetStreamManager, JsMsg } from "@nats-io/jetstream";

/**
 * One partition this worker serves: a pull subscription on the partition's durable consumer, and
 * the count of its messages in flight. Guarantees: after `stop()` no new message is taken; `drain()`
 * resolves once every taken message is settled (acked or nacked) or the wait times out.
 */
export class ServedPartition {
  private messages: ConsumerMessages | null = null;
  private stopped = false;
  private inFlight = 0;
  private waiters: Array<() => void> = [];

  constructor(
    readonly partition: number,
    private readonly onMessage: (served: ServedPartition, m: JsMsg) => void,
    private readonly onError: (error: unknown) => void,
  ) {}

  get isStopped(): boolean {
    return this.stopped;
  }

  get inFlightCount(): number {
    return this.inFlight;
  }

  /**
   * Recreates the partition's durable consumer, then pulls from it; at most `maxMessages` are
   * buffered ahead of the handler. Recreating drops the previous holder's pull requests (which the
   * broker would otherwise keep feeding until they expire) and makes every message it left
   * unacknowledged available at once, so a hand-off or a failover does not wait for the ack timeout.
   */
  async start(js: JetStreamClient, jsm: JetStreamManager, stream: string, config: Partial<ConsumerConfig> & { durable_name: string }, maxMessages: number): Promise<void> {
    try {
      await jsm.consumers.delete(stream, config.durable_name).catch(() => false);
      await jsm.consumers.add(stream, config);
      if (this.stopped) return;
      const c = await js.consumers.get(stream, config.durable_name);
      if (this.stopped) return;
      this.messages = await c.consume({
        max_messages: maxMessages,
        callback: (m) => {
          if (this.stopped) {
            // Taken after a stop: give it back at once for the next holder.
            m.nak();
            return;
          }
          this.inFlight++;
          this.onMessage(this, m);
        },
      });
      if (this.stopped) this.closeMessages();
    } catch (err) {
      this.onError(err);
    }
  }

  /** A message taken from this partition is settled. */
  settled(): void {
    this.inFlight--;
    if (this.inFlight === 0 && this.waiters.length > 0) {
      const w = this.waiters;
      this.waiters = [];
      for (const f of w) f();
    }
  }

  /** Stops taking messages. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.closeMessages();
  }

  /** Resolves when nothing taken is in flight, or after `timeoutMs`. */
  drain(timeoutMs: number): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      timer.unref();
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private closeMessages(): void {
    const m = this.messages;
    this.messages = null;
    if (m !== null) void m.close().catch(() => undefined);
  }
}
