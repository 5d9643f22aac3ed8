import type { TenantId } from "@troupe/contract";
import type { AgentModuleSpec } from "./hosted-agent.js";
import type { HostedTurn } from "./turn-host.js";
import { WorkerSlot } from "./worker-slot.js";
import type { WorkerSlotConfig, WorkerSlotMetrics } from "./worker-slot.js";

/** Counters of one tenant's workers (since they were created; a retired tenant starts over). */
export interface TenantWorkerMetrics {
  tenant: TenantId;
  workers: WorkerSlotMetrics[];
  /** Turns and deactivations running or waiting in the tenant's workers. */
  inFlight: number;
  /** Agents held by the tenant's workers. */
  activeAgents: number;
  /** Milliseconds since the tenant's last turn or deactivation ended (0 while one is in flight). */
  idleForMs: number;
  turnsStarted: number;
  turnsSucceeded: number;
  turnsFailed: number;
  turnsLostToCrashes: number;
  crashes: number;
  restarts: number;
  stuckTerminations: number;
}

/** What every slot of a tenant shares. */
export type TenantSlotConfig = Omit<WorkerSlotConfig, "tenant" | "index">;

/** FNV-1a over type and key, each followed by a separator neither can be confused with. */
function hashAgent(agentType: string, agentKey: string): number {
  let hash = 0x811c9dc5;
  for (const part of [agentType, agentKey]) {
    for (let i = 0; i < part.length; i++) {
      hash ^= part.charCodeAt(i);
      hash = Math.imul(hash, 0x01000193);
    }
    hash ^= 0xffff;
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** The index, among `size` workers of a tenant, of the worker that hosts (type, key). */
export function workerIndexFor(agentType: string, agentKey: string, size: number): number {
  return hashAgent(agentType, agentKey) % size;
}

/**
 * The workers of exactly one tenant. Guarantees: they run only that tenant's turns; an agent
 * (type, key) always runs in the same one of them while it lives; workers start lazily on their
 * first turn, and no turn starts before `ready` (the retirement of the tenant whose room this one
 * took) has finished. Tracks what makes the tenant idle: nothing in flight, and which agents it holds.
 */
export class TenantWorkers {
  readonly #slots: WorkerSlot[];
  #inFlightCount = 0;
  #lastActiveMs: number;
  #gate: Promise<void> | undefined;

  readonly #now: () => number;

  constructor(
    readonly tenant: TenantId,
    size: number,
    config: TenantSlotConfig,
    ready: Promise<void> | undefined,
    now: () => number = () => performance.now(),
  ) {
    this.#now = now;
    this.#slots = Array.from({ length: size }, (_, index) => new WorkerSlot({ ...config, tenant, index }));
    this.#lastActiveMs = now();
    if (ready !== undefined) {
      this.#gate = ready.then(() => {
        this.#gate = undefined;
      });
    }
  }

  /** Runs a turn (of this tenant) in the agent's worker; settles as WorkerSlot.runTurn does. */
  run(turn: HostedTurn, spec: Required<AgentModuleSpec>): Promise<unknown> {
    const slot = this.#slotOf(turn.agentType, turn.agentKey);
    return this.#track(this.#gate === undefined ? slot.runTurn(turn, spec) : this.#gate.then(() => slot.runTurn(turn, spec)));
  }

  /** Deactivates an agent in its worker and resolves with its saved state. */
  deactivate(agentType: string, agentKey: string): Promise<unknown> {
    const slot = this.#slotOf(agentType, agentKey);
    return this.#track(this.#gate === undefined ? slot.deactivate(this.tenant, agentType, agentKey) : this.#gate.then(() => slot.deactivate(this.tenant, agentType, agentKey)));
  }

  /** True when the agent's worker holds it. */
  holds(agentType: string, agentKey: string): boolean {
    return this.#slotOf(agentType, agentKey).hasAgent(agentType, agentKey);
  }

  /** Every agent held, with the slot that holds it (for retirement). */
  heldAgents(): Array<{ type: string; key: string }> {
    return this.#slots.flatMap((slot) => slot.activeAgents());
  }

  get activeAgentCount(): number {
    return this.#slots.reduce((n, slot) => n + slot.activeAgentCount, 0);
  }

  /** Nothing in flight: no turn, no deactivation, not waiting for its room. */
  get idle(): boolean {
    return this.#inFlightCount === 0 && this.#gate === undefined && this.#slots.every((slot) => !slot.busy);
  }

  /** Milliseconds since the last turn or deactivation ended; 0 while not idle. */
  idleForMs(): number {
    return this.idle ? this.#now() - this.#lastActiveMs : 0;
  }

  /** Terminates the workers; anything still running settles with RuntimeStoppedError. */
  async close(): Promise<void> {
    await Promise.all(this.#slots.map((slot) => slot.close()));
  }

  metrics(): TenantWorkerMetrics {
    const workers = this.#slots.map((slot) => slot.metrics());
    const sum = (pick: (m: WorkerSlotMetrics) => number) => workers.reduce((total, m) => total + pick(m), 0);
    return {
      tenant: this.tenant,
      workers,
      inFlight: this.#inFlightCount,
      activeAgents: sum((m) => m.activeAgents),
      idleForMs: this.idleForMs(),
      turnsStarted: sum((m) => m.turnsStarted),
      turnsSucceeded: sum((m) => m.turnsSucceeded),
      turnsFailed: sum((m) => m.turnsFailed),
      turnsLostToCrashes: sum((m) => m.turnsLostToCrashes),
      crashes: sum((m) => m.crashes),
      restarts: sum((m) => m.restarts),
      stuckTerminations: sum((m) => m.stuckTerminations),
    };
  }

  #slotOf(agentType: string, agentKey: string): WorkerSlot {
    return this.#slots[workerIndexFor(agentType, agentKey, this.#slots.length)]!;
  }

  #track(work: Promise<unknown>): Promise<unknown> {
    this.#inFlightCount++;
    const done = (): void => {
      this.#inFlightCount--;
      this.#lastActiveMs = this.#now();
    };
    work.then(done, done);
    return work;
  }
}
