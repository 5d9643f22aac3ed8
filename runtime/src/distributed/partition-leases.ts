import { createHash } from "node:crypto";
import type { KV } from "@nats-io/kv";

/** What the lease keeper tells the owner of partitions. */
export interface PartitionOwner {
  /**
   * This worker now holds the partition: start serving it. `fencingToken` identifies this holding
   * (the KV revision that created the lease): a later holding of the partition has a larger one.
   */
  acquired(partition: number, fencingToken: number): void;
  /** Hand-off: stop taking messages of the partition and settle those in flight; the lease is freed after. */
  release(partition: number): Promise<void>;
  /** The lease was lost (expired, taken): stop serving at once; unacknowledged messages will be redelivered. */
  lost(partition: number): void;
}

/** Options of the lease keeper. */
export interface PartitionLeasesOptions {
  kv: KV;
  workerId: string;
  partitions: number;
  leaseTtlMs: number;
  owner: PartitionOwner;
  /** Reports failures of a tick (the keeper keeps going). */
  onError?: (error: unknown) => void;
}

const WORKER_PREFIX = "w.";
const LEASE_PREFIX = "p.";

/** One partition this worker holds. */
interface Holding {
  /** Revision of the lease entry now (changes at every renewal; the compare-and-set base). */
  revision: number;
  /** Revision that created the entry: the holding's fencing token, fixed while it lasts. */
  token: number;
  /** performance.now() when the last successful create/renewal was sent: the broker's expiry is later. */
  sentAtMs: number;
}

/**
 * Places partitions on live workers through leases in a JetStream KV bucket whose entries expire
 * after the lease TTL. Guarantees:
 * - a partition is held by at most one worker at a time, as long as a holder's renewals reach the
 *   broker within the TTL (a lease is created only when absent and renewed by compare-and-set on its
 *   revision; a holder whose renewal fails stops serving at once);
 * - partitions spread evenly over the live workers (`placePartitions`: at most one partition more on
 *   one worker than on another), by rendezvous hashing with bounded loads, so adding or removing a
 *   worker moves mostly the partitions it gains or loses;
 * - hand-off when a worker joins or leaves is graceful: the holder drains the partition before it
 *   frees the lease; a worker that dies frees its leases by expiry;
 * - fencing: each holding has a token (the revision that created its lease; later holdings have
 *   larger ones), and `holds(partition, token)` is false as soon as the lease may have expired by the
 *   local clock (no successful renewal sent within the TTL, less a margin) — whether or not the
 *   renewal loop has run since. A worker that stalls past its TTL (GC pause, blocked event loop,
 *   SIGSTOP) therefore sees itself fenced before another worker can have taken the partition, and
 *   gives the partition up at its next tick.
 */
export class PartitionLeases {
  readonly #held = new Map<number, Holding>();
  readonly #releasing = new Set<number>();
  #timer: ReturnType<typeof setTimeout> | null = null;
  #ticking: Promise<void> | null = null;
  #stopped = false;
  #members: string[] = [];
  #plan: { key: string; owners: string[] } = { key: "", owners: [] };

  /** How long after sending a renewal this worker may still act as the holder. */
  readonly #validMs: number;

  readonly #o: PartitionLeasesOptions;

  constructor(o: PartitionLeasesOptions) {
    this.#o = o;
    // The broker's TTL runs from when it stored the renewal, which is after we sent it; the margin
    // covers clock-rate differences and the broker removing entries slightly early.
    this.#validMs = o.leaseTtlMs - Math.max(20, Math.min(500, Math.floor(o.leaseTtlMs / 10)));
  }

  /** Joins the cluster and starts the renewal loop (the first placement happens before this resolves). */
  async start(): Promise<void> {
    await this.#tick();
    this.#schedule();
  }

  /** Partitions held now (including ones being handed off). */
  heldPartitions(): number[] {
    return [...this.#held.keys()].sort((a, b) => a - b);
  }

  /**
   * True while this worker holds `partition` under the holding `fencingToken` and the lease cannot
   * have expired yet by the local clock. Cheap (no broker round trip): call it before any effect of a
   * turn that must happen only on the partition's holder (ack, reply).
   */
  holds(partition: number, fencingToken: number): boolean {
    const h = this.#held.get(partition);
    return h !== undefined && h.token === fencingToken && performance.now() - h.sentAtMs < this.#validMs;
  }

  /** The fencing token of this worker's holding of `partition`; undefined when it does not hold it (or may have lost it). */
  fencingToken(partition: number): number | undefined {
    const h = this.#held.get(partition);
    return h !== undefined && performance.now() - h.sentAtMs < this.#validMs ? h.token : undefined;
  }

  /**
   * Gives up at once every holding whose lease may have expired by the local clock (the worker
   * stalled past its TTL): the owner is told it lost them, and each lease entry is deleted if it is
   * still the one we wrote, so the partition is placed again without waiting for its expiry.
   */
  fenceExpired(): void {
    const now = performance.now();
    for (const [p, h] of this.#held) {
      if (now - h.sentAtMs < this.#validMs) continue;
      this.#held.delete(p);
      this.#releasing.delete(p);
      this.#o.owner.lost(p);
      void this.#o.kv.delete(LEASE_PREFIX + p, { previousSeq: h.revision }).catch(() => undefined);
    }
  }

  /** Live workers seen at the last tick. */
  liveWorkers(): string[] {
    return [...this.#members];
  }

  /** Leaves: drains and frees every held partition, then removes this worker from the membership. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    if (this.#ticking !== null) await this.#ticking.catch(() => undefined);
    await Promise.all([...this.#held.keys()].map((p) => this.#handOff(p)));
    await this.#o.kv.delete(WORKER_PREFIX + this.#o.workerId).catch(() => undefined);
  }

  /** Stops renewing without freeing anything (as if the process died); for tests of expiry. */
  abandon(): void {
    this.#stopped = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#ticking = this.#tick()
        .catch((err: unknown) => this.#o.onError?.(err))
        .finally(() => {
          this.#ticking = null;
          this.#schedule();
        });
    }, Math.max(50, Math.floor(this.#o.leaseTtlMs / 3)));
    this.#timer.unref();
  }

  async #tick(): Promise<void> {
    const { kv, workerId } = this.#o;
    // A stalled worker must not renew: another may hold the partition already (and a renewal could
    // even succeed if the broker has not removed the expired entry yet).
    this.fenceExpired();
    await kv.put(WORKER_PREFIX + workerId, JSON.stringify({ at: Date.now() }));
    const members: string[] = [];
    for await (const key of await kv.keys(`${WORKER_PREFIX}*`)) members.push(key.slice(WORKER_PREFIX.length));
    if (!members.includes(workerId)) members.push(workerId);
    members.sort();
    this.#members = members;
    // Renew what is held; a failed renewal means someone else may hold it now.
    await Promise.all(
      [...this.#held].map(async ([p, h]) => {
        const sentAtMs = performance.now();
        try {
          const revision = await kv.update(LEASE_PREFIX + p, workerId, h.revision);
          // Only if it is still the same holding (a stall may have fenced it meanwhile).
          if (this.#held.get(p) === h) {
            h.revision = revision;
            h.sentAtMs = sentAtMs;
          }
        } catch {
          if (this.#held.get(p) !== h) return;
          this.#held.delete(p);
          this.#releasing.delete(p);
          this.#o.owner.lost(p);
        }
      }),
    );
    if (this.#stopped) return;
    const acquire: number[] = [];
    const key = members.join("\n");
    if (this.#plan.key !== key) this.#plan = { key, owners: placePartitions(this.#o.partitions, members) };
    for (let p = 0; p < this.#o.partitions; p++) {
      const target = this.#plan.owners[p];
      if (target === workerId) {
        if (!this.#held.has(p)) acquire.push(p);
      } else if (this.#held.has(p) && !this.#releasing.has(p)) {
        void this.#handOff(p);
      }
    }
    await Promise.all(
      acquire.map(async (p) => {
        const sentAtMs = performance.now();
        try {
          const revision = await kv.create(LEASE_PREFIX + p, workerId);
          this.#held.set(p, { revision, token: revision, sentAtMs });
          this.#o.owner.acquired(p, revision);
        } catch {
          // Held by another worker (it will hand it off, or its lease will expire).
        }
      }),
    );
  }

  /** Drains the partition, then frees its lease (only if still ours). */
  async #handOff(p: number): Promise<void> {
    if (this.#releasing.has(p)) return;
    this.#releasing.add(p);
    try {
      await this.#o.owner.release(p);
    } finally {
      const h = this.#held.get(p);
      this.#held.delete(p);
      this.#releasing.delete(p);
      if (h !== undefined) await this.#o.kv.delete(LEASE_PREFIX + p, { previousSeq: h.revision }).catch(() => undefined);
    }
  }
}

/**
 * The worker a partition belongs on among `members`. With `partitions` (the cluster's partition
 * count): the balanced placement the cluster uses (`placePartitions`). Without: the member of highest
 * random weight, the unbalanced ranking placement starts from.
 */
export function rendezvousOwner(partition: number, members: readonly string[], partitions?: number): string | undefined {
  if (partitions !== undefined) return placePartitions(partitions, members)[partition];
  let best: string | undefined;
  let bestScore = -1;
  for (const m of members) {
    const score = weight(partition, m);
    if (score > bestScore || (score === bestScore && best !== undefined && m < best)) {
      best = m;
      bestScore = score;
    }
  }
  return best;
}

/** Who holds which partition, and which workers are live, as stored in a namespace's lease bucket. */
export async function readLeases(kv: KV): Promise<{ workers: string[]; owners: Map<number, string> }> {
  const workers: string[] = [];
  const owners = new Map<number, string>();
  for await (const key of await kv.keys()) {
    if (key.startsWith(WORKER_PREFIX)) workers.push(key.slice(WORKER_PREFIX.length));
    else if (key.startsWith(LEASE_PREFIX)) {
      const e = await kv.get(key);
      if (e !== null && e.operation === "PUT") owners.set(Number(key.slice(LEASE_PREFIX.length)), e.string());
    }
  }
  return { workers: workers.sort(), owners };
}

/**
 * The owner of each partition (index = partition) among `members`: every worker gets
 * floor(partitions/members) or ceil(partitions/members) partitions, so with few partitions no worker
 * carries far more than its share (plain rendezvous hashing put 10 of 16 on one of two workers).
 * Each partition goes to the member of highest random weight that still has room, taking (partition,
 * member) pairs in order of weight: deterministic (every worker computes the same plan from the same
 * membership), and a change of membership moves mostly the partitions the joining or leaving worker
 * gains or loses. Empty when there are no members.
 */
export function placePartitions(partitions: number, members: readonly string[]): string[] {
  const sorted = [...new Set(members)].sort();
  if (sorted.length === 0) return [];
  // floor(P/N) each, and one more on P mod N of them (the first to claim it).
  const base = Math.floor(partitions / sorted.length);
  const extra = partitions % sorted.length;
  let withExtra = 0;
  const pairs: Array<{ p: number; m: string; w: number }> = [];
  for (let p = 0; p < partitions; p++) for (const m of sorted) pairs.push({ p, m, w: weight(p, m) });
  pairs.sort((a, b) => b.w - a.w || (a.m < b.m ? -1 : a.m > b.m ? 1 : 0) || a.p - b.p);
  const owners = new Array<string>(partitions);
  const load = new Map<string, number>();
  let placed = 0;
  for (const { p, m } of pairs) {
    if (owners[p] !== undefined) continue;
    const l = load.get(m) ?? 0;
    if (l > base || (l === base && withExtra >= extra)) continue;
    if (l === base) withExtra++;
    owners[p] = m;
    load.set(m, l + 1);
    if (++placed === partitions) break;
  }
  return owners;
}

function weight(partition: number, member: string): number {
  return createHash("sha256").update(`${partition}\0${member}`).digest().readUInt32BE(0);
}
