import { AsyncLocalStorage } from "node:async_hooks";
import type { Agent } from "../agents/agent.js";
import { CrossTenantError } from "../errors.js";
import type { Delivery } from "../scheduling/delivery.js";
import type { TenantId } from "@troupe/contract";

/**
 * The delivery whose handler is running synchronously right now. Process-wide on purpose: a handler
 * of one runtime reaching another runtime is caught as well.
 */
let currentTurn: Delivery | null = null;

/** Marks `d` as the turn running synchronously now; returns the previous mark, for leaveTurn. */
export function enterTurn(d: Delivery): Delivery | null {
  const prev = currentTurn;
  currentTurn = d;
  return prev;
}

/** Restores the mark enterTurn returned, once the handler's synchronous part is over. */
export function leaveTurn(prev: Delivery | null): void {
  currentTurn = prev;
}

/**
 * Knows which turn (if any) the calling code runs in, and refuses what a handler of one tenant may
 * not do: address another tenant, or change runtime-wide settings (CrossTenantError). In the
 * synchronous part of a handler always; after an `await` too when the async guard is on
 * (AsyncLocalStorage).
 */
export class CrossTenantGuard {
  readonly #als: AsyncLocalStorage<Delivery> | null;

  constructor(asyncTenantGuard: boolean) {
    this.#als = asyncTenantGuard ? new AsyncLocalStorage<Delivery>() : null;
  }

  /** True when the turn is tracked across awaits (handlers must then run through runGuarded). */
  get tracksAsync(): boolean {
    return this.#als !== null;
  }

  /** Calls `fn(agent, d)` with `d` as the turn seen after its awaits, when the async guard is on. */
  runGuarded(d: Delivery, fn: (agent: Agent, d: Delivery) => unknown, agent: Agent): unknown {
    return this.#als === null ? fn(agent, d) : this.#als.run(d, fn, agent, d);
  }

  /** The turn running for this code right now (sync marker, else AsyncLocalStorage). */
  activeTurn(): Delivery | null {
    if (currentTurn !== null) return currentTurn;
    return this.#als?.getStore() ?? null;
  }

  /** Inside a turn of another tenant: CrossTenantError. Inside a turn of this tenant: that turn. */
  currentTurnOf(tenant: TenantId, action: string): Delivery | null {
    const turn = this.activeTurn();
    if (turn === null) return null;
    if (turn.tenant !== tenant) {
      throw new CrossTenantError(`a handler of tenant "${turn.tenant}" (agent ${turn.agentId.toString()}) tried to ${action} of tenant "${tenant}"; agents can only address their own tenant`);
    }
    return turn;
  }

  /** Inside any turn (tenant undefined) or a turn of another tenant: CrossTenantError naming `action`. */
  refuseInsideTurn(tenant: TenantId | undefined, action: string): void {
    const turn = this.activeTurn();
    if (turn === null) return;
    if (tenant === undefined || turn.tenant !== tenant) {
      throw new CrossTenantError(`a handler of tenant "${turn.tenant}" (agent ${turn.agentId.toString()}) tried to ${action}; agents can only address their own tenant`);
    }
  }
}
