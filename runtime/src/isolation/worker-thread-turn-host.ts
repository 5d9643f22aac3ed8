import { isAbsolute } from "node:path";
import { pathToFileURL } from "node:url";
import type { ResourceLimits } from "node:worker_threads";
import { z } from "zod";
import { InvalidArgumentError, RuntimeStoppedError, UnknownAgentTypeError } from "../errors.js";
import type { TenantId } from "../tenancy/tenant-id.js";
import type { AgentModuleSpec } from "./hosted-agent.js";
import type { HostedOutbound, HostedTurn, TurnHost } from "./turn-host.js";
import { WorkerSlot } from "./worker-slot.js";
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
  /** Number of worker threads. Default 1. */
  size?: number;
  /** How long an aborted turn may take to answer before its worker is terminated. Default 1000 ms. */
  abortGraceMs?: number;
  /** Per-worker V8 limits (e.g. `maxOldGenerationSizeMb`); exceeding them is a crash of that worker. */
  resourceLimits?: ResourceLimits;
  /** First restart after a crash is immediate; repeated crashes without a completed turn back off from initialMs up to maxMs. */
  restartBackoff?: { initialMs?: number; maxMs?: number };
  /** Turns held per worker while it restarts; past it they fail with WorkerCrashedError. Default 1000. */
  maxBacklogPerWorker?: number;
  /** Bound on `deactivate` (the agent's saveState). Default 5000 ms. */
  deactivateTimeoutMs?: number;
  /** Told about every worker crash (for logs, spans, alerts). Must not throw. */
  onWorkerCrash?(event: WorkerCrashEvent): void;
}

/** Counters of the whole pool and of each worker. */
export interface WorkerPoolMetrics {
  workers: WorkerSlotMetrics[];
  turnsStarted: number;
  crashes: number;
  restarts: number;
  stuckTerminations: number;
}

const agentTypeSchema = z.object({
  type: z.string().regex(/^[A-Za-z][A-Za-z0-9_.-]{0,127}$/, "must be a valid agent type name"),
  module: z.string().min(1, "must name a module"),
  exportName: z.string().min(1).optional(),
});

const optionsSchema = z.object({
  agentTypes: z.array(agentTypeSchema).optional(),
  onOutbound: z.custom<WorkerThreadTurnHostOptions["onOutbound"]>((v) => typeof v === "function", "must be a function"),
  size: z.number().int().min(1).max(256).optional(),
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

/** FNV-1a over the three parts, each followed by a separator none of them can be confused with. */
function hashAgent(tenant: string, agentType: string, agentKey: string): number {
  let hash = 0x811c9dc5;
  for (const part of [tenant, agentType, agentKey]) {
    for (let i = 0; i < part.length; i++) {
      hash ^= part.charCodeAt(i);
      hash = Math.imul(hash, 0x01000193);
    }
    hash ^= 0xffff;
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

function moduleUrl(module: string): string {
  return isAbsolute(module) ? pathToFileURL(module).href : module;
}

/**
 * A TurnHost that runs agents in a pool of `node:worker_threads` workers, so CPU-bound handlers never
 * block the main event loop. Guarantees: an agent (tenant, type, key) always runs in the same worker
 * while that worker lives; every turn settles (answer, rehydrated handler error whose name and message
 * match, WorkerCrashedError, or RuntimeStoppedError after close); a crash — exit, uncaught error, OOM
 * under `resourceLimits`, or a worker terminated because an aborted turn ignored its signal for
 * `abortGraceMs` — fails only the turns running in that worker, and a replacement starts.
 */
export class WorkerThreadTurnHost implements TurnHost {
  private readonly slots: WorkerSlot[];
  private readonly specs = new Map<string, Required<AgentModuleSpec>>();
  private closed = false;

  constructor(options: WorkerThreadTurnHostOptions) {
    const parsed = optionsSchema.safeParse(options);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new InvalidArgumentError(`worker turn host option ${issue.path.join(".") || "(root)"}: ${issue.message}`);
    }
    for (const spec of options.agentTypes ?? []) {
      if (this.specs.has(spec.type)) throw new InvalidArgumentError(`worker turn host option agentTypes: agent type "${spec.type}" is listed twice`);
      this.specs.set(spec.type, { type: spec.type, module: moduleUrl(spec.module), exportName: spec.exportName ?? "default" });
    }
    const size = options.size ?? 1;
    this.slots = Array.from(
      { length: size },
      (_, index) =>
        new WorkerSlot({
          index,
          resourceLimits: options.resourceLimits,
          abortGraceMs: options.abortGraceMs ?? 1000,
          deactivateTimeoutMs: options.deactivateTimeoutMs ?? 5000,
          maxBacklog: options.maxBacklogPerWorker ?? 1000,
          restartInitialMs: options.restartBackoff?.initialMs ?? 100,
          restartMaxMs: options.restartBackoff?.maxMs ?? 10_000,
          onOutbound: options.onOutbound,
          ...(options.onWorkerCrash ? { onWorkerCrash: options.onWorkerCrash } : {}),
        }),
    );
  }

  /**
   * Runs one turn in the agent's worker. An agent type neither configured nor named by the turn's
   * `module` fails at once with UnknownAgentTypeError; a type named with two different modules fails
   * with InvalidArgumentError.
   */
  runTurn(turn: HostedTurn): Promise<unknown> {
    if (this.closed) return Promise.reject(new RuntimeStoppedError("the worker-thread turn host is closed"));
    let spec: Required<AgentModuleSpec>;
    try {
      spec = this.specOf(turn);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.slotOf(turn.tenant, turn.agentType, turn.agentKey).runTurn(turn, spec);
  }

  deactivate(tenant: TenantId, agentType: string, agentKey: string): Promise<unknown> {
    if (this.closed) return Promise.reject(new RuntimeStoppedError("the worker-thread turn host is closed"));
    if (!this.specs.has(agentType)) return Promise.resolve(undefined);
    return this.slotOf(tenant, agentType, agentKey).deactivate(tenant, agentType, agentKey);
  }

  /** Rejects every running turn with RuntimeStoppedError and terminates every worker. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.slots.map((slot) => slot.close()));
  }

  /** The index of the worker that hosts this agent (stable for the host's lifetime). */
  workerIndexOf(tenant: TenantId, agentType: string, agentKey: string): number {
    return hashAgent(tenant, agentType, agentKey) % this.slots.length;
  }

  /** A snapshot of the pool's counters. */
  metrics(): WorkerPoolMetrics {
    const workers = this.slots.map((slot) => slot.metrics());
    const sum = (pick: (m: WorkerSlotMetrics) => number) => workers.reduce((total, m) => total + pick(m), 0);
    return {
      workers,
      turnsStarted: sum((m) => m.turnsStarted),
      crashes: sum((m) => m.crashes),
      restarts: sum((m) => m.restarts),
      stuckTerminations: sum((m) => m.stuckTerminations),
    };
  }

  private specOf(turn: HostedTurn): Required<AgentModuleSpec> {
    const known = this.specs.get(turn.agentType);
    if (turn.module === undefined) {
      if (known === undefined) throw new UnknownAgentTypeError(turn.agentType);
      return known;
    }
    const spec = { type: turn.agentType, module: moduleUrl(turn.module), exportName: turn.exportName ?? "default" };
    if (known === undefined) {
      const checked = agentTypeSchema.safeParse(spec);
      if (!checked.success) throw new InvalidArgumentError(`hosted turn ${checked.error.issues[0]!.path.join(".")}: ${checked.error.issues[0]!.message}`);
      this.specs.set(spec.type, spec);
      return spec;
    }
    if (known.module !== spec.module || known.exportName !== spec.exportName) {
      throw new InvalidArgumentError(`agent type "${spec.type}" is hosted from ${known.module}#${known.exportName}; a turn named ${spec.module}#${spec.exportName}`);
    }
    return known;
  }

  private slotOf(tenant: string, agentType: string, agentKey: string): WorkerSlot {
    return this.slots[hashAgent(tenant, agentType, agentKey) % this.slots.length]!;
  }
}
