import type { MeterProvider, TracerProvider } from "@opentelemetry/api";
import { InvalidArgumentError } from "../errors.js";
import type { TurnHost } from "../isolation/turn-host.js";
import type { AgentStateStore } from "../state/agent-state-store.js";
import type { QuotaConfig } from "../tenancy/tenant-quota.js";

/** Passivation: how long an idle agent stays in memory, and how many agents may be active at once. */
export interface PassivationOptions {
  /** An agent idle this long is evicted (its state handed to the state store first). */
  idleMs: number;
  /** Beyond this many active agents, the least recently used idle agents are evicted at once. */
  maxActiveAgents?: number;
  /** How often idle agents are looked for. Default: min(idleMs, 1000). */
  sweepIntervalMs?: number;
}

/** Options of a Runtime. */
export interface RuntimeOptions {
  /** Where spans go. Default: the global provider (a no-op until an SDK is registered), read at start(). */
  tracerProvider?: TracerProvider;
  /**
   * Where the per-tenant metrics go (turns, queue wait, handler time, quota rejections; see
   * RuntimeMetrics). Default: the global provider, read at start(); without an SDK nothing is recorded.
   */
  meterProvider?: MeterProvider;
  /** Quotas: defaults, tiers (with weight and isolation) and per-tenant overrides. */
  quotas?: QuotaConfig;
  /** Messages past this many handler-to-handler hops are dropped (LoopDetectedError). Default 32. */
  maxHops?: number;
  /** Idle agent eviction. Default { idleMs: 300000, maxActiveAgents: 100000 }; false keeps agents forever. */
  passivation?: PassivationOptions | false;
  /** Receives agents' state on passivation and gives it back on re-activation. */
  stateStore?: AgentStateStore;
  /** Runs the turns of tenants whose isolation is "worker". The caller owns it (the runtime does not close it). */
  turnHost?: TurnHost;
  /**
   * Resolution of the watchdog that enforces turn time budgets: a turn past its budget is ended at
   * most this long after it. The watchdog wakes only for the earliest deadline of the running turns
   * (not on a fixed tick), so long turns cost no wake-ups until one is due. Default 10 ms.
   */
  watchdogIntervalMs?: number;
  /**
   * Detect a handler of tenant A reaching tenant B through `runtime.tenant("b")` also after an
   * `await` (AsyncLocalStorage). Default true. When false, only calls made in the synchronous part of
   * a handler are detected; on Node 20 AsyncLocalStorage slows promise-heavy code noticeably.
   */
  asyncTenantGuard?: boolean;
  /** The dispatcher yields to the event loop after this much handler time, so timers and I/O are served. Default 1 ms. */
  dispatchSliceMs?: number;
  /**
   * Under a backlog the slice grows, up to this: to a quarter of the time the queued turns are
   * expected to take (their count times the mean handler time per turn), so the cost of each yield
   * (reading, writing, waking other processes) is spread over more turns while callers wait in the
   * queue anyway, and a queued turn waits at most about a quarter longer. Default `dispatchSliceMs`
   * (no growth).
   */
  maxDispatchSliceMs?: number;
}

/** The scalar RuntimeOptions, validated, with their defaults applied. */
export interface ResolvedRuntimeOptions {
  maxHops: number;
  /** Null when passivation is off (`passivation: false`). */
  passivation: Required<PassivationOptions> | null;
  watchdogIntervalMs: number;
  sliceMs: number;
  maxSliceMs: number;
  asyncTenantGuard: boolean;
}

/**
 * Validates the scalar options (InvalidArgumentError naming the first bad one, in declaration
 * order) and applies the defaults documented on RuntimeOptions.
 */
export function resolveRuntimeOptions(options: RuntimeOptions): ResolvedRuntimeOptions {
  const maxHops = positiveInt(options.maxHops ?? 32, "maxHops");
  let passivation: Required<PassivationOptions> | null;
  if (options.passivation === false) passivation = null;
  else {
    const p = options.passivation ?? { idleMs: 300_000, maxActiveAgents: 100_000 };
    const idleMs = positiveNumber(p.idleMs, "passivation.idleMs");
    passivation = {
      idleMs,
      maxActiveAgents: positiveInt(p.maxActiveAgents ?? Number.MAX_SAFE_INTEGER, "passivation.maxActiveAgents"),
      sweepIntervalMs: positiveNumber(p.sweepIntervalMs ?? Math.min(idleMs, 1000), "passivation.sweepIntervalMs"),
    };
  }
  const watchdogIntervalMs = positiveNumber(options.watchdogIntervalMs ?? 10, "watchdogIntervalMs");
  const sliceMs = positiveNumber(options.dispatchSliceMs ?? 1, "dispatchSliceMs");
  const maxSliceMs = positiveNumber(options.maxDispatchSliceMs ?? sliceMs, "maxDispatchSliceMs");
  if (maxSliceMs < sliceMs) throw new InvalidArgumentError(`maxDispatchSliceMs (${maxSliceMs}) must not be below dispatchSliceMs (${sliceMs})`);
  return { maxHops, passivation, watchdogIntervalMs, sliceMs, maxSliceMs, asyncTenantGuard: options.asyncTenantGuard !== false };
}

function positiveInt(v: number, name: string): number {
  if (!Number.isInteger(v) || v <= 0) throw new InvalidArgumentError(`${name} must be a positive integer; got ${String(v)}`);
  return v;
}

function positiveNumber(v: number, name: string): number {
  if (typeof v !== "number" || !(v > 0)) throw new InvalidArgumentError(`${name} must be a positive number; got ${String(v)}`);
  return v;
}
