import type { AgentId, TopicId } from "./ids.js";
import type { TenantId } from "@troupe/contract";

/** Options of one request/response call. */
export interface SendOptions {
  /** The caller gives up after this many milliseconds (TimeoutError); the turn's signal is aborted. */
  timeoutMs?: number;
  /** Aborting it settles the call with AbortedError and aborts the turn's signal. */
  signal?: AbortSignal;
}

/**
 * What an agent's handler sees during one turn. Everything it can reach is bound to the tenant of
 * the message: `send` and `publish` only address agents and topics of that same tenant, and carry
 * the hop count plus one (the loop guard).
 */
export interface MessageContext {
  readonly tenant: TenantId;
  readonly agentId: AgentId;
  /** The agent that sent the message, when it came from a handler. */
  readonly sender: AgentId | undefined;
  /** The topic, when the message was published. */
  readonly topic: TopicId | undefined;
  /** Aborted when the turn passes its time budget, the caller times out or aborts, or the runtime stops. */
  readonly signal: AbortSignal;
  /** Unique per delivery within this runtime. */
  readonly deliveryId: string;
  /**
   * Distributed runtime only: the fencing token of the partition lease under which this worker runs
   * the turn. A later holder of the agent's partition (after a failover, or after this worker stalled
   * past its lease) runs with a larger token, so a state write made conditional on the token
   * ("refuse if a larger token already wrote") cannot be overwritten by a stale worker. Absent in a
   * single-process runtime.
   */
  readonly fencingToken?: number;
  /** How many handler-to-handler hops led to this message (0 at ingress). */
  readonly hopCount: number;
  /** True for send (a caller awaits the result), false for a published message. */
  readonly isRpc: boolean;
  send(to: AgentId, message: unknown, options?: SendOptions): Promise<unknown>;
  publish(topic: TopicId, message: unknown): Promise<void>;
}

/** What an agent factory gets: the identity of the agent it creates. */
export interface AgentContext {
  readonly tenant: TenantId;
  readonly agentId: AgentId;
}

/**
 * An agent instance. The runtime calls `onMessage` one message at a time per (tenant, type, key).
 * `saveState`/`loadState` hand state over on passivation and re-activation; `onDeactivate` runs
 * after the agent is evicted.
 */
export interface Agent {
  onMessage(message: unknown, ctx: MessageContext): unknown;
  saveState?(): unknown;
  loadState?(state: unknown): void | Promise<void>;
  onDeactivate?(): void | Promise<void>;
}

/** Creates an agent for one (tenant, type, key); called lazily on the agent's first message. */
export type AgentFactory = (ctx: AgentContext) => Agent;

/** Options of an agent type registration. */
export interface AgentTypeOptions {
  /** Overrides the tenant's turn time budget for this type. */
  turnTimeoutMs?: number;
  /**
   * "inline": this type's turns always run on the runtime's main event loop, whatever its tenant's
   * tier. For types that hold in-process resources a worker thread cannot have (the runtime's LLM
   * clients, tools, connections): the platform decides this per type, a tenant's tier cannot.
   * Default: the tenant's isolation (a factory-registered type in a worker-tier tenant is refused).
   */
  isolation?: "inline";
}

/**
 * An agent type that can run in a worker thread: the module is imported there and `exportName`
 * names a factory `(ctx: AgentContext) => Agent` (or a class with that constructor).
 */
export interface AgentTypeModule {
  module: URL | string;
  exportName: string;
}
