/** A per-key span rate: sustained spans per second, and the burst a key may send at once. */
export interface KeyRateLimit {
  spansPerSecond: number;
  /** Bucket size; at least one full request (raised to maxSpansPerRequest by the route). */
  burstSpans: number;
}

/** The answer of `take`: allowed, or refused with the seconds until that many spans would fit. */
export type RateDecision = { ok: true } | { ok: false; retryAfterS: number };

/**
 * Token buckets per ingest key, so one flooding key gets 429s while others keep their share of the
 * spool. Guarantees: a key never sends more than `burstSpans + spansPerSecond·t` spans over any
 * interval t; memory is bounded by `maxKeys` (the least recently used bucket is forgotten, which
 * only ever forgives).
 */
export class KeyRateLimiter {
  readonly #limit: KeyRateLimit;
  readonly #now: () => number;
  readonly #maxKeys: number;
  readonly #buckets = new Map<string, { tokens: number; atMs: number }>();

  constructor(limit: KeyRateLimit, options: { now?: () => number; maxKeys?: number } = {}) {
    if (!(limit.spansPerSecond > 0) || !(limit.burstSpans > 0)) throw new RangeError("rate limit must be positive");
    this.#limit = limit;
    this.#now = options.now ?? Date.now;
    this.#maxKeys = options.maxKeys ?? 10_000;
  }

  /** Takes `spans` tokens from the key's bucket when it holds that many. */
  take(keyId: string, spans: number): RateDecision {
    const now = this.#now();
    const { spansPerSecond, burstSpans } = this.#limit;
    let bucket = this.#buckets.get(keyId);
    if (bucket) {
      this.#buckets.delete(keyId); // re-inserted below: Map order is recency
      bucket.tokens = Math.min(burstSpans, bucket.tokens + ((now - bucket.atMs) / 1000) * spansPerSecond);
      bucket.atMs = now;
    } else {
      bucket = { tokens: burstSpans, atMs: now };
      if (this.#buckets.size >= this.#maxKeys) this.#buckets.delete(this.#buckets.keys().next().value as string);
    }
    this.#buckets.set(keyId, bucket);
    if (bucket.tokens >= spans) {
      bucket.tokens -= spans;
      return { ok: true };
    }
    return { ok: false, retryAfterS: Math.max(1, Math.ceil((Math.min(spans, burstSpans) - bucket.tokens) / spansPerSecond)) };
  }
}
