/**
 * A token bucket: `ratePerSecond` tokens refill continuously up to `capacity`. `tryTake` never
 * blocks; it answers whether a token was available.
 */
export class TokenBucket {
  private tokens: number;
  private lastMs: number;

  constructor(
    private ratePerSecond: number,
    private capacity: number,
    nowMs: number,
  ) {
    this.tokens = capacity;
    this.lastMs = nowMs;
  }

  /** Changes the rate and capacity, keeping the tokens already earned (capped). */
  reconfigure(ratePerSecond: number, capacity: number): void {
    this.ratePerSecond = ratePerSecond;
    this.capacity = capacity;
    if (this.tokens > capacity) this.tokens = capacity;
  }

  /** Takes one token if available. */
  tryTake(nowMs: number): boolean {
    if (nowMs > this.lastMs) {
      this.tokens = Math.min(this.capacity, this.tokens + ((nowMs - this.lastMs) * this.ratePerSecond) / 1000);
      this.lastMs = nowMs;
    }
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return true;
    }
    return false;
  }

  /** Milliseconds until the next token is available. */
  msUntilNextToken(): number {
    return this.tokens >= 1 ? 0 : Math.ceil(((1 - this.tokens) * 1000) / this.ratePerSecond);
  }
}
