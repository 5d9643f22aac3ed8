import { jetstream } from "@nats-io/jetstream";
import { Kvm, type KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { InvalidArgumentError, RateLimitedError, TroupeError } from "../errors.js";
import type { TenantId } from "@troupe/contract";
import { parseNamespace, tenantToken } from "./subjects.js";

/** One tenant's message rate: a token bucket refilled at `messagesPerSecond`, holding at most `burst`. */
export interface RateLimit {
  messagesPerSecond: number;
  burst: number;
}

/** Options of a KV rate limiter. */
export interface KvRateLimiterOptions {
  /**
   * How long tokens taken ahead from the shared bucket stay usable in this process. Bounds the
   * overshoot: over any interval T the cluster admits at most `burst + rate × (T + leaseMs)`.
   * Also sets the batch: each KV round trip takes up to `rate × leaseMs` tokens (at least 1). Default 100.
   */
  leaseMs?: number;
  /** Compare-and-set attempts per refill before the waiting sends fail (TroupeError RATE_LIMITER_CONTENDED). Default 32. */
  maxAttempts?: number;
  /** Sends of one tenant waiting for a refill in this process; beyond it they fail at once (RateLimitedError). Default 10000. */
  maxWaitersPerTenant?: number;
}

/** Counters of a KV rate limiter (a snapshot). */
export interface KvRateLimiterStats {
  /** Messages admitted. */
  admitted: number;
  /** Messages refused with RateLimitedError (bucket empty, or too many waiting). */
  rejected: number;
  /** Of `rejected`: refused because `maxWaitersPerTenant` sends already waited. */
  waitersFull: number;
  /** Compare-and-set round trips that took tokens (or found the bucket short). */
  refills: number;
  /** Compare-and-set attempts lost to another process (retried). */
  conflicts: number;
  /** Tokens taken ahead that expired unused (admitted nowhere: the limiter errs on the side of less). */
  expiredTokens: number;
}

/** One tenant's bucket as stored in the KV entry (JSON). `atMs`: the time `tokens` was computed. */
interface Stored {
  tokens: number;
  atMs: number;
}

interface Waiter {
  resolve: () => void;
  reject: (error: unknown) => void;
}

/** What this process holds for one tenant. */
interface Local {
  tokens: number;
  expiresAtMs: number;
  /** No token can exist in the shared bucket before this time (it was seen empty). */
  emptyUntilMs: number;
  waiters: Waiter[];
  refilling: boolean;
}

/**
 * A per-tenant token bucket in a JetStream KV bucket, shared by every process of a cluster, so a
 * tenant's message rate holds however many processes send. Each tenant is one entry, changed only by
 * compare-and-set on its revision. To keep the cost per message low a process takes a small batch of
 * tokens per KV round trip and spends them locally for at most `leaseMs`; unused ones expire.
 * Guarantees:
 * - every admitted message spent a token taken from the shared bucket at most `leaseMs` before (a
 *   token handed straight to a waiting send: one KV round trip before), so while a round trip is
 *   shorter than `leaseMs` the cluster admits at most `burst + messagesPerSecond × (T + leaseMs/1000)`
 *   over any interval T (the documented overshoot is the `leaseMs` term), whatever the number of processes;
 * - a refused message gets RateLimitedError with `retryAfterMs` (when the next token can exist); a
 *   process that saw the bucket empty refuses locally until then, without a KV round trip;
 * - waiting sends are bounded per tenant (`maxWaitersPerTenant`); beyond it they are refused and counted.
 * Refill times come from each process's clock: processes on different machines need synchronized
 * clocks (NTP); a clock behind only delays refills, it never creates tokens.
 */
export class KvRateLimiter {
  readonly #local = new Map<TenantId, Local>();
  readonly #leaseMs: number;
  readonly #maxAttempts: number;
  readonly #maxWaiters: number;
  readonly #stats: KvRateLimiterStats = { admitted: 0, rejected: 0, waitersFull: 0, refills: 0, conflicts: 0, expiredTokens: 0 };

  readonly #kv: KV;
  readonly #namespace: string;

  constructor(
    kv: KV,
    namespace: string,
    options: KvRateLimiterOptions = {},
  ) {
    this.#kv = kv;
    this.#namespace = namespace;
    this.#leaseMs = positive(options.leaseMs ?? 100, "leaseMs");
    this.#maxAttempts = positiveInt(options.maxAttempts ?? 32, "maxAttempts");
    this.#maxWaiters = positiveInt(options.maxWaitersPerTenant ?? 10_000, "maxWaitersPerTenant");
  }

  /** Opens (creating if needed) the rate bucket of a namespace. Idle tenants' entries expire after an hour (a full bucket again). */
  static async open(nc: NatsConnection, namespace: string, options?: KvRateLimiterOptions): Promise<KvRateLimiter> {
    const kv = await new Kvm(jetstream(nc)).create(rateBucketName(namespace), { history: 1, ttl: 3_600_000 });
    return new KvRateLimiter(kv, parseNamespace(namespace), options);
  }

  /**
   * Takes one message's token for `tenant`. Returns undefined when admitted at once (a token held
   * locally), else a promise that resolves when admitted or rejects with RateLimitedError (or a
   * TroupeError when the bucket cannot be reached).
   */
  take(tenant: TenantId, limit: RateLimit): Promise<void> | undefined {
    checkLimit(limit);
    const now = Date.now();
    const s = this.#stateOf(tenant);
    if (s.waiters.length === 0) {
      if (s.tokens >= 1 && now < s.expiresAtMs) {
        s.tokens--;
        this.#stats.admitted++;
        return undefined;
      }
      this.#expire(s, now);
      if (now < s.emptyUntilMs) return Promise.reject(this.#refusal(tenant, limit, s.emptyUntilMs - now));
    }
    if (s.waiters.length >= this.#maxWaiters) {
      this.#stats.waitersFull++;
      return Promise.reject(this.#refusal(tenant, limit, this.#leaseMs));
    }
    const p = new Promise<void>((resolve, reject) => s.waiters.push({ resolve, reject }));
    if (!s.refilling) void this.#refillLoop(tenant, limit, s);
    return p;
  }

  /** Counters of this process. */
  stats(): KvRateLimiterStats {
    return { ...this.#stats };
  }

  /** Takes tokens from the shared bucket while sends wait, and hands them out in order. */
  async #refillLoop(tenant: TenantId, limit: RateLimit, s: Local): Promise<void> {
    s.refilling = true;
    try {
      while (s.waiters.length > 0) {
        // Spend what is held first (tokens that arrived while the waiters queued).
        let now = Date.now();
        this.#expire(s, now);
        while (s.tokens >= 1 && s.waiters.length > 0) {
          s.tokens--;
          this.#admit(s.waiters.shift()!);
        }
        if (s.waiters.length === 0) break;
        if (now < s.emptyUntilMs) {
          this.#refuseAll(tenant, limit, s, s.emptyUntilMs - now);
          break;
        }
        const want = Math.max(s.waiters.length, this.#batchOf(limit));
        let granted: number;
        let retryAfterMs: number;
        let takenAtMs: number;
        try {
          ({ granted, retryAfterMs, takenAtMs } = await this.#takeShared(tenant, limit, want));
        } catch (err) {
          const failed = s.waiters;
          s.waiters = [];
          for (const w of failed) w.reject(err);
          break;
        }
        now = Date.now();
        while (granted > 0 && s.waiters.length > 0) {
          granted--;
          this.#admit(s.waiters.shift()!);
        }
        if (granted > 0) {
          s.tokens += granted;
          // The lease runs from when the tokens were taken, not from when the answer arrived.
          s.expiresAtMs = takenAtMs + this.#leaseMs;
        }
        if (s.waiters.length > 0 && retryAfterMs > 0) {
          s.emptyUntilMs = now + retryAfterMs;
          this.#refuseAll(tenant, limit, s, retryAfterMs);
        }
      }
    } finally {
      s.refilling = false;
    }
  }

  /** One compare-and-set on the tenant's entry: refill by elapsed time, take up to `want`. */
  async #takeShared(tenant: TenantId, limit: RateLimit, want: number): Promise<{ granted: number; retryAfterMs: number; takenAtMs: number }> {
    const key = `t.${tenantToken(this.#namespace, tenant)}`;
    for (let attempt = 0; attempt < this.#maxAttempts; attempt++) {
      const e = await this.#kv.get(key);
      const current = e !== null && e.operation === "PUT" ? parseStored(e.string()) : undefined;
      const now = Date.now();
      // A clock behind the last writer's waits for it: time never runs backwards in the bucket.
      const atMs = Math.max(now, current?.atMs ?? now);
      const available = current === undefined ? limit.burst : Math.min(limit.burst, current.tokens + (Math.max(0, now - current.atMs) * limit.messagesPerSecond) / 1000);
      const granted = Math.min(want, Math.floor(available));
      const left = available - granted;
      const data = JSON.stringify({ tokens: left, atMs } satisfies Stored);
      try {
        if (e === null) await this.#kv.create(key, data);
        else await this.#kv.update(key, data, e.revision);
        this.#stats.refills++;
        // Short of tokens: come back when a batch can be there, so a tenant over its limit costs at
        // most one round trip per batch interval per process, however hard it pushes.
        const need = Math.min(this.#batchOf(limit), limit.burst);
        const retryAfterMs = granted >= want ? 0 : Math.max(1, Math.ceil(((need - left) * 1000) / limit.messagesPerSecond) + (atMs - now));
        return { granted, retryAfterMs, takenAtMs: now };
      } catch (err) {
        if (!isConflict(err)) {
          throw new TroupeError("BROKER_UNAVAILABLE", `the rate limit of tenant "${tenant}" could not be read: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
        }
        this.#stats.conflicts++;
        await new Promise((r) => setTimeout(r, Math.random() * Math.min(20, 2 ** attempt)));
      }
    }
    throw new TroupeError("RATE_LIMITER_CONTENDED", `the rate limit of tenant "${tenant}" kept changing during ${this.#maxAttempts} attempts; retry later`);
  }

  /** Tokens taken per round trip: `leaseMs` worth of the rate, at least one. */
  #batchOf(limit: RateLimit): number {
    return Math.max(1, Math.floor((limit.messagesPerSecond * this.#leaseMs) / 1000));
  }

  #admit(w: Waiter): void {
    this.#stats.admitted++;
    w.resolve();
  }

  #refuseAll(tenant: TenantId, limit: RateLimit, s: Local, retryAfterMs: number): void {
    const refused = s.waiters;
    s.waiters = [];
    for (const w of refused) w.reject(this.#refusal(tenant, limit, retryAfterMs));
  }

  #refusal(tenant: TenantId, limit: RateLimit, retryAfterMs: number): RateLimitedError {
    this.#stats.rejected++;
    return new RateLimitedError(tenant, `tenant "${tenant}" exceeded its rate of ${limit.messagesPerSecond} messages/s (burst ${limit.burst}) across the cluster`, Math.max(1, Math.ceil(retryAfterMs)));
  }

  #expire(s: Local, now: number): void {
    if (s.tokens > 0 && now >= s.expiresAtMs) {
      this.#stats.expiredTokens += Math.floor(s.tokens);
      s.tokens = 0;
    }
  }

  #stateOf(tenant: TenantId): Local {
    let s = this.#local.get(tenant);
    if (s === undefined) {
      if (this.#local.size >= 10_000) this.#evictIdle();
      s = { tokens: 0, expiresAtMs: 0, emptyUntilMs: 0, waiters: [], refilling: false };
      this.#local.set(tenant, s);
    }
    return s;
  }

  /** Forgets tenants with nothing held or waiting (their state is in the shared bucket). */
  #evictIdle(): void {
    const now = Date.now();
    for (const [t, s] of this.#local) {
      if (s.waiters.length === 0 && !s.refilling && (s.tokens < 1 || now >= s.expiresAtMs)) {
        this.#expire(s, now);
        this.#local.delete(t);
      }
    }
  }
}

/** The KV bucket holding a namespace's shared rate limits. */
export function rateBucketName(namespace: string): string {
  return `troupe_${parseNamespace(namespace)}_rates`;
}

function parseStored(text: string): Stored | undefined {
  try {
    const v = JSON.parse(text) as Partial<Stored>;
    return typeof v.tokens === "number" && typeof v.atMs === "number" && Number.isFinite(v.tokens) && Number.isFinite(v.atMs) ? { tokens: v.tokens, atMs: v.atMs } : undefined;
  } catch {
    return undefined;
  }
}

function checkLimit(limit: RateLimit): void {
  if (!(limit.messagesPerSecond > 0) || !Number.isFinite(limit.messagesPerSecond)) {
    throw new InvalidArgumentError(`messagesPerSecond must be a positive finite number; got ${String(limit.messagesPerSecond)}`);
  }
  if (!(limit.burst >= 1) || !Number.isFinite(limit.burst)) throw new InvalidArgumentError(`burst must be a finite number >= 1; got ${String(limit.burst)}`);
}

function positive(v: number, name: string): number {
  if (!(v > 0) || !Number.isFinite(v)) throw new InvalidArgumentError(`${name} must be a positive number; got ${String(v)}`);
  return v;
}

function positiveInt(v: number, name: string): number {
  if (!Number.isInteger(v) || v < 1) throw new InvalidArgumentError(`${name} must be a positive integer; got ${String(v)}`);
  return v;
}

function isConflict(err: unknown): boolean {
  const text = err instanceof Error ? `${err.message} ${String((err as { code?: unknown }).code ?? "")}` : String(err);
  return /wrong last sequence|10071|key exists|already exists/i.test(text);
}
