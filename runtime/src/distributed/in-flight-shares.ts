import { KvWatchInclude, type KV, type KvEntry } from "@nats-io/kv";
import type { TenantId } from "@troupe/contract";

/** Options of InFlightShares. */
export interface InFlightSharesOptions {
  /** The namespace's shares bucket (no TTL: dead workers' shares are dropped by the others). */
  kv: KV;
  workerId: string;
  /** The KV key of a tenant's shares (a hash: no tenant text in keys). */
  keyOf: (tenant: TenantId) => string;
  /** Live workers of the cluster (the lease keeper's membership). */
  liveWorkers: () => readonly string[];
  /** A share of a worker missing from `liveWorkers` and not written for this long is dropped (the lease TTL). */
  staleAfterMs: number;
  /** The tenant's cluster-wide in-flight quota now. */
  quotaOf: (tenant: TenantId) => number;
  /** The tenant's turns running on this worker now. */
  runningOf: (tenant: TenantId) => number;
  /** Applies this worker's cap on the tenant's running turns. */
  cap: (tenant: TenantId, cap: number) => void;
  onError: (error: unknown) => void;
  /** A share is kept this long after the worker's last message of the tenant, unless another worker waits for room. Default 250. */
  idleReleaseMs?: number;
  /** When the quota does not divide evenly, which workers get one more turn rotates this often. Default 1000. */
  rotateMs?: number;
  /** A worker short of its target share asks again this often (a dead worker's share frees only by staleness). Default 250. */
  retryMs?: number;
}

/** One worker's share of a tenant's quota as stored: `g` turns it may run; `at` when it last wrote (ms). */
type Shares = Record<string, { g: number; at: number }>;

interface TenantShare {
  readonly tenant: TenantId;
  readonly key: string;
  /** Messages of the tenant this worker holds (taken from the broker, not settled). */
  demand: number;
  /** This worker asks for a share (it has messages, or had them within idleReleaseMs). */
  wanting: boolean;
  /** This worker's share as last written (what the cap is derived from). */
  grant: number;
  /** This worker's fair share among the wanting workers, as last computed. */
  target: number;
  /** Revision of our last write (its watch event needs no reaction). */
  writtenRevision: number;
  /** The shares as last read or watched. */
  seen: Shares;
  busy: boolean;
  again: boolean;
  timer: ReturnType<typeof setTimeout> | null;
}

/**
 * Splits each tenant's in-flight quota (`maxInFlightTurns`) among the workers that have its messages,
 * so the quota holds across the cluster without a round trip per turn. Guarantees:
 * - the shares recorded in one KV entry per tenant never sum above the quota (every change is a
 *   compare-and-set on the whole entry), and a worker never runs more of the tenant's turns than its
 *   recorded share (it raises its local cap only after its larger share is written, lowers it before
 *   writing a smaller one, and never records less than it is running) — so the tenant's turns running
 *   cluster-wide never exceed its quota. The exception is a worker that stalls past the lease TTL: its
 *   share is dropped by the others, and turns it was running when it froze finish after it resumes
 *   (their results are discarded by lease fencing, but they did run);
 * - the quota q is split among the M workers that want a share: floor(q/M) each and one more for
 *   q mod M of them, chosen in rotation (every `rotateMs`), so with q < M each worker gets turns in turn;
 * - KV traffic is per change of demand (a tenant's messages appear on or vanish from a worker, after
 *   `idleReleaseMs`), per rotation when q mod M ≠ 0, and per retry while a share is short — not per turn.
 */
export class InFlightShares {
  readonly #tenants = new Map<TenantId, TenantShare>();
  readonly #byKey = new Map<string, TenantShare>();
  readonly #idleReleaseMs: number;
  readonly #rotateMs: number;
  readonly #retryMs: number;
  #watcher: { stop(): void } | null = null;
  #stopped = false;

  readonly #o: InFlightSharesOptions;

  constructor(o: InFlightSharesOptions) {
    this.#o = o;
    this.#idleReleaseMs = o.idleReleaseMs ?? 250;
    this.#rotateMs = o.rotateMs ?? 1000;
    this.#retryMs = o.retryMs ?? 250;
  }

  /** Watches other workers' changes (a freed share is taken at once, not at the next retry). */
  async start(): Promise<void> {
    const iter = await this.#o.kv.watch({ key: "t.>", include: KvWatchInclude.UpdatesOnly });
    this.#watcher = iter;
    void (async () => {
      for await (const e of iter) this.#onWatch(e);
    })().catch((err: unknown) => this.#o.onError(err));
  }

  /** This worker took a message of `tenant` from the broker (before handing it to the local runtime). */
  taken(tenant: TenantId): void {
    let s = this.#tenants.get(tenant);
    if (s === undefined) {
      s = { tenant, key: this.#o.keyOf(tenant), demand: 0, wanting: false, grant: 0, target: 0, writtenRevision: 0, seen: {}, busy: false, again: false, timer: null };
      this.#tenants.set(tenant, s);
      this.#byKey.set(s.key, s);
      // No turn of the tenant starts here before a share is written.
      this.#o.cap(tenant, 0);
    }
    if (s.demand++ === 0) {
      this.#clearTimer(s);
      if (!s.wanting) {
        s.wanting = true;
        void this.#reconcile(s);
      } else this.#arm(s);
    }
  }

  /** A message of `tenant` taken by this worker is settled (its turn ended, or it was given back). */
  settled(tenant: TenantId): void {
    const s = this.#tenants.get(tenant);
    if (s === undefined) return;
    s.demand--;
    if (s.demand === 0) {
      if (this.#othersWait(s, s.seen)) this.#release(s);
      else this.#setTimer(s, this.#idleReleaseMs);
    } else if (s.grant > s.target) {
      // Shrinking towards a smaller share: record it as the running turns end.
      void this.#reconcile(s);
    }
  }

  /** This worker's recorded share of `tenant` (for stats and tests). */
  shareOf(tenant: TenantId): number {
    return this.#tenants.get(tenant)?.grant ?? 0;
  }

  /** Gives every share back (the worker leaves) and stops watching. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#watcher?.stop();
    this.#watcher = null;
    await Promise.all(
      [...this.#tenants.values()].map(async (s) => {
        this.#clearTimer(s);
        s.wanting = false;
        if (s.grant > 0 || s.seen[this.#o.workerId] !== undefined) await this.#reconcileOnce(s).catch((err: unknown) => this.#o.onError(err));
      }),
    );
  }

  #onWatch(e: KvEntry): void {
    const s = this.#byKey.get(e.key);
    if (s === undefined || e.revision === s.writtenRevision) return;
    const shares = e.operation === "PUT" ? parseShares(e.string()) : {};
    s.seen = shares;
    if (s.demand === 0 && s.wanting && this.#othersWait(s, shares)) this.#release(s);
    else if (s.wanting || s.grant > 0) void this.#reconcile(s);
  }

  /** True when another worker wants more than it has and this worker holds a share. */
  #othersWait(s: TenantShare, shares: Shares): boolean {
    if (s.grant === 0) return false;
    const targets = split(this.#o.quotaOf(s.tenant), Object.keys(shares), Date.now(), this.#rotateMs);
    return Object.entries(shares).some(([w, v]) => w !== this.#o.workerId && v.g < (targets.get(w) ?? 0));
  }

  #release(s: TenantShare): void {
    this.#clearTimer(s);
    if (s.demand > 0) return;
    s.wanting = false;
    void this.#reconcile(s);
  }

  /** Brings this worker's recorded share and cap in line with its fair share; one at a time per tenant. */
  async #reconcile(s: TenantShare): Promise<void> {
    if (this.#stopped) return;
    if (s.busy) {
      s.again = true;
      return;
    }
    s.busy = true;
    try {
      do {
        s.again = false;
        await this.#reconcileOnce(s);
      } while (s.again && !this.#stopped);
    } catch (err) {
      this.#o.onError(err);
      if (s.wanting) this.#setTimer(s, this.#retryMs);
    } finally {
      s.busy = false;
    }
    if (!s.wanting && s.grant === 0 && s.demand === 0 && !s.busy) {
      this.#tenants.delete(s.tenant);
      this.#byKey.delete(s.key);
    }
  }

  async #reconcileOnce(s: TenantShare): Promise<void> {
    const me = this.#o.workerId;
    for (let attempt = 0; ; attempt++) {
      const entry = await this.#o.kv.get(s.key);
      const exists = entry !== null && entry.operation === "PUT";
      const shares = exists ? parseShares(entry.string()) : {};
      const quota = this.#o.quotaOf(s.tenant);
      const now = Date.now();
      const live = new Set(this.#o.liveWorkers());
      let changed = false;
      for (const [w, v] of Object.entries(shares)) {
        if (w !== me && !live.has(w) && now - v.at > this.#o.staleAfterMs) {
          delete shares[w];
          changed = true;
        }
      }
      const running = this.#o.runningOf(s.tenant);
      const mine = shares[me];
      const recorded = mine?.g ?? 0;
      const wanting = s.wanting;
      const targets = split(quota, wanting && mine === undefined ? [...Object.keys(shares), me] : Object.keys(shares), now, this.#rotateMs);
      const target = wanting ? (targets.get(me) ?? 0) : 0;
      let others = 0;
      for (const [w, v] of Object.entries(shares)) if (w !== me) others += v.g;
      const room = Math.max(0, quota - others);
      let grant: number;
      if (target >= recorded && recorded <= room) grant = Math.max(recorded, Math.min(target, room));
      // Shrinking (or the quota was lowered): never below the turns running here.
      else grant = Math.min(recorded, Math.max(Math.min(target, room), running));
      // Lower the cap before recording a smaller share; raise it only after a larger one is recorded.
      // Before the write the cap stays within the share recorded now too: the write may lose a race.
      if (grant < recorded || target < s.target) this.#o.cap(s.tenant, Math.min(grant, target, recorded));
      if (!wanting && grant === 0) {
        if (mine !== undefined) {
          delete shares[me];
          changed = true;
        }
      } else if (mine === undefined || mine.g !== grant) {
        // Present even with 0: the entry is how the others learn that this worker waits for room.
        shares[me] = { g: grant, at: now };
        changed = true;
      }
      if (!changed) {
        this.#adopt(s, grant, target, shares);
        return;
      }
      try {
        const value = JSON.stringify(shares);
        let revision: number;
        if (Object.keys(shares).length === 0) revision = await this.#o.kv.delete(s.key, { previousSeq: entry!.revision }).then(() => 0);
        else if (exists) revision = await this.#o.kv.update(s.key, value, entry.revision);
        else revision = await this.#o.kv.create(s.key, value);
        s.writtenRevision = revision;
        this.#adopt(s, grant, target, shares);
        return;
      } catch (err) {
        // Another worker changed the entry meanwhile: read it again.
        if (attempt >= 20) throw err;
      }
    }
  }

  #adopt(s: TenantShare, grant: number, target: number, shares: Shares): void {
    s.grant = grant;
    s.target = target;
    s.seen = shares;
    this.#o.cap(s.tenant, Math.min(grant, target));
    this.#arm(s);
  }

  /** While the tenant has messages here: ask again when short of the fair share, or at the next rotation. */
  #arm(s: TenantShare): void {
    if (!s.wanting || s.demand === 0) return;
    const workers = Object.keys(s.seen).length;
    if (s.grant < s.target) this.#setTimer(s, this.#retryMs);
    else if (workers > 0 && this.#o.quotaOf(s.tenant) % workers !== 0) this.#setTimer(s, this.#rotateMs - (Date.now() % this.#rotateMs) + 1);
  }

  #setTimer(s: TenantShare, ms: number): void {
    this.#clearTimer(s);
    if (this.#stopped) return;
    s.timer = setTimeout(() => {
      s.timer = null;
      if (s.demand === 0 && s.wanting) this.#release(s);
      else void this.#reconcile(s);
    }, ms);
    s.timer.unref();
  }

  #clearTimer(s: TenantShare): void {
    if (s.timer !== null) clearTimeout(s.timer);
    s.timer = null;
  }
}

/**
 * The fair shares of a quota among workers: floor(quota/M) each, and one more for quota mod M of them,
 * taken in sorted order from an offset that advances every `rotateMs` (the same on every worker
 * with the same clock and membership).
 */
export function split(quota: number, workers: readonly string[], nowMs: number, rotateMs: number): Map<string, number> {
  const sorted = [...workers].sort();
  const out = new Map<string, number>();
  const m = sorted.length;
  if (m === 0) return out;
  const base = Math.floor(quota / m);
  const extra = quota % m;
  const offset = extra === 0 ? 0 : Math.floor(nowMs / rotateMs) % m;
  sorted.forEach((w, i) => out.set(w, base + ((i - offset + m) % m < extra ? 1 : 0)));
  return out;
}

function parseShares(text: string): Shares {
  try {
    const raw = JSON.parse(text) as unknown;
    if (raw === null || typeof raw !== "object" || Array.isArray(raw)) return {};
    const out: Shares = {};
    for (const [w, v] of Object.entries(raw as Record<string, unknown>)) {
      const o = v as { g?: unknown; at?: unknown } | null;
      if (o !== null && typeof o === "object" && Number.isInteger(o.g) && typeof o.at === "number") out[w] = { g: o.g as number, at: o.at };
    }
    return out;
  } catch {
    return {};
  }
}
