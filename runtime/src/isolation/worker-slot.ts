import type { Worker, ResourceLimits } from "node:worker_threads";
import { AbortedError, InvalidArgumentError, MessageDroppedError, RuntimeStoppedError, TimeoutError, WorkerCrashedError } from "../errors.js";
import type { TenantId } from "@troupe/contract";
import { rehydrateError, serializeError } from "./remote-error.js";
import type { AgentModuleSpec } from "./hosted-agent.js";
import type { HostedOutbound, HostedTurn } from "./turn-host.js";
import { launchWorker } from "./worker-launcher.js";
import { fromWorkerSchema } from "./worker-protocol.js";
import type { FromWorker, ToWorker } from "./worker-protocol.js";

/** Counters of one worker slot (the slot survives its workers: a replacement keeps counting). */
export interface WorkerSlotMetrics {
  /** The only tenant whose turns this worker runs. */
  tenant: TenantId;
  /** The worker's index among its tenant's workers. */
  index: number;
  /** The current worker's thread id, undefined while none is running. */
  threadId: number | undefined;
  turnsStarted: number;
  turnsSucceeded: number;
  turnsFailed: number;
  /** Turns that failed with WorkerCrashedError because their worker died. */
  turnsLostToCrashes: number;
  inFlightTurns: number;
  /** Agents activated in the current worker and not deactivated since (a crash clears them). */
  activeAgents: number;
  /** Turns held while the worker restarts. */
  backlog: number;
  crashes: number;
  restarts: number;
  /** Workers terminated because an aborted turn did not answer within the grace period. */
  stuckTerminations: number;
  /** Malformed messages received from the worker (ignored). */
  protocolViolations: number;
}

/** Why a worker died, as told to `onWorkerCrash`. */
export interface WorkerCrashEvent {
  /** The tenant whose worker crashed: only its turns failed. */
  tenant: TenantId;
  /** The worker's index among its tenant's workers. */
  workerIndex: number;
  reason: string;
  failedTurns: number;
  /** Delay before the replacement starts. */
  restartInMs: number;
}

export interface WorkerSlotConfig {
  tenant: TenantId;
  index: number;
  resourceLimits: ResourceLimits | undefined;
  abortGraceMs: number;
  deactivateTimeoutMs: number;
  maxBacklog: number;
  restartInitialMs: number;
  restartMaxMs: number;
  onOutbound(outbound: HostedOutbound): Promise<unknown>;
  onWorkerCrash?(event: WorkerCrashEvent): void;
}

interface PendingTurn {
  id: number;
  turn: HostedTurn;
  spec: Required<AgentModuleSpec>;
  posted: boolean;
  resolve(value: unknown): void;
  reject(error: Error): void;
  onAbort(): void;
  /** Started when an abort is forwarded; on expiry the worker is terminated. */
  graceTimer: NodeJS.Timeout | undefined;
}

interface PendingDeactivation {
  resolve(value: unknown): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

/**
 * One worker of one tenant and the turns running in it. Guarantees: every turn settles; when the
 * worker dies (exit, uncaught error, OOM, or terminated because it ignored an abort) every turn in
 * it rejects with WorkerCrashedError at once and a replacement starts, after a backoff that grows
 * while workers crash without completing a turn. The slot never runs another tenant's turns, so
 * neither a crash nor its backoff reaches another tenant.
 */
export class WorkerSlot {
  #worker: Worker | undefined;
  readonly #turns = new Map<number, PendingTurn>();
  #backlog: PendingTurn[] = [];
  readonly #deactivations = new Map<number, PendingDeactivation>();
  /** type -> keys of the agents activated in the current worker (nested: nothing is concatenated). */
  readonly #agents = new Map<string, Set<string>>();
  #agentCount = 0;
  #nextId = 0;
  #consecutiveCrashes = 0;
  #restartTimer: NodeJS.Timeout | undefined;
  #closed = false;
  #referenced = false;
  readonly #counters = {
    turnsStarted: 0,
    turnsSucceeded: 0,
    turnsFailed: 0,
    turnsLostToCrashes: 0,
    crashes: 0,
    restarts: 0,
    stuckTerminations: 0,
    protocolViolations: 0,
  };

  readonly #config: WorkerSlotConfig;

  constructor(config: WorkerSlotConfig) {
    this.#config = config;
  }

  metrics(): WorkerSlotMetrics {
    return {
      tenant: this.#config.tenant,
      index: this.#config.index,
      threadId: this.#worker?.threadId,
      ...this.#counters,
      inFlightTurns: this.#turns.size,
      activeAgents: this.#agentCount,
      backlog: this.#backlog.length,
    };
  }

  /** True while a turn or a deactivation is pending in this slot. */
  get busy(): boolean {
    return this.#turns.size > 0 || this.#deactivations.size > 0;
  }

  /** How many agents the current worker holds (activated by a turn, not deactivated, not lost to a crash). */
  get activeAgentCount(): number {
    return this.#agentCount;
  }

  /** True when the current worker holds this agent. */
  hasAgent(type: string, key: string): boolean {
    return this.#agents.get(type)?.has(key) ?? false;
  }

  /** The (type, key) of every agent the current worker holds. */
  activeAgents(): Array<{ type: string; key: string }> {
    const out: Array<{ type: string; key: string }> = [];
    for (const [type, keys] of this.#agents) for (const key of keys) out.push({ type, key });
    return out;
  }

  runTurn(turn: HostedTurn, spec: Required<AgentModuleSpec>): Promise<unknown> {
    if (turn.tenant !== this.#config.tenant) return Promise.reject(new InvalidArgumentError(`a turn of tenant "${turn.tenant}" was routed to a worker of tenant "${this.#config.tenant}"`));
    if (this.#closed) return Promise.reject(new RuntimeStoppedError("the worker-thread turn host is closed"));
    if (turn.signal.aborted) return Promise.reject(new AbortedError("the turn was aborted before it started"));
    return new Promise((resolve, reject) => {
      const id = this.#nextId++;
      const pending: PendingTurn = { id, turn, spec, posted: false, resolve, reject, onAbort: () => this.#abortTurn(pending), graceTimer: undefined };
      const onAbort = pending.onAbort;
      turn.signal.addEventListener("abort", onAbort, { once: true });
      this.#counters.turnsStarted++;
      if (this.#worker === undefined && this.#restartTimer === undefined) this.#spawn();
      if (this.#worker === undefined) {
        if (this.#backlog.length >= this.#config.maxBacklog) {
          turn.signal.removeEventListener("abort", onAbort);
          this.#counters.turnsFailed++;
          reject(new WorkerCrashedError(`worker ${this.#config.index} of tenant "${this.#config.tenant}" is restarting and ${this.#config.maxBacklog} turns already wait for it`));
          return;
        }
        this.#turns.set(id, pending);
        this.#backlog.push(pending);
        return;
      }
      this.#turns.set(id, pending);
      this.#post(pending);
      this.#updateRef();
    });
  }

  deactivate(tenant: TenantId, agentType: string, agentKey: string): Promise<unknown> {
    if (this.#closed) return Promise.reject(new RuntimeStoppedError("the worker-thread turn host is closed"));
    if (tenant !== this.#config.tenant) return Promise.reject(new InvalidArgumentError(`tenant "${tenant}" has no agents in a worker of tenant "${this.#config.tenant}"`));
    this.#forgetAgent(agentType, agentKey);
    // No worker: the agent's instance died with the last one; there is no state to save.
    if (this.#worker === undefined) return Promise.resolve(undefined);
    const worker = this.#worker;
    return new Promise((resolve, reject) => {
      const id = this.#nextId++;
      const timer = setTimeout(() => {
        this.#deactivations.delete(id);
        this.#updateRef();
        reject(new TimeoutError(`deactivating ${agentType}/${agentKey} took longer than ${this.#config.deactivateTimeoutMs} ms`));
      }, this.#config.deactivateTimeoutMs);
      this.#deactivations.set(id, { resolve, reject, timer });
      this.#send(worker, { t: "deactivate", id, tenant, agentType, agentKey });
      this.#updateRef();
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#restartTimer !== undefined) clearTimeout(this.#restartTimer);
    this.#clearAgents();
    this.#failAll(() => new RuntimeStoppedError("the worker-thread turn host was closed while the turn ran"));
    const worker = this.#worker;
    this.#worker = undefined;
    if (worker !== undefined) await worker.terminate();
  }

  #spawn(): void {
    this.#restartTimer = undefined;
    if (this.#closed) return;
    let worker: Worker;
    try {
      worker = launchWorker(this.#config.resourceLimits);
    } catch (error) {
      this.#crashed(undefined, `could not start: ${error instanceof Error ? error.message : String(error)}`, error);
      return;
    }
    this.#worker = worker;
    this.#referenced = true;
    worker.on("message", (message: unknown) => this.#onMessage(worker, message));
    worker.on("messageerror", () => {
      this.#counters.protocolViolations++;
    });
    worker.on("error", (error: Error) => this.#crashed(worker, `threw an uncaught ${error.name}: ${error.message}`, error));
    worker.on("exit", (code: number) => this.#crashed(worker, `exited with code ${code}`, undefined));
    const waiting = this.#backlog;
    this.#backlog = [];
    for (const pending of waiting) this.#post(pending);
    this.#updateRef();
  }

  #post(pending: PendingTurn): void {
    const worker = this.#worker!;
    const { turn } = pending;
    const hasState = turn.state !== undefined;
    try {
      worker.postMessage({
        t: "turn",
        id: pending.id,
        tenant: turn.tenant,
        agentType: turn.agentType,
        agentKey: turn.agentKey,
        spec: pending.spec,
        message: turn.message,
        deliveryId: turn.deliveryId,
        hopCount: turn.hopCount,
        ...(turn.traceparent === undefined ? {} : { traceparent: turn.traceparent }),
        hasState,
        ...(hasState ? { state: turn.state } : {}),
      } satisfies ToWorker);
      pending.posted = true;
      this.#rememberAgent(turn.agentType, turn.agentKey);
      if (turn.signal.aborted) this.#abortTurn(pending);
    } catch (error) {
      this.#settle(pending, false, new TypeError(`the message to ${turn.agentType}/${turn.agentKey} cannot be sent to a worker thread: ${error instanceof Error ? error.message : String(error)}`));
    }
  }

  #abortTurn(pending: PendingTurn): void {
    if (!this.#turns.has(pending.id)) return;
    if (!pending.posted) {
      this.#backlog = this.#backlog.filter((p) => p !== pending);
      this.#settle(pending, false, new AbortedError("the turn was aborted while its worker restarted"));
      return;
    }
    this.#send(this.#worker!, { t: "abort", id: pending.id });
    pending.graceTimer ??= setTimeout(() => this.#terminateStuck(pending), this.#config.abortGraceMs);
  }

  #terminateStuck(pending: PendingTurn): void {
    const worker = this.#worker;
    if (!this.#turns.has(pending.id) || worker === undefined) return;
    this.#counters.stuckTerminations++;
    const { agentType, agentKey } = pending.turn;
    this.#crashed(worker, `was terminated: the aborted turn of ${agentType}/${agentKey} did not answer within ${this.#config.abortGraceMs} ms`, undefined);
    void worker.terminate();
  }

  #crashed(worker: Worker | undefined, reason: string, cause: unknown): void {
    if (worker !== this.#worker || this.#closed) return;
    this.#worker = undefined;
    this.#clearAgents();
    this.#counters.crashes++;
    this.#consecutiveCrashes++;
    const message = `worker ${this.#config.index} of tenant "${this.#config.tenant}" ${reason}`;
    const failedTurns = this.#failAll(() => new WorkerCrashedError(message, cause === undefined ? undefined : { cause }));
    this.#counters.turnsLostToCrashes += failedTurns;
    const restartInMs = this.#consecutiveCrashes <= 1 ? 0 : Math.min(this.#config.restartMaxMs, this.#config.restartInitialMs * 2 ** (this.#consecutiveCrashes - 2));
    this.#restartTimer = setTimeout(() => {
      this.#counters.restarts++;
      this.#spawn();
    }, restartInMs);
    this.#restartTimer.unref();
    this.#config.onWorkerCrash?.({ tenant: this.#config.tenant, workerIndex: this.#config.index, reason: message, failedTurns, restartInMs });
  }

  #rememberAgent(type: string, key: string): void {
    let keys = this.#agents.get(type);
    if (keys === undefined) this.#agents.set(type, (keys = new Set()));
    if (keys.has(key)) return;
    keys.add(key);
    this.#agentCount++;
  }

  #forgetAgent(type: string, key: string): void {
    const keys = this.#agents.get(type);
    if (keys === undefined || !keys.delete(key)) return;
    this.#agentCount--;
    if (keys.size === 0) this.#agents.delete(type);
  }

  #clearAgents(): void {
    this.#agents.clear();
    this.#agentCount = 0;
  }

  /** Rejects every turn and deactivation of the current worker; returns how many turns failed. */
  #failAll(error: () => Error): number {
    const turns = [...this.#turns.values()];
    this.#backlog = [];
    for (const pending of turns) this.#settle(pending, false, error());
    for (const [id, deactivation] of this.#deactivations) {
      clearTimeout(deactivation.timer);
      this.#deactivations.delete(id);
      deactivation.reject(error());
    }
    return turns.length;
  }

  #settle(pending: PendingTurn, ok: boolean, value: unknown): void {
    if (!this.#turns.delete(pending.id)) return;
    pending.turn.signal.removeEventListener("abort", pending.onAbort);
    if (pending.graceTimer !== undefined) clearTimeout(pending.graceTimer);
    if (ok) {
      this.#counters.turnsSucceeded++;
      pending.resolve(value);
    } else {
      this.#counters.turnsFailed++;
      pending.reject(value as Error);
    }
    this.#updateRef();
  }

  #onMessage(worker: Worker, raw: unknown): void {
    if (worker !== this.#worker) return;
    const parsed = fromWorkerSchema.safeParse(raw);
    if (!parsed.success) {
      this.#counters.protocolViolations++;
      return;
    }
    const message: FromWorker = parsed.data;
    switch (message.t) {
      case "turn-result": {
        const pending = this.#turns.get(message.id);
        if (pending === undefined) return;
        // The worker finished a turn: it is healthy, so the crash backoff starts over.
        this.#consecutiveCrashes = 0;
        if (message.ok) this.#settle(pending, true, message.value);
        else this.#settle(pending, false, rehydrateError(message.error));
        return;
      }
      case "deactivate-result": {
        const pending = this.#deactivations.get(message.id);
        if (pending === undefined) return;
        this.#deactivations.delete(message.id);
        clearTimeout(pending.timer);
        this.#updateRef();
        if (message.ok) pending.resolve(message.value);
        else pending.reject(rehydrateError(message.error));
        return;
      }
      case "outbound":
        void this.#forwardOutbound(worker, message);
        return;
    }
  }

  async #forwardOutbound(worker: Worker, message: Extract<FromWorker, { t: "outbound" }>): Promise<void> {
    const pending = this.#turns.get(message.turnId);
    let reply: ToWorker;
    if (pending === undefined || !pending.posted) {
      reply = { t: "outbound-result", id: message.id, ok: false, error: serializeError(new MessageDroppedError("the turn that sent it has already ended")) };
    } else {
      // Tenant, sender, hop count and trace context come from the trusted turn, never from the worker.
      const { turn } = pending;
      const outbound: HostedOutbound = {
        kind: message.kind,
        tenant: turn.tenant,
        from: { type: turn.agentType, key: turn.agentKey },
        to: message.to,
        message: message.message,
        hopCount: turn.hopCount,
        ...(message.timeoutMs === undefined ? {} : { timeoutMs: message.timeoutMs }),
        ...(turn.traceparent === undefined ? {} : { traceparent: turn.traceparent }),
      };
      try {
        const value = await this.#config.onOutbound(outbound);
        reply = { t: "outbound-result", id: message.id, ok: true, value: message.kind === "publish" ? undefined : value };
      } catch (error) {
        reply = { t: "outbound-result", id: message.id, ok: false, error: serializeError(error) };
      }
    }
    if (worker !== this.#worker) return;
    this.#send(worker, reply);
  }

  #send(worker: Worker, message: ToWorker): void {
    try {
      worker.postMessage(message);
    } catch (error) {
      if (message.t === "outbound-result" && message.ok) {
        worker.postMessage({ t: "outbound-result", id: message.id, ok: false, error: serializeError(error) } satisfies ToWorker);
      } else {
        throw error;
      }
    }
  }

  /** Keeps the process alive only while the worker has work; an idle pool never holds it open. */
  #updateRef(): void {
    const worker = this.#worker;
    if (worker === undefined) return;
    const busy = this.#turns.size > 0 || this.#deactivations.size > 0;
    if (busy && !this.#referenced) worker.ref();
    if (!busy && this.#referenced) worker.unref();
    this.#referenced = busy;
  }
}
