import { TroupeError } from "../errors.js";
import type { TenantId } from "@troupe/contract";
import { DEFAULT_TENANT_QUOTA, type TenantSettingsResolver } from "../tenancy/tenant-quota.js";
import type { ClusterSession } from "./cluster-session.js";
import { KvRateLimiter, rateBucketName, type RateLimit } from "./kv-rate-limiter.js";

/**
 * The quotas a DistributedRuntime holds across the cluster, as its tenant settings say: each
 * tenant's message rate, taken at ingress from a token bucket shared in JetStream KV (opened on
 * first use), and its `maxInFlightTurns`, the quota its workers share. Settings are re-read when
 * they change (their version), and at most 100000 tenants are remembered.
 */
export class ClusterQuotas {
  readonly #rateLimits = new Map<TenantId, { version: number; limit: RateLimit | null }>();
  readonly #quotas = new Map<TenantId, { version: number; maxInFlightTurns: number }>();
  #limiter: KvRateLimiter | null = null;
  #limiterOpening: Promise<KvRateLimiter> | null = null;

  readonly #settings: TenantSettingsResolver;
  readonly #session: ClusterSession;
  readonly #rateLimitLeaseMs: number;

  constructor(
    settings: TenantSettingsResolver,
    session: ClusterSession,
    rateLimitLeaseMs: number,
  ) {
    this.#settings = settings;
    this.#session = session;
    this.#rateLimitLeaseMs = rateLimitLeaseMs;
  }

  /**
   * Undefined when the tenant has no rate limit or a token is held here; else a promise of the
   * tenant's turn in the cluster-wide token bucket (RateLimitedError when it is empty).
   */
  rateGate(tenant: TenantId): Promise<void> | undefined {
    let cached = this.#rateLimits.get(tenant);
    if (cached === undefined || cached.version !== this.#settings.version) {
      const s = this.#settings.resolve(tenant);
      cached = { version: this.#settings.version, limit: Number.isFinite(s.messagesPerSecond) ? { messagesPerSecond: s.messagesPerSecond, burst: Number.isFinite(s.burst) ? Math.max(1, s.burst) : Math.max(1, s.messagesPerSecond) } : null };
      if (this.#rateLimits.size >= 100_000) this.#rateLimits.clear();
      this.#rateLimits.set(tenant, cached);
    }
    const limit = cached.limit;
    if (limit === null) return undefined;
    if (this.#limiter !== null) return this.#limiter.take(tenant, limit);
    return this.#openLimiter().then((l) => l.take(tenant, limit));
  }

  #openLimiter(): Promise<KvRateLimiter> {
    const namespace = this.#session.subjects.namespace;
    this.#limiterOpening ??= KvRateLimiter.open(this.#session.nc!, namespace, { leaseMs: this.#rateLimitLeaseMs }).then(
      (l) => (this.#limiter = l),
      (err: unknown) => {
        this.#limiterOpening = null;
        throw new TroupeError("BROKER_UNAVAILABLE", `the rate limit bucket ${rateBucketName(namespace)} could not be opened: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      },
    );
    return this.#limiterOpening;
  }

  /** KV round trips of the rate limiter so far. */
  get rateLimitRefills(): number {
    return this.#limiter?.stats().refills ?? 0;
  }

  /** A tenant's `maxInFlightTurns` as configured (the quota the workers share). */
  inFlightQuotaOf(tenant: TenantId): number {
    let cached = this.#quotas.get(tenant);
    if (cached === undefined || cached.version !== this.#settings.version) {
      let maxInFlightTurns: number;
      try {
        maxInFlightTurns = this.#settings.resolve(tenant).maxInFlightTurns;
      } catch {
        // A tenant assigned to a missing tier: its turns are refused by the local runtime anyway.
        maxInFlightTurns = DEFAULT_TENANT_QUOTA.maxInFlightTurns;
      }
      cached = { version: this.#settings.version, maxInFlightTurns };
      if (this.#quotas.size >= 100_000) this.#quotas.clear();
      this.#quotas.set(tenant, cached);
    }
    return cached.maxInFlightTurns;
  }
}
