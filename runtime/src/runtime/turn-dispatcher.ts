import { context as otelContext } from "@opentelemetry/api";
import type { Agent, AgentFactory } from "../agents/agent.js";
import type { AgentRegistration, AgentRegistry } from "../agents/agent-registry.js";
import type { DeliverEnvelope } from "../agents/interceptor.js";
import type { InterceptorChain } from "../agents/interceptor-chain.js";
import { HandlerError, InvalidArgumentError, MessageDroppedError, RuntimeStoppedError, TimeoutError, TroupeError, UnknownAgentTypeError } from "../errors.js";
import type { HostedTurn, TurnHost } from "../isolation/turn-host.js";
import type { Activation } from "../scheduling/activation.js";
import { settleErr, settleOk } from "../scheduling/caller-settlement.js";
import { DeliveryState, type Delivery } from "../scheduling/delivery.js";
import { VirtualTimeScheduler, type TenantScheduler } from "../scheduling/fair-scheduler.js";
import type { TenantLane } from "../scheduling/tenant-lane.js";
import type { TurnWatchdog } from "../scheduling/turn-watchdog.js";
import type { AgentStateStore } from "../state/agent-state-store.js";
import { enterTurn, leaveTurn, type CrossTenantGuard } from "../tenancy/cross-tenant-guard.js";
import type { TurnOutcome } from "@troupe/contract";
import type { DeliveryTrace } from "../tracing/runtime-tracing.js";
import type { Passivation } from "./passivation.js";
import type { RunState } from "./run-state.js";

/** Cost charged to a tenant per turn on top of its handler's blocking time, so cheap turns still rotate. */
const TURN_OVERHEAD_MS = 0.002;

const now = (): number => performance.now();

/** What the dispatcher needs of its runtime, fixed at construction. */
export interface TurnDispatcherDeps {
  registry: AgentRegistry;
  stateStore: AgentStateStore | undefined;
  turnHost: TurnHost | undefined;
  state: RunState;
  guard: CrossTenantGuard;
  interceptors: InterceptorChain;
  passivation: Passivation;
  /** Armed for running turns' deadlines; when it fires, the runtime calls checkDeadlines. */
  watchdog: TurnWatchdog;
  sliceMs: number;
  maxSliceMs: number;
}

/**
 * Mailboxes and turns. Guarantees: queued messages start in weighted-fair order across tenants
 * (within each tenant's in-flight quota), one at a time per agent; the dispatcher yields to the
 * event loop once it has used its slice of handler time; every started turn ends exactly once —
 * with its handler's result, or abandoned by the watchdog past its time budget or by stop — and
 * then its caller is settled, its spans and metrics recorded, and its agent's next message queued.
 */
export class TurnDispatcher {
  readonly #scheduler: TenantScheduler = new VirtualTimeScheduler();
  readonly #runningLanes = new Set<TenantLane>();
  readonly #watchdog: TurnWatchdog;
  /** Messages accepted and not started, across tenants. */
  totalQueued = 0;
  /** Turns running (not finished, not abandoned), across tenants. */
  totalInFlight = 0;
  /** Moving mean of the event-loop time a started turn blocked (ms): prices the backlog for the dispatch slice. */
  #turnCostMs = 0;
  #drainScheduled = false;
  #draining = false;
  readonly #drainBound = (): void => this.#drain();
  readonly #registry: AgentRegistry;
  readonly #stateStore: AgentStateStore | undefined;
  readonly #turnHost: TurnHost | undefined;
  readonly #state: RunState;
  readonly #guard: CrossTenantGuard;
  readonly #interceptors: InterceptorChain;
  readonly #passivation: Passivation;
  readonly #sliceMs: number;
  readonly #maxSliceMs: number;

  constructor(deps: TurnDispatcherDeps) {
    this.#registry = deps.registry;
    this.#stateStore = deps.stateStore;
    this.#turnHost = deps.turnHost;
    this.#state = deps.state;
    this.#guard = deps.guard;
    this.#interceptors = deps.interceptors;
    this.#passivation = deps.passivation;
    this.#sliceMs = deps.sliceMs;
    this.#maxSliceMs = deps.maxSliceMs;
    this.#watchdog = deps.watchdog;
  }

  /** Puts an admitted delivery into its agent's mailbox (activating the agent) and schedules a drain. */
  enqueue(lane: TenantLane, d: Delivery): void {
    const before = lane.activeAgents;
    const a = lane.activation(d.agentId);
    if (lane.activeAgents !== before) this.#passivation.activated();
    d.activation = a;
    d.enqueuedAtMs = now();
    a.push(d);
    lane.queued++;
    this.totalQueued++;
    if (a.inIdleList) this.#passivation.idle.remove(a);
    if (!a.ready && a.startable) {
      lane.pushReady(a);
      this.#scheduler.enqueue(lane);
    }
    this.#scheduleDrain();
  }

  /** Schedules the tenant's turns when it may start one now (its quota or cap changed, a turn ended). */
  scheduleIfEligible(lane: TenantLane): void {
    if (lane.eligible) {
      this.#scheduler.enqueue(lane);
      this.#scheduleDrain();
    }
  }

  /** Messages arrived for `a` while it was being passivated: it is ready again. */
  resume(lane: TenantLane, a: Activation): void {
    if (!a.ready) lane.pushReady(a);
    this.#scheduler.enqueue(lane);
    this.#scheduleDrain();
  }

  #scheduleDrain(): void {
    if (this.#drainScheduled || this.#draining) return;
    this.#drainScheduled = true;
    queueMicrotask(this.#drainBound);
  }

  /** Starts turns in fair order until none is startable or the slice is used, then yields. */
  #drain(): void {
    this.#drainScheduled = false;
    if (this.#draining) return;
    this.#draining = true;
    const sliceMs = this.#sliceMs === this.#maxSliceMs ? this.#sliceMs : Math.min(this.#maxSliceMs, Math.max(this.#sliceMs, (this.totalQueued * this.#turnCostMs) / 4));
    const sliceEnd = now() + sliceMs;
    let n = 0;
    let blockedMs = 0;
    try {
      let lane: TenantLane | null;
      while ((lane = this.#scheduler.next()) !== null) {
        // Its quota or cap may have dropped since it was queued: then it starts nothing.
        const a = lane.eligible ? lane.popReady() : null;
        const cost = a !== null && a.startable ? this.#startTurn(lane, a) : 0;
        this.#scheduler.charge(lane, cost + TURN_OVERHEAD_MS);
        if (a !== null) this.#turnCostMs += (cost - this.#turnCostMs) / 32;
        blockedMs += cost;
        // Yield once the slice is used: expensive turns are seen at once, cheap ones every 64 turns.
        if (blockedMs >= sliceMs || ((++n & 63) === 0 && now() > sliceEnd)) {
          if (!this.#drainScheduled) {
            this.#drainScheduled = true;
            setImmediate(this.#drainBound);
          }
          return;
        }
      }
    } finally {
      this.#draining = false;
    }
  }

  /** Starts the next message of `a`; returns the event-loop time it blocked (ms). */
  #startTurn(lane: TenantLane, a: Activation): number {
    const d = a.shift()!;
    lane.queued--;
    this.totalQueued--;
    if (d.settled) {
      // The caller gave up while it was queued: skip it.
      d.state = DeliveryState.Done;
      d.release();
      this.#afterTurn(lane, a);
      return 0;
    }
    a.running = d;
    d.state = DeliveryState.Running;
    lane.addRunning(d);
    this.totalInFlight++;
    if (lane.inFlight === 1) this.#runningLanes.add(lane);
    const t0 = now();
    d.startedAtMs = t0;
    const reg = this.#registry.find(d.agentId.type);
    d.deadlineMs = t0 + (reg?.options.turnTimeoutMs ?? lane.settings.turnTimeoutMs);
    this.#watchdog.watchDeadline(d.deadlineMs);
    if (this.#turnHost !== undefined && reg !== undefined && runsHosted(lane, reg)) {
      this.#runHosted(lane, a, d);
    } else if (a.instance === null) {
      if (this.#stateStore === undefined && reg?.kind === "factory") {
        try {
          this.#createInstance(lane, a, reg.factory);
        } catch (err) {
          this.#finishTurn(d, "error", err);
          return now() - t0;
        }
        return this.#invoke(a, d);
      }
      this.#activateThenInvoke(lane, a, d, reg);
      return now() - t0;
    } else {
      return this.#invoke(a, d);
    }
    return now() - t0;
  }

  #createInstance(lane: TenantLane, a: Activation, factory: AgentFactory): Agent {
    const instance = factory({ tenant: lane.tenant, agentId: a.agentId });
    if (instance === null || typeof instance !== "object" || typeof instance.onMessage !== "function") {
      throw new InvalidArgumentError(`the factory of agent type "${a.agentId.type}" did not return an object with onMessage()`);
    }
    a.instance = instance;
    lane.metrics.activations++;
    return instance;
  }

  #activateThenInvoke(lane: TenantLane, a: Activation, d: Delivery, reg: AgentRegistration | undefined): void {
    this.#state.pendingLifecycle++;
    const activate = async (): Promise<void> => {
      if (reg === undefined) throw new UnknownAgentTypeError(d.agentId.type);
      const factory = await this.#registry.loadFactory(reg);
      const instance = this.#createInstance(lane, a, factory);
      if (this.#stateStore !== undefined) {
        const state = await this.#stateStore.load(lane.tenant, a.agentId);
        if (state !== undefined && instance.loadState !== undefined) await instance.loadState(state);
      }
    };
    activate().then(
      () => {
        this.#state.pendingLifecycle--;
        if (d.state === DeliveryState.Running) this.#invoke(a, d);
        else this.#state.notifyIdle();
      },
      (err: unknown) => {
        this.#state.pendingLifecycle--;
        a.instance = null;
        if (d.state === DeliveryState.Running) this.#finishTurn(d, "error", err);
        else this.#state.notifyIdle();
      },
    );
  }

  /** Runs the handler (through tracing and deliver interceptors) and wires its settlement. */
  #invoke(a: Activation, d: Delivery): number {
    const agent = a.instance!;
    const t0 = now();
    const prev = enterTurn(d);
    let result: unknown;
    let threw = false;
    try {
      if (this.#state.tracing === null && !this.#guard.tracksAsync) result = this.#callHandler(agent, d);
      else result = this.#callTraced(agent, d, t0);
    } catch (err) {
      threw = true;
      result = err;
    } finally {
      leaveTurn(prev);
    }
    const t1 = now();
    d.blockedMs = t1 - t0;
    if (threw) this.#finishTurn(d, "error", result);
    else if (isThenable(result)) {
      result.then(
        (v) => this.#finishTurn(d, "ok", v),
        (e: unknown) => this.#finishTurn(d, "error", e),
      );
    } else this.#finishTurn(d, "ok", result);
    return t1 - t0;
  }

  #callHandler(agent: Agent, d: Delivery): unknown {
    if (!this.#interceptors.hasDeliver) return agent.onMessage(d.message, d);
    const envelope: DeliverEnvelope = {
      kind: "deliver",
      tenant: d.tenant,
      recipient: d.agentId,
      sender: d.sender,
      topic: d.topic,
      message: d.message,
      hopCount: d.hopCount,
      deliveryId: d.deliveryId,
      isRpc: d.isRpc,
    };
    return this.#interceptors.runDeliver(envelope, (e) => agent.onMessage(e.message, d));
  }

  #callTraced(agent: Agent, d: Delivery, startMs: number): unknown {
    const tracing = this.#state.tracing;
    if (tracing === null || d.trace === null) return this.#callGuarded(agent, d);
    const ctx = tracing.startTurn(d.trace as DeliveryTrace, d.tenant, d.agentId, d.hopCount, d.deliveryId, d.isRpc, startMs);
    return otelContext.with(ctx, this.#callGuarded, this, agent, d);
  }

  /** Runs the handler with the turn in AsyncLocalStorage when the async tenant guard is on. */
  #callGuarded(agent: Agent, d: Delivery): unknown {
    return this.#guard.runGuarded(d, this.#callHandlerFn, agent);
  }

  readonly #callHandlerFn = (agent: Agent, d: Delivery): unknown => this.#callHandler(agent, d);

  #runHosted(lane: TenantLane, a: Activation, d: Delivery): void {
    const host = this.#turnHost!;
    const reg = this.#registry.find(d.agentId.type);
    const tracing = this.#state.tracing;
    let traceparent: string | undefined;
    if (tracing !== null && d.trace !== null) {
      tracing.startTurn(d.trace as DeliveryTrace, d.tenant, d.agentId, d.hopCount, d.deliveryId, d.isRpc, d.startedAtMs);
      tracing.markHosted(d.trace as DeliveryTrace);
      traceparent = tracing.traceparent(d.trace as DeliveryTrace, d.tenant);
    }
    const turn: HostedTurn = {
      tenant: lane.tenant,
      agentType: d.agentId.type,
      agentKey: d.agentId.key,
      message: d.message,
      deliveryId: d.deliveryId,
      hopCount: d.hopCount,
      signal: d.signal,
      ...(traceparent === undefined ? {} : { traceparent }),
      ...(reg?.kind === "module" ? { module: reg.module, exportName: reg.exportName } : {}),
    };
    const first = !a.hosted;
    const run = async (): Promise<unknown> => {
      if (first) {
        a.hosted = true;
        lane.metrics.activations++;
        if (this.#stateStore !== undefined) {
          const state = await this.#stateStore.load(lane.tenant, a.agentId);
          if (state !== undefined) turn.state = state;
        }
      }
      return host.runTurn(turn);
    };
    run().then(
      (v) => this.#finishTurn(d, "ok", v),
      (e: unknown) => this.#finishTurn(d, "error", e),
    );
  }

  /** Ends a turn: accounting, spans, the caller's settlement, then the agent's next message. */
  #finishTurn(d: Delivery, outcome: "ok" | "error", value: unknown): void {
    const a = d.activation as Activation;
    const lane = a.lane as TenantLane;
    if (d.state === DeliveryState.Done) {
      // The watchdog or stop() already finished this turn; the handler was a zombie.
      lane.metrics.lateResultsDiscarded++;
      lane.abandonedRunning--;
      return;
    }
    d.state = DeliveryState.Done;
    lane.removeRunning(d);
    if (--this.totalInFlight === 0) this.#watchdog.idleWatchdog();
    if (lane.inFlight === 0) this.#runningLanes.delete(lane);
    if (a.running === d) a.running = null;
    const end = now();
    const m = lane.metrics;
    const wallMs = end - d.startedAtMs;
    const queueWaitMs = d.startedAtMs - d.enqueuedAtMs;
    m.turns++;
    m.handlerWallMs += wallMs;
    m.handlerBlockedMs += d.blockedMs;
    m.queueWaitMs += queueWaitMs;
    let error: TroupeError | undefined;
    let turnOutcome: TurnOutcome = "ok";
    if (outcome === "error") {
      if (value instanceof MessageDroppedError) {
        m.dropped++;
        this.#state.countedDrops.add(value);
        turnOutcome = "dropped";
        error = value;
      } else {
        m.errors++;
        if (!d.isRpc) m.publishErrors++;
        turnOutcome = "error";
        error = value instanceof HandlerError || isHostedTroupeError(value) ? (value as TroupeError) : new HandlerError(d.agentId.toString(), value);
      }
    }
    const tracing = this.#state.tracing;
    if (tracing !== null && d.trace !== null) {
      tracing.endTurn(d.trace as DeliveryTrace, turnOutcome, { queueWaitMs, wallMs, blockedMs: d.blockedMs, endMs: end }, error);
    }
    if (this.#state.otelMetrics !== null) this.#state.otelMetrics.turnEnded(lane.tenant, d.agentId.type, turnOutcome, queueWaitMs, wallMs);
    if (error === undefined) settleOk(d, value, tracing);
    else settleErr(d, turnOutcome, error, tracing);
    d.release();
    this.#afterTurn(lane, a);
  }

  /** After a turn of `a` ends (or is abandoned): schedule its next message, or mark it idle. */
  #afterTurn(lane: TenantLane, a: Activation): void {
    if (a.passivating || a.running !== null) {
      // nothing: it resumes when passivation ends or the running turn finishes
    } else if (a.head !== null) {
      if (!a.ready) lane.pushReady(a);
    } else {
      this.#passivation.becameIdle(lane, a);
    }
    this.scheduleIfEligible(lane);
    if (this.#state.idleWaited) this.#state.notifyIdle();
  }

  /** The watchdog's check: turns past their budget at `t` are aborted and their agent and slot freed; returns the earliest deadline left (null when none runs). */
  checkDeadlines(t: number): number | null {
    let earliest = Number.POSITIVE_INFINITY;
    for (const lane of this.#runningLanes) {
      let d = lane.runHead;
      while (d !== null) {
        const next = d.nextRunning;
        if (d.deadlineMs <= t) this.#abandonTurn(lane, d, "timeout", new TimeoutError(`turn of ${d.agentId.toString()} exceeded its time budget of ${Math.round(d.deadlineMs - d.startedAtMs)} ms`));
        else earliest = Math.min(earliest, d.deadlineMs);
        d = next;
      }
    }
    return this.totalInFlight > 0 ? earliest : null;
  }

  /** Ends a running turn without its handler: abort its signal, settle the caller, free agent and slot. */
  #abandonTurn(lane: TenantLane, d: Delivery, outcome: TurnOutcome, error: TroupeError): void {
    const a = d.activation as Activation;
    d.state = DeliveryState.Done;
    lane.removeRunning(d);
    if (--this.totalInFlight === 0) this.#watchdog.idleWatchdog();
    if (lane.inFlight === 0) this.#runningLanes.delete(lane);
    if (a.running === d) a.running = null;
    lane.abandonedRunning++;
    const m = lane.metrics;
    const end = now();
    const wallMs = end - d.startedAtMs;
    const queueWaitMs = d.startedAtMs - d.enqueuedAtMs;
    m.turns++;
    if (outcome === "timeout") m.timeouts++;
    m.handlerWallMs += wallMs;
    m.handlerBlockedMs += d.blockedMs;
    m.queueWaitMs += queueWaitMs;
    d.abort(error);
    const tracing = this.#state.tracing;
    if (tracing !== null && d.trace !== null) tracing.endTurn(d.trace as DeliveryTrace, outcome, { queueWaitMs, wallMs, blockedMs: d.blockedMs, endMs: end }, error);
    if (this.#state.otelMetrics !== null) this.#state.otelMetrics.turnEnded(lane.tenant, d.agentId.type, outcome, queueWaitMs, wallMs);
    settleErr(d, outcome, error, tracing);
    d.release();
    this.#afterTurn(lane, a);
  }

  /** On stop: disarms the watchdog, drops every queued message (RuntimeStoppedError) and abandons every running turn. */
  stopTurns(lanes: Iterable<TenantLane>): void {
    this.#watchdog.stopWatchdog();
    this.#scheduler.clear();
    for (const lane of lanes) {
      for (const a of lane.allActivations()) {
        for (let d = a.shift(); d !== null; d = a.shift()) {
          lane.queued--;
          this.totalQueued--;
          d.state = DeliveryState.Done;
          settleErr(d, "dropped", new RuntimeStoppedError("the runtime stopped before the message was handled"), this.#state.tracing);
          d.release();
        }
        a.ready = false;
        a.nextReady = null;
        if (a.running !== null) this.#abandonTurn(lane, a.running, "dropped", new RuntimeStoppedError("the runtime stopped during the turn"));
      }
      while (lane.popReady() !== null);
    }
  }
}

/** Whether a turn of this type runs in the worker TurnHost: its tenant's isolation, unless the type is pinned inline. */
export function runsHosted(lane: TenantLane, reg: AgentRegistration): boolean {
  return lane.settings.isolation === "worker" && reg.options.isolation !== "inline";
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return v !== null && typeof v === "object" && typeof (v as { then?: unknown }).then === "function";
}

function isHostedTroupeError(v: unknown): boolean {
  return v instanceof TroupeError && (v.code === "WORKER_CRASHED" || v.code === "WORKER_TIER_FULL");
}
