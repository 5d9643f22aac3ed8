import type { ConsumerInfo } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";

/** A holding's share of the attempt count: messages with stream sequence in (afterSeq, upToSeq] were delivered in it and left unacknowledged. */
export type AttemptRange = readonly [afterSeq: number, upToSeq: number];

/** Ranges kept per partition; beyond it the oldest are dropped (a message in them loses those counts). */
export const MAX_ATTEMPT_RANGES = 64;

const PREFIX = "p.";

/**
 * The deliveries of a partition's messages made under earlier holdings of the partition, which
 * JetStream forgets because every new holder recreates the partition's consumer (that is what makes
 * a failover immediate: the dead holder's unacknowledged messages become available at once, instead
 * of after the ack timeout).
 *
 * Guarantee: when a holder takes over from one that did not hand the partition back cleanly (it
 * died, stalled or lost its lease), every message the previous consumer had delivered and not seen
 * acknowledged counts one attempt, recorded in JetStream KV before that consumer is replaced; so a
 * message that kills each worker that runs it is counted once per worker it killed. A clean hand-off
 * (turns drained, consumer deleted by its holder) records nothing: messages the holder had only
 * buffered were never attempted.
 *
 * The record is one KV entry per partition holding at most `MAX_ATTEMPT_RANGES` sequence ranges
 * (one per unclean take-over), pruned below the previous consumer's ack floor (work-queue retention
 * has removed every acknowledged message, so nothing below it can be delivered again).
 */
export class PartitionAttempts {
  readonly #kv: KV;

  constructor(kv: KV) {
    this.#kv = kv;
  }

  /**
   * Records the take-over of `partition` from the consumer described by `previous` (null: there was
   * none, e.g. it was handed back cleanly) and returns the partition's attempt record.
   */
  async takeOver(partition: number, previous: Pick<ConsumerInfo, "delivered" | "ack_floor"> | null): Promise<PriorAttempts> {
    const key = PREFIX + partition;
    for (let attempt = 0; ; attempt++) {
      const entry = await this.#kv.get(key);
      const current = entry === null || entry.operation !== "PUT" ? [] : parseRanges(entry.string());
      let next = current;
      if (previous !== null) {
        const floor = previous.ack_floor.stream_seq;
        const delivered = previous.delivered.stream_seq;
        next = current.filter(([, upTo]) => upTo > floor);
        if (delivered > floor) next.push([floor, delivered]);
        if (next.length > MAX_ATTEMPT_RANGES) next = next.slice(next.length - MAX_ATTEMPT_RANGES);
      }
      if (next === current) return new PriorAttempts(current);
      try {
        const value = JSON.stringify(next);
        if (entry === null) await this.#kv.create(key, value);
        else await this.#kv.update(key, value, entry.revision);
        return new PriorAttempts(next);
      } catch (err) {
        // Another worker wrote it meanwhile (only during overlapping take-overs): read again.
        if (attempt >= 4) throw err;
      }
    }
  }
}

/** Deliveries of a partition's messages under earlier holdings (see PartitionAttempts). */
export class PriorAttempts {
  constructor(readonly ranges: readonly AttemptRange[]) {}

  /** Deliveries of the message at stream sequence `seq` under earlier holdings of its partition. */
  of(seq: number): number {
    let n = 0;
    for (const [after, upTo] of this.ranges) if (seq > after && seq <= upTo) n++;
    return n;
  }
}

function parseRanges(text: string): AttemptRange[] {
  try {
    const raw = JSON.parse(text) as unknown;
    if (!Array.isArray(raw)) return [];
    return raw.filter((r): r is [number, number] => Array.isArray(r) && r.length === 2 && Number.isInteger(r[0]) && Number.isInteger(r[1]));
  } catch {
    return [];
  }
}
