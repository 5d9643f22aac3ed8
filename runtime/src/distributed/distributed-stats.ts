/** Counters of one DistributedRuntime (a snapshot). */
export interface DistributedStats {
  workerId: string;
  partitions: number[];
  sent: number;
  published: number;
  handled: number;
  /** Messages whose caller had given up before a worker took them (acknowledged, not run). */
  expired: number;
  /** Messages delivered again by the same partition holding (ack timeout, nak). */
  redelivered: number;
  /** Malformed messages, or messages whose tenant did not match their subject (terminated). */
  rejected: number;
  /** Messages given up after `maxDeliver` deliveries that did not complete (terminated, caller answered with PoisonMessageError). */
  deadLettered: number;
  /**
   * Turns whose result was discarded because this worker may have lost the partition's lease while
   * they ran (it stalled past the lease TTL): neither acknowledged nor answered; the partition's
   * holder runs the message again.
   */
  fenced: number;
  pendingCalls: number;
  timeouts: number;
  lateReplies: number;
  /** Sends refused because too many calls were pending. */
  pendingFull: number;
  /** Sends and publishes refused by the tenant's cluster-wide rate limit (RateLimitedError). */
  rateLimited: number;
  /** KV round trips of the cluster-wide rate limiter (each takes a batch of tokens). */
  rateLimitRefills: number;
}

/** The counters a DistributedRuntime's parts increment (the rest of DistributedStats is read from its parts). */
export type DistributedCounters = Pick<DistributedStats, "sent" | "published" | "handled" | "expired" | "redelivered" | "rejected" | "deadLettered" | "fenced" | "pendingFull" | "rateLimited">;

/** All counters at zero. */
export function newDistributedCounters(): DistributedCounters {
  return { sent: 0, published: 0, handled: 0, expired: 0, redelivered: 0, rejected: 0, deadLettered: 0, fenced: 0, pendingFull: 0, rateLimited: 0 };
}
