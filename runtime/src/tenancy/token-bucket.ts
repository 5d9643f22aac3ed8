/** A refill rate with its unit: `tokens` every `perMs` milliseconds. */
export interface TokenRate {
  readonly tokens: number;
  readonly perMs: number;
}

/** `tokens` per second (tenant message rates). */
export function perSecond(tokens: number): TokenRate {
  return { tokens, perMs: 1_000 };
}

/** `tokens` per minute (LLM request and token rates, tool calls). */
export function perMinute(tokens: number): TokenRate {
  return { tokens, perMs: 60_000 };
}

/**
 * The one rate-limiting primitive of the runtime: a token bucket refilled continuously at `rate`,
 * holding at most `capacity` tokens (default: one period of the rate), full when created.
 * Guarantees: over any interval t, at most `capacity + rate·t` tokens are taken without being
 * given back; `tryTake` and `tryReserve` are synchronous check-and-take, and a caller granted a
 * wait holds its tokens already (the balance may go negative), so waiters are served in arrival
 * order and concurrent callers can never take more than the rate allows.
 */
export class TokenBucket {
  #rate: TokenRate;
  #capacity: number;
  #tokens: number;
  #lastMs: number;
  readonly #now: () => number;

  /** `now` is the bucket's clock in ms (default `performance.now`, the clock of the runtime's scheduler). */
  constructor(rate: TokenRate, capacity: number = rate.tokens, now: () => number = () => performance.now()) {
    checkRate(rate, capacity);
    this.#rate = rate;
    this.#capacity = capacity;
    this.#tokens = capacity;
    this.#now = now;
    this.#lastMs = now();
  }

  /** Changes the rate and capacity, keeping the tokens already earned (clamped to the new capacity). */
  reconfigure(rate: TokenRate, capacity: number = rate.tokens): void {
    checkRate(rate, capacity);
    this.#refill(this.#now());
    this.#rate = rate;
    this.#capacity = capacity;
    this.#tokens = Math.min(this.#tokens, capacity);
  }

  /**
   * Takes one token if one is available now; never waits. `nowMs` is for a caller that has just
   * read the bucket's clock itself.
   */
  tryTake(nowMs: number = this.#now()): boolean {
    this.#refill(nowMs);
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      return true;
    }
    return false;
  }

  /** Whole milliseconds until one token is available (0 when one is), without taking anything. */
  msUntilNextToken(): number {
    return Math.ceil(this.waitTimeMs(1));
  }

  /**
   * Takes `n` tokens if they are available within `maxWaitMs`: returns the milliseconds the caller
   * must wait before using them (0 when available now), or undefined (nothing taken) when the wait
   * would be longer than `maxWaitMs`.
   */
  tryReserve(n: number, maxWaitMs: number): number | undefined {
    this.#refill(this.#now());
    const after = this.#tokens - n;
    const waitMs = after >= 0 ? 0 : this.#msToEarn(-after);
    if (waitMs > maxWaitMs) return undefined;
    this.#tokens = after;
    return waitMs;
  }

  /** The milliseconds until `n` tokens would be available, without taking anything. */
  waitTimeMs(n: number): number {
    this.#refill(this.#now());
    const after = this.#tokens - n;
    return after >= 0 ? 0 : this.#msToEarn(-after);
  }

  /** Gives back `n` tokens (a cancelled waiter, or a call that used fewer tokens than it reserved). */
  refund(n: number): void {
    this.#refill(this.#now());
    this.#tokens = Math.min(this.#capacity, this.#tokens + n);
  }

  /** Takes `n` more tokens without waiting (a call that used more than it reserved); may go negative. */
  charge(n: number): void {
    this.#refill(this.#now());
    this.#tokens -= n;
  }

  /** Tokens available now (negative while waiters hold future tokens). */
  get available(): number {
    this.#refill(this.#now());
    return this.#tokens;
  }

  #msToEarn(tokens: number): number {
    return (tokens * this.#rate.perMs) / this.#rate.tokens;
  }

  #refill(nowMs: number): void {
    const elapsedMs = nowMs - this.#lastMs;
    // A clock read before the last one earns nothing (and never moves the bucket back).
    if (elapsedMs > 0) {
      this.#tokens = Math.min(this.#capacity, this.#tokens + (elapsedMs * this.#rate.tokens) / this.#rate.perMs);
      this.#lastMs = nowMs;
    }
  }
}

function checkRate(rate: TokenRate, capacity: number): void {
  if (!(rate.tokens > 0) || !(rate.perMs > 0) || !(capacity > 0)) {
    throw new RangeError(`token bucket rate and capacity must be positive; got ${rate.tokens} per ${rate.perMs} ms, capacity ${capacity}`);
  }
}
