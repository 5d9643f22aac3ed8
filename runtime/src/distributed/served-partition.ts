import type { ConsumerConfig, ConsumerMessages, JetStreamClient, JetStreamManager, JsMsg } from "@nats-io/jetstream";
import { PriorAttempts, type PartitionAttempts } from "./partition-attempts.js";

/**
 * One holding of a partition by this worker: a pull subscription on the partition's durable
 * consumer, the holding's fencing token, the deliveries its messages had under earlier holdings, and
 * the count of its messages in flight. Guarantees: no message is taken before the earlier holdings'
 * deliveries are recorded and known (`priorAttempts`); after `stop()` no new message is taken;
 * `drain()` resolves once every taken message is settled (acked or nacked) or the wait times out.
 */
export class ServedPartition {
  #messages: ConsumerMessages | null = null;
  #stopped = false;
  #inFlight = 0;
  #waiters: Array<() => void> = [];
  #prior = new PriorAttempts([]);

  readonly #onMessage: (served: ServedPartition, m: JsMsg) => void;
  readonly #onError: (error: unknown) => void;

  constructor(
    readonly partition: number,
    /** The lease holding this serves under (see PartitionLeases.holds). */
    readonly fencingToken: number,
    onMessage: (served: ServedPartition, m: JsMsg) => void,
    onError: (error: unknown) => void,
  ) {
    this.#onMessage = onMessage;
    this.#onError = onError;
  }

  get isStopped(): boolean {
    return this.#stopped;
  }

  get inFlightCount(): number {
    return this.#inFlight;
  }

  /** Deliveries of the message at stream sequence `seq` under earlier holdings of the partition. */
  priorAttempts(seq: number): number {
    return this.#prior.of(seq);
  }

  /**
   * Records the deliveries the previous consumer made and did not see acknowledged (`attempts`), then
   * recreates the partition's durable consumer and pulls from it; at most `maxMessages` are buffered
   * ahead of the handler. Recreating drops the previous holder's pull requests (which the broker
   * would otherwise keep feeding until they expire) and makes every message it left unacknowledged
   * available at once, so a hand-off or a failover does not wait for the ack timeout.
   */
  async start(
    js: JetStreamClient,
    jsm: JetStreamManager,
    stream: string,
    config: Partial<ConsumerConfig> & { durable_name: string },
    maxMessages: number,
    attempts: PartitionAttempts,
  ): Promise<void> {
    try {
      const previous = await jsm.consumers.info(stream, config.durable_name).catch(() => null);
      if (this.#stopped) return;
      try {
        this.#prior = await attempts.takeOver(this.partition, previous);
      } catch (err) {
        // Serving matters more than the count: the broker's own max_deliver still bounds this holding.
        this.#onError(err);
      }
      if (this.#stopped) return;
      await jsm.consumers.delete(stream, config.durable_name).catch(() => false);
      await jsm.consumers.add(stream, config);
      if (this.#stopped) return;
      const c = await js.consumers.get(stream, config.durable_name);
      if (this.#stopped) return;
      this.#messages = await c.consume({
        max_messages: maxMessages,
        callback: (m) => {
          if (this.#stopped) {
            // Taken after a stop: give it back at once for the next holder.
            m.nak();
            return;
          }
          this.#inFlight++;
          this.#onMessage(this, m);
        },
      });
      if (this.#stopped) this.#closeMessages();
    } catch (err) {
      this.#onError(err);
    }
  }

  /** A message taken from this partition is settled. */
  settled(): void {
    this.#inFlight--;
    if (this.#inFlight === 0 && this.#waiters.length > 0) {
      const w = this.#waiters;
      this.#waiters = [];
      for (const f of w) f();
    }
  }

  /**
   * Deletes the partition's consumer after a clean hand-off (nothing in flight), so the next holder
   * charges no attempt to the messages this one had only buffered. Only the holder may call it.
   */
  async retire(jsm: JetStreamManager, stream: string, durableName: string): Promise<void> {
    if (this.#inFlight !== 0) return;
    await jsm.consumers.delete(stream, durableName).catch(() => false);
  }

  /** Stops taking messages. */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#closeMessages();
  }

  /** Resolves when nothing taken is in flight, or after `timeoutMs`. */
  drain(timeoutMs: number): Promise<void> {
    if (this.#inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      timer.unref();
      this.#waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  #closeMessages(): void {
    const m = this.#messages;
    this.#messages = null;
    if (m !== null) void m.close().catch(() => undefined);
  }
}
