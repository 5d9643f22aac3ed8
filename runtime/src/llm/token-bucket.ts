/**
 * A token bucket refilled continuously at `ratePerMinute`, holding at most `capacity` tokens.
 * `tryReserve` is a synchronous check-and-take: callers that are granted a wait hold their tokens
 * already (the balance may go negative), so waiters are served in arrival order and concurrent
 * callers can never take more than the rate allows.
 */
export class TokenBucket {
  #ratePerMs: number;
  #capacity: number;
  #tokens: number;
  #lastMs: number;
  readonly #now: () => number;

  constructor(ratePerMinute: number, capacity: number = ratePerMinute, now: () => number = () => performance.now()) {
    if (!(ratePerMinute > 0) || !(capacity > 0)) throw new RangeError(`token bucket rate and capacity must be positive; got ${ratePerMinute}/min, ${capacity}`);
    this.#ratePerMs = ratePerMinute / 60_000;
    this.#capacity = capacity;
    this.#tokens = capacity;
    this.#now = now;
    this.#lastMs = now();
  }

  /** Changes the rate and capacity, keeping the current balance (clamped to the new capacity). */
  reconfigure(ratePerMinute: number, capacity: number = ratePerMinute): void {
    if (!(ratePerMinute > 0) || !(capacity > 0)) throw new RangeError(`token bucket rate and capacity must be positive; got ${ratePerMinute}/min, ${capacity}`);
    this.#refill();
    this.#ratePerMs = ratePerMinute / 60_000;
    this.#capacity = capacity;
    this.#tokens = Math.min(this.#tokens, capacity);
  }

  /**
   * Takes `n` tokens if they are available within `maxWaitMs`: returns the milliseconds the caller
   * must wait before using them (0 when available now), or undefined (nothing taken) when the wait
   * would be longer than `maxWaitMs`.
   */
  tryReserve(n: number, maxWaitMs: number): number | undefined {
    this.#refill();
    const after = this.#tokens - n;
    const waitMs = after >= 0 ? 0 : -after / this.#ratePerMs;
    if (waitMs > maxWaitMs) return undefined;
    this.#tokens = after;
    return waitMs;
  }

  /** The milliseconds until `n` tokens would be available, without taking anything. */
  waitTimeMs(n: number): number {
    this.#refill();
    const after = this.#tokens - n;
    return after >= 0 ? 0 : -after / this.#ratePerMs;
  }

  /** Gives back `n` tokens (a cancelled waiter, or a call that used fewer tokens than it reserved). */
  refund(n: number): void {
    this.#refill();
    this.#tokens = Math.min(this.#capacity, this.#tokens + n);
  }

  /** Takes `n` more tokens without waiting (a call that used more than it reserved); may go negative. */
  charge(n: number): void {
    this.#refill();
    this.#tokens -= n;
  }

  /** Tokens available now (negative while waiters hold future tokens). */
  get available(): number {
    this.#refill();
    return this.#tokens;
  }

  #refill(): void {
    const now = this.#now();
    const elapsed = now - this.#lastMs;
    if (elapsed > 0) {
      this.#tokens = Math.min(this.#capacity, this.#tokens + elapsed * this.#ratePerMs);
      this.#lastMs = now;
    }
  }
}
