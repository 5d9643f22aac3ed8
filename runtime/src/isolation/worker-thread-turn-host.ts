import { isAbsolute } from "node:path";
import { pathToFileURL } from "node:url";
import type { ResourceLimits } from "node:worker_threads";
import { z } from "zod";
import { InvalidArgumentError, RuntimeStoppedError, UnknownAgentTypeError, WorkerTierFullError } from "../errors.js";
import type { TenantId } from "@troupe/contract";
import type { AgentModuleSpec } from "./hosted-agent.js";
import type { HostedOutbound, HostedTurn, TurnHost } from "./turn-host.js";
import { HeldAgentStates } from "./held-agent-states.js";
import { TenantWorkers, workerIndexFor } from "./tenant-workers.js";
import type { TenantSlotConfig, TenantWorkerMetrics } from "./tenant-workers.js";
import type { WorkerCrashEvent, WorkerSlotMetrics } from "./worker-slot.js";

/** Options of WorkerThreadTurnHost. */
export interface WorkerThreadTurnHostOptions {
  /**
   * Agent types known up front; each worker imports the modules itself. Types not listed here are
   * hosted when a turn names its `module` (the runtime's `registerModule` registrations).
   */
  agentTypes?: AgentModuleSpec[];
  /** Routes a hosted agent's send or publish (tenant, sender and hop count already set by the host); resolves with the answer. */
  onOutbound(outbound: HostedOutbound): Promise<unknown>;
  /** Worker threads per tenant (a tenant's agents are spread over them by type and key). Default 1. */
  size?: number;
  /**
   * How many tenants may have workers at once (so at most `maxTenants × size` threads). A new
   * tenant takes the room of an idle one (see `idleTenantMs`); when none is idle its turn fails at
   * once with WorkerTierFullError. Default 16.
   */
  maxTenants?: number;
  /**
   * A tenant with nothing in flight whose workers still hold agents may be retired to make room
   * once it has been idle this long; its agents' states are saved first (saveState) and handed back
   * on their next turn or deactivation. A tenant with nothing in flight and no agents held may be
   * retired at any time. Default 300000 (5 min).
   */
  idleTenantMs?: number;
  /**
   * Bound on the states held for agents that no worker holds (their tenant was retired, or a turn
   * carrying their state never reached a live agent); a tenant whose states would not fit is not
   * retired. Default 100000.
   */
  maxHeldAgentStates?: number;
  /** How long an aborted turn may take to answer before its worker is terminated. Default 1000 ms. */
  abortGraceMs?: number;
  /** Per-worker V8 limits (e.g. `maxOldGenerationSizeMb`); exceeding them is a crash of that worker. */
  resourceLimits?: ResourceLimits;
  /**
   * Per worker, so per tenant: the first restart after a crash is immediate; repeated crashes without
   * a completed turn back off from initialMs up to maxMs. Another tenant never waits for it.
   */
  restartBackoff?: { initialMs?: number; maxMs?: number };
  /** Turns held per worker while it restarts; past it they fail with WorkerCrashedError. Default 1000. */
  maxBacklogPerWorker?: number;
  /** Bound on `deactivate` (the agent's saveState), also when a tenant is retired. Default 5000 ms. */
  deactivateTimeoutMs?: number;
  /** Told about every worker crash (for logs, spans, alerts). Must not throw. */
  onWorkerCrash?(event: WorkerCrashEvent): void;
}

/** Counters of the worker tier. Totals include retired tenants; `tenants` and `workers` list the tenants with workers now. */
export interface WorkerPoolMetrics {
  /** One entry per tenant with workers, in the order they got them. */
  tenants: TenantWorkerMetrics[];
  /** Every live worker slot (all tenants). */
  workers: WorkerSlotMetrics[];
  maxTenants: number;
  workersPerTenant: number;
  turnsStarted: number;
  crashes: number;
  restarts: number;
  stuckTerminations: number;
  /** Tenants whose workers were retired to make room. */
  retirements: number;
  /** Turns refused with WorkerTierFullError. */
  tierFullRejections: number;
  /** States held for agents no worker holds, waiting for their next turn or deactivation. */
  heldAgentStates: number;
  /** States lost: saveState failed or timed out when their tenant was retired, or `maxHeldAgentStates` was reached. */
  agentStatesLost: number;
}

const agentTypeSchema = z.object({
  type: z.string().regex(/^[A-Za-z][A-Za-z0-9_.-]{0,127}$/, "must be a valid agent type name"),
  module: z.string().min(1, "must name a module"),
  exportName: z.string().min(1).optional(),
});

const optionsSchema = z.object({
  agentTypes: z.array(agentTypeSchema).optional(),
  onOutbound: z.custom<WorkerThreadTurnHostOptions["onOutbound"]>((v) => typeof v === "function", "must be a function"),
  size: z.number().int().min(1).max(64).optional(),
  maxTenants: z.number().int().min(1).max(4096).optional(),
  idleTenantMs: z.number().int().nonnegative().optional(),
  maxHeldAgentStates: z.number().int().nonnegative().optional(),
  abortGraceMs: z.number().int().nonnegative().optional(),
  resourceLimits: z
    .object({
      maxOldGenerationSizeMb: z.number().positive().optional(),
      maxYoungGenerationSizeMb: z.number().positive().optional(),
      codeRangeSizeMb: z.number().positive().optional(),
      stackSizeMb: z.number().positive().optional(),
    })
    .strict()
    .optional(),
  restartBackoff: z.object({ initialMs: z.number().int().nonnegative().optional(), maxMs: z.number().int().nonnegative().optional() }).optional(),
  maxBacklogPerWorker: z.number().int().nonnegative().optional(),
  deactivateTimeoutMs: z.number().int().positive().optional(),
  onWorkerCrash: z.custom<WorkerThreadTurnHostOptions["onWorkerCrash"]>((v) => v === undefined || typeof v === "function", "must be a function").optional(),
});

function moduleUrl(module: string): string {
  return isAbsolute(module) ? pathToFileURL(module).href : module;
}

/**
 * A TurnHost that runs agents in `node:worker_threads` workers, so CPU-bound handlers never block the
 * main event loop. Workers are never shared between tenants: each tenant gets its own `size`
 * workers, started lazily on its first turn, and at most `maxTenants` tenants have workers at once.
 *
 * Guarantees:
 * - An agent (tenant, type, key) always runs in the same worker of its tenant while that worker lives.
 * - Every turn settles: answer, rehydrated handler error whose name and message match,
 *   WorkerCrashedError, AbortedError, WorkerTierFullError (at once, when every tenant slot is busy),
 *   or RuntimeStoppedError after close.
 * - A crash — exit, uncaught error, OOM under `resourceLimits`, or a worker terminated because an
 *   aborted turn ignored its signal for `abortGraceMs` — fails only the turns of that tenant running
 *   in that worker, and a replacement starts; its restart backoff is the tenant's own, so a tenant
 *   crashing in a loop never fails or delays another tenant's turn.
 * - Abort: the turn's signal is forwarded to the handler's; a handler that ignores it for
 *   `abortGraceMs` has its worker terminated.
 * - Outbound: a hosted handler's send/publish goes to `onOutbound` with tenant, sender, hop count and
 *   trace context taken from the turn, never from the worker.
 * - State hand-off: `deactivate` returns the agent's `saveState`; a turn's `state` is loaded on
 *   activation. When a tenant is retired to make room, its agents' states are saved first and handed
 *   back on their next turn (or to `deactivate`), so retirement never loses state a worker still held
 *   (unless saveState fails or times out: counted in `agentStatesLost`). A state given to a turn
 *   that never reached a live agent (refused, aborted before it started, worker died) is held the same way..
 * - Retirement picks only an idle tenant (no turn or deactivation in flight): first one whose workers
 *   hold no agents, else one idle for `idleTenantMs` whose states fit `maxHeldAgentStates`;
 *   least recently active first. The newcomer's workers start once the retiree's have stopped.
 */
export class WorkerThreadTurnHost implements TurnHost {
  /** Tenants with workers, in the order they got them. */
  readonly #tenants = new Map<TenantId, TenantWorkers>();
  /** Tenants being retired: their workers save state and stop; their turns wait for it. */
  readonly #retiring = new Map<TenantId, { group: TenantWorkers; done: Promise<void> }>();
  readonly #specs = new Map<string, Required<AgentModuleSpec>>();
  readonly #heldStates: HeldAgentStates;
  readonly #slotConfig: TenantSlotConfig;
  readonly #size: number;
  readonly #maxTenants: number;
  readonly #idleTenantMs: number;
  /** Counters of retired tenants' workers, so the totals survive retirement. */
  readonly #retiredTotals = { turnsStarted: 0, crashes: 0, restarts: 0, stuckTerminations: 0 };
  readonly #counters = { retirements: 0, tierFullRejections: 0, agentStatesLost: 0 };
  #closed = false;

  constructor(options: WorkerThreadTurnHostOptions) {
    const parsed = optionsSchema.safeParse(options);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new InvalidArgumentError(`worker turn host option ${issue.path.join(".") || "(root)"}: ${issue.message}`);
    }
    for (const spec of options.agentTypes ?? []) {
      if (this.#specs.has(spec.type)) throw new InvalidArgumentError(`worker turn host option agentTypes: agent type "${spec.type}" is listed twice`);
      this.#specs.set(spec.type, { type: spec.type, module: moduleUrl(spec.module), exportName: spec.exportName ?? "default" });
    }
    this.#size = options.size ?? 1;
    this.#maxTenants = options.maxTenants ?? 16;
    this.#idleTenantMs = options.idleTenantMs ?? 300_000;
    this.#heldStates = new HeldAgentStates(options.maxHeldAgentStates ?? 100_000);
    this.#slotConfig = {
      resourceLimits: options.resourceLimits,
      abortGraceMs: options.abortGraceMs ?? 1000,
      deactivateTimeoutMs: options.deactivateTimeoutMs ?? 5000,
      maxBacklog: options.maxBacklogPerWorker ?? 1000,
      restartInitialMs: options.restartBackoff?.initialMs ?? 100,
      restartMaxMs: options.restartBackoff?.maxMs ?? 10_000,
      onOutbound: options.onOutbound,
      ...(options.onWorkerCrash ? { onWorkerCrash: options.onWorkerCrash } : {}),
    };
  }

  /**
   * Runs one turn in the agent's worker (started, for a new tenant, if there is room). An agent type
   * neither configured nor named by the turn's `module` fails at once with UnknownAgentTypeError; a
   * type named with two different modules fails with InvalidArgumentError; a tenant without workers
   * when `maxTenants` busy tenants have them fails at once with WorkerTierFullError.
   */
  runTurn(turn: HostedTurn): Promise<unknown> {
    if (this.#closed) return Promise.reject(new RuntimeStoppedError("the worker-thread turn host is closed"));
    let spec: Required<AgentModuleSpec>;
    try {
      spec = this.#specOf(turn);
    } catch (error) {
      return Promise.reject(error);
    }
    const retiring = this.#retiring.get(turn.tenant);
    if (retiring !== undefined) return retiring.done.then(() => this.runTurn(turn));
    let group = this.#tenants.get(turn.tenant);
    if (group === undefined) {
      try {
        group = this.#admit(turn.tenant);
      } catch (error) {
        if (turn.state !== undefined) this.#holdState(turn.tenant, turn.agentType, turn.agentKey, turn.state);
        return Promise.reject(error);
      }
    }
    if (group.holds(turn.agentType, turn.agentKey)) return group.run(turn, spec);
    // A state held here (its tenant was retired, or an earlier turn never reached a live agent) goes
    // to the agent's activation; the runtime's own state, given only on a fresh activation, wins.
    const held = this.#heldStates.take(turn.tenant, turn.agentType, turn.agentKey);
    const state = turn.state !== undefined ? turn.state : held.state;
    if (state === undefined) return group.run(turn, spec);
    const owner = group;
    const running = group.run(state === turn.state ? turn : { ...turn, state }, spec);
    running.catch(() => {
      // The state never reached a live agent (aborted before it started, or its worker died): keep it.
      if (!owner.holds(turn.agentType, turn.agentKey)) this.#holdState(turn.tenant, turn.agentType, turn.agentKey, state);
    });
    return running;
  }

  /** Deactivates a hosted agent and resolves with its saved state; never starts a worker. */
  deactivate(tenant: TenantId, agentType: string, agentKey: string): Promise<unknown> {
    if (this.#closed) return Promise.reject(new RuntimeStoppedError("the worker-thread turn host is closed"));
    if (!this.#specs.has(agentType)) return Promise.resolve(undefined);
    const retiring = this.#retiring.get(tenant);
    if (retiring !== undefined) return retiring.done.then(() => this.deactivate(tenant, agentType, agentKey));
    const group = this.#tenants.get(tenant);
    if (group !== undefined && group.holds(agentType, agentKey)) return group.deactivate(agentType, agentKey);
    const held = this.#heldStates.take(tenant, agentType, agentKey);
    if (held.found) return Promise.resolve(held.state);
    // Its worker no longer holds it (a crash, or never activated): no state to save.
    return Promise.resolve(undefined);
  }

  /** Rejects every running turn with RuntimeStoppedError and terminates every worker. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    const groups = [...this.#tenants.values(), ...[...this.#retiring.values()].map((r) => r.group)];
    this.#tenants.clear();
    this.#heldStates.clear();
    await Promise.all(groups.map((group) => group.close()));
  }

  /** The index, among its tenant's `size` workers, of the worker that hosts this agent (stable for the host's lifetime). */
  workerIndexOf(tenant: TenantId, agentType: string, agentKey: string): number {
    void tenant; // Every tenant spreads its agents the same way, over workers of its own.
    return workerIndexFor(agentType, agentKey, this.#size);
  }

  /** The tenants that have workers now, in the order they got them. */
  tenantsWithWorkers(): TenantId[] {
    return [...this.#tenants.keys()];
  }

  /** A snapshot of the tier's counters, per tenant and in total. */
  metrics(): WorkerPoolMetrics {
    const live = [...this.#tenants.values()].map((group) => group.metrics());
    const all = [...live, ...[...this.#retiring.values()].map((r) => r.group.metrics())];
    const sum = (pick: (m: TenantWorkerMetrics) => number) => all.reduce((total, m) => total + pick(m), 0);
    return {
      tenants: live,
      workers: live.flatMap((m) => m.workers),
      maxTenants: this.#maxTenants,
      workersPerTenant: this.#size,
      turnsStarted: this.#retiredTotals.turnsStarted + sum((m) => m.turnsStarted),
      crashes: this.#retiredTotals.crashes + sum((m) => m.crashes),
      restarts: this.#retiredTotals.restarts + sum((m) => m.restarts),
      stuckTerminations: this.#retiredTotals.stuckTerminations + sum((m) => m.stuckTerminations),
      ...this.#counters,
      heldAgentStates: this.#heldStates.size,
    };
  }

  /** Gives a tenant workers, retiring an idle tenant when the tier is full; throws WorkerTierFullError when none is idle. */
  #admit(tenant: TenantId): TenantWorkers {
    let ready: Promise<void> | undefined;
    if (this.#tenants.size >= this.#maxTenants) {
      const retiree = this.#pickRetiree();
      if (retiree === undefined) {
        this.#counters.tierFullRejections++;
        throw new WorkerTierFullError(tenant, this.#maxTenants);
      }
      ready = this.#retire(retiree);
    }
    const group = new TenantWorkers(tenant, this.#size, this.#slotConfig, ready);
    this.#tenants.set(tenant, group);
    return group;
  }

  #pickRetiree(): TenantWorkers | undefined {
    let empty: TenantWorkers | undefined;
    let emptyIdleMs = -1;
    let stale: TenantWorkers | undefined;
    let staleIdleMs = -1;
    for (const group of this.#tenants.values()) {
      if (!group.idle) continue;
      const idleMs = group.idleForMs();
      const agents = group.activeAgentCount;
      if (agents === 0) {
        if (idleMs > emptyIdleMs) [empty, emptyIdleMs] = [group, idleMs];
      } else if (idleMs >= this.#idleTenantMs && agents <= this.#heldStates.room && idleMs > staleIdleMs) {
        [stale, staleIdleMs] = [group, idleMs];
      }
    }
    return empty ?? stale;
  }

  /** Saves the tenant's agents' states, then stops its workers. The promise never rejects. */
  #retire(group: TenantWorkers): Promise<void> {
    const tenant = group.tenant;
    this.#tenants.delete(tenant);
    const done = (async () => {
      await Promise.all(
        group.heldAgents().map(async ({ type, key }) => {
          try {
            const state = await group.deactivate(type, key);
            if (state !== undefined) this.#holdState(tenant, type, key, state);
          } catch {
            if (!this.#closed) this.#counters.agentStatesLost++;
          }
        }),
      );
      await group.close().catch(() => undefined);
      const m = group.metrics();
      this.#retiredTotals.turnsStarted += m.turnsStarted;
      this.#retiredTotals.crashes += m.crashes;
      this.#retiredTotals.restarts += m.restarts;
      this.#retiredTotals.stuckTerminations += m.stuckTerminations;
      this.#counters.retirements++;
      this.#retiring.delete(tenant);
    })();
    this.#retiring.set(tenant, { group, done });
    return done;
  }

  #holdState(tenant: TenantId, agentType: string, agentKey: string, state: unknown): void {
    if (this.#closed) return;
    if (!this.#heldStates.put(tenant, agentType, agentKey, state)) this.#counters.agentStatesLost++;
  }

  #specOf(turn: HostedTurn): Required<AgentModuleSpec> {
    const known = this.#specs.get(turn.agentType);
    if (turn.module === undefined) {
      if (known === undefined) throw new UnknownAgentTypeError(turn.agentType);
      return known;
    }
    const spec = { type: turn.agentType, module: moduleUrl(turn.module), exportName: turn.exportName ?? "default" };
    if (known === undefined) {
      const checked = agentTypeSchema.safeParse(spec);
      if (!checked.success) throw new InvalidArgumentError(`hosted turn ${checked.error.issues[0]!.path.join(".")}: ${checked.error.issues[0]!.message}`);
      this.#specs.set(spec.type, spec);
      return spec;
    }
    if (known.module !== spec.module || known.exportName !== spec.exportName) {
      throw new InvalidArgumentError(`agent type "${spec.type}" is hosted from ${known.module}#${known.exportName}; a turn named ${spec.module}#${spec.exportName}`);
    }
    return known;
  }
}
