import type { TenantLane } from "./tenant-lane.js";

/**
 * Decides which tenant starts the next turn. Guarantee: among tenants with a turn ready to start
 * (and a free in-flight slot), the one that has received the least event-loop time per unit of
 * weight goes next, so a flooding tenant delays only itself; a tenant that was idle re-enters at the
 * current virtual time and cannot bank credit while idle.
 */
export interface TenantScheduler {
  /** Marks a tenant as having a startable turn; idempotent, a no-op while it is being served. */
  enqueue(lane: TenantLane): void;
  /** Takes the tenant to serve next, or null when none is eligible. Pair with `charge`. */
  next(): TenantLane | null;
  /** Charges the served tenant for `costMs` of event-loop time and puts it back if still eligible. */
  charge(lane: TenantLane, costMs: number): void;
  /** Forgets every tenant. */
  clear(): void;
}

/**
 * Weighted fair queueing by virtual time (a start-time fair queue over tenants): a binary min-heap
 * of eligible tenants keyed by virtual time, O(log tenants) per turn.
 */
export class VirtualTimeScheduler implements TenantScheduler {
  readonly #heap: TenantLane[] = [];
  /** Virtual time of the last tenant served: where idle tenants re-enter. */
  #virtualNow = 0;

  enqueue(lane: TenantLane): void {
    if (lane.heapIndex >= 0 || lane.serving || !lane.eligible) return;
    if (lane.vtime < this.#virtualNow) lane.vtime = this.#virtualNow;
    this.#push(lane);
  }

  next(): TenantLane | null {
    const heap = this.#heap;
    if (heap.length === 0) return null;
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      last.heapIndex = 0;
      this.#down(0);
    }
    top.heapIndex = -1;
    top.serving = true;
    this.#virtualNow = top.vtime;
    return top;
  }

  charge(lane: TenantLane, costMs: number): void {
    lane.serving = false;
    lane.vtime += costMs / lane.settings.weight;
    if (lane.eligible) this.#push(lane);
  }

  clear(): void {
    for (const lane of this.#heap) lane.heapIndex = -1;
    this.#heap.length = 0;
  }

  #push(lane: TenantLane): void {
    lane.heapIndex = this.#heap.length;
    this.#heap.push(lane);
    this.#up(lane.heapIndex);
  }

  #up(i: number): void {
    const heap = this.#heap;
    const item = heap[i]!;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = heap[parent]!;
      if (p.vtime <= item.vtime) break;
      heap[i] = p;
      p.heapIndex = i;
      i = parent;
    }
    heap[i] = item;
    item.heapIndex = i;
  }

  #down(i: number): void {
    const heap = this.#heap;
    const n = heap.length;
    const item = heap[i]!;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && heap[child + 1]!.vtime < heap[child]!.vtime) child++;
      const c = heap[child]!;
      if (c.vtime >= item.vtime) break;
      heap[i] = c;
      c.heapIndex = i;
      i = child;
    }
    heap[i] = item;
    item.heapIndex = i;
  }
}
