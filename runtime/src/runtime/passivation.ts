import type { TurnHost } from "../isolation/turn-host.js";
import type { Activation } from "../scheduling/activation.js";
import { IdleList } from "../scheduling/idle-list.js";
import type { TenantLane } from "../scheduling/tenant-lane.js";
import type { AgentStateStore } from "../state/agent-state-store.js";
import type { PassivationOptions } from "./runtime-options.js";
import type { RunState } from "./run-state.js";

const now = (): number => performance.now();

/**
 * Keeps memory bounded however many agents are touched: counts the active agents, evicts those idle
 * past `idleMs` (swept every `sweepIntervalMs`) and, beyond `maxActiveAgents`, the least recently
 * used idle ones at once. An evicted agent hands its state to the state store first (hosted agents:
 * through the TurnHost); messages arriving meanwhile keep it active with the same instance; a
 * failed save keeps the agent and retries on a later sweep (counted in `passivationErrors`).
 */
export class Passivation {
  /** Active agents with nothing queued or running, least recently used first. */
  readonly idle = new IdleList();
  /** Agents active across all tenants. */
  activeAgents = 0;
  /** Saves (or deactivations) that failed. */
  passivationErrors = 0;
  #sweepTimer: ReturnType<typeof setInterval> | null = null;

  /** Null when passivation is off: idle agents are kept forever. */
  readonly #passivation: Required<PassivationOptions> | null;
  readonly #stateStore: AgentStateStore | undefined;
  readonly #turnHost: TurnHost | undefined;
  readonly #state: RunState;
  /** Messages arrived for `a` while it was being saved: schedule it again. */
  readonly #resume: (lane: TenantLane, a: Activation) => void;

  constructor(
    passivation: Required<PassivationOptions> | null,
    stateStore: AgentStateStore | undefined,
    turnHost: TurnHost | undefined,
    state: RunState,
    resume: (lane: TenantLane, a: Activation) => void,
  ) {
    this.#passivation = passivation;
    this.#stateStore = stateStore;
    this.#turnHost = turnHost;
    this.#state = state;
    this.#resume = resume;
  }

  /** Starts the periodic sweep (when passivation is on). */
  startSweeping(): void {
    if (this.#passivation !== null) {
      this.#sweepTimer = setInterval(() => this.#sweepIdle(now()), this.#passivation.sweepIntervalMs);
      this.#sweepTimer.unref();
    }
  }

  /** Stops the periodic sweep. */
  stopSweeping(): void {
    if (this.#sweepTimer !== null) clearInterval(this.#sweepTimer);
    this.#sweepTimer = null;
  }

  /** A new agent became active: count it, and evict idle ones past maxActiveAgents. */
  activated(): void {
    this.activeAgents++;
    if (this.#passivation !== null && this.activeAgents > this.#passivation.maxActiveAgents) this.#evictOverLimit();
  }

  /** `a` has nothing queued or running: list it as idle (or forget it when it was never activated). */
  becameIdle(lane: TenantLane, a: Activation): void {
    if (a.evicted) return;
    if (a.instance === null && !a.hosted) {
      // Never activated (its messages were all cancelled): forget it.
      lane.removeActivation(a);
      this.activeAgents--;
      return;
    }
    if (this.#passivation === null) return;
    this.idle.append(a, now());
    if (this.activeAgents > this.#passivation.maxActiveAgents) this.#evictOverLimit();
  }

  /** Evicts least recently used idle agents while more than maxActiveAgents are active. */
  #evictOverLimit(): void {
    let over = this.activeAgents - this.#passivation!.maxActiveAgents;
    while (over > 0 && this.idle.size > 0) {
      this.#evict(this.idle.peek()!);
      over--;
    }
  }

  #sweepIdle(t: number): void {
    const p = this.#passivation!;
    let a = this.idle.peek();
    while (a !== null && t - a.idleSinceMs >= p.idleMs) {
      this.#evict(a);
      a = this.idle.peek();
    }
  }

  /** Evicts an idle agent: its state goes to the store first; messages arriving meanwhile keep it. */
  #evict(a: Activation): void {
    const lane = a.lane as TenantLane;
    this.idle.remove(a);
    const instance = a.instance;
    const needsAsync = a.hosted || (instance !== null && (instance.onDeactivate !== undefined || (this.#stateStore !== undefined && instance.saveState !== undefined)));
    if (!needsAsync) {
      this.#forget(lane, a);
      return;
    }
    a.passivating = true;
    this.#state.pendingLifecycle++;
    this.#passivate(lane, a).then(
      () => this.#afterPassivation(lane, a, true),
      () => this.#afterPassivation(lane, a, false),
    );
  }

  async #passivate(lane: TenantLane, a: Activation): Promise<void> {
    const state = a.hosted
      ? await this.#turnHost!.deactivate(lane.tenant, a.agentId.type, a.agentId.key)
      : a.instance?.saveState !== undefined && this.#stateStore !== undefined
        ? await a.instance.saveState()
        : undefined;
    if (this.#stateStore !== undefined && state !== undefined) await this.#stateStore.save(lane.tenant, a.agentId, state);
    if (a.hosted) a.hosted = false;
    else if (a.head === null) await a.instance?.onDeactivate?.();
  }

  #afterPassivation(lane: TenantLane, a: Activation, ok: boolean): void {
    this.#state.pendingLifecycle--;
    a.passivating = false;
    if (!ok) this.passivationErrors++;
    if (ok && a.head === null && a.running === null) {
      this.#forget(lane, a);
    } else if (a.head !== null) {
      // Messages arrived while saving: the agent stays active with the same instance.
      this.#resume(lane, a);
    } else if (this.#state.running && this.#passivation !== null) {
      // Saving failed: keep the agent (and its state) and retry on a later sweep.
      this.idle.append(a, now());
    }
    this.#state.notifyIdle();
  }

  #forget(lane: TenantLane, a: Activation): void {
    lane.removeActivation(a);
    a.instance = null;
    this.activeAgents--;
    lane.metrics.passivations++;
  }

  /** On stop: hands every active agent's state to the store (failures counted); resolves when all are saved. */
  async passivateAll(lanes: Iterable<TenantLane>): Promise<void> {
    const saves: Promise<void>[] = [];
    for (const lane of lanes) {
      for (const a of lane.allActivations()) {
        this.idle.remove(a);
        if (a.passivating) continue;
        if (a.instance !== null || a.hosted) {
          a.passivating = true;
          saves.push(
            this.#passivate(lane, a).then(
              () => undefined,
              () => {
                this.passivationErrors++;
              },
            ),
          );
        }
      }
    }
    await Promise.all(saves);
  }

  /** On stop, once saved: forgets every agent. */
  forgetAll(lanes: Iterable<TenantLane>): void {
    for (const lane of lanes) {
      for (const a of lane.allActivations()) {
        lane.removeActivation(a);
        a.instance = null;
      }
    }
    this.activeAgents = 0;
  }
}
