import type { TenantId } from "@troupe/contract";

/**
 * States of agents that the runtime counts as activated but no worker holds: saved when their
 * tenant's workers were retired, or handed to a turn that never reached a live agent (refused,
 * aborted before it started, or its worker died). Each state is handed back exactly once: to the
 * agent's next turn, or to the runtime's `deactivate` when it passivates the agent. Bounded by
 * `capacity`: `put` refuses past it, and the caller counts the refusal.
 */
export class HeldAgentStates {
  /** tenant -> type -> key -> state. Nested maps: the tenant is never spliced into a key. */
  readonly #states = new Map<string, Map<string, Map<string, unknown>>>();
  #count = 0;

  constructor(readonly capacity: number) {}

  /** How many states are held. */
  get size(): number {
    return this.#count;
  }

  /** How many more states fit. */
  get room(): number {
    return this.capacity - this.#count;
  }

  /** Keeps a state; false (nothing kept) when the bound is reached. Replaces an older state of the same agent. */
  put(tenant: TenantId, type: string, key: string, state: unknown): boolean {
    let byType = this.#states.get(tenant);
    const existing = byType?.get(type);
    if (existing?.has(key)) {
      existing.set(key, state);
      return true;
    }
    if (this.#count >= this.capacity) return false;
    if (byType === undefined) this.#states.set(tenant, (byType = new Map()));
    let byKey = byType.get(type);
    if (byKey === undefined) byType.set(type, (byKey = new Map()));
    byKey.set(key, state);
    this.#count++;
    return true;
  }

  /** Removes and returns the agent's state; `found` is false when none is held. */
  take(tenant: TenantId, type: string, key: string): { found: boolean; state?: unknown } {
    const byType = this.#states.get(tenant);
    const byKey = byType?.get(type);
    if (byType === undefined || byKey === undefined || !byKey.has(key)) return { found: false };
    const state = byKey.get(key);
    byKey.delete(key);
    this.#count--;
    if (byKey.size === 0) byType.delete(type);
    if (byType.size === 0) this.#states.delete(tenant);
    return { found: true, state };
  }

  clear(): void {
    this.#states.clear();
    this.#count = 0;
  }
}
