import type { TenantId } from "@troupe/contract";

/**
 * Where a worker finds an agent type: a module (a file URL, an absolute path, or a package
 * specifier) and the name of its exported factory. The worker imports it itself, so the agent's code
 * never has to cross the thread boundary.
 */
export interface AgentModuleSpec {
  /** The agent type name, as registered with the runtime. */
  type: string;
  /** A `file:` URL, an absolute path, or a bare package specifier. `.ts` files work through tsx. */
  module: string;
  /** The export holding the HostedAgentFactory; `default` when omitted. */
  exportName?: string;
}

/** An agent living in a worker thread. State hooks let the runtime passivate and restore it. */
export interface HostedAgent {
  /** Handles one message; the result (structured-cloneable) is the answer to a send. */
  onMessage(message: unknown, ctx: HostedTurnContext): unknown;
  /** Returns the state to keep when the agent is deactivated (structured-cloneable). */
  saveState?(): unknown;
  /** Restores state saved by `saveState`, before the first message after activation. */
  loadState?(state: unknown): unknown;
}

/** What a factory learns about the agent it builds. */
export interface HostedAgentInit {
  tenant: TenantId;
  agentId: { readonly type: string; readonly key: string };
}

/** Builds one agent instance per (tenant, type, key), lazily on its first message. */
export type HostedAgentFactory = (init: HostedAgentInit) => HostedAgent | Promise<HostedAgent>;

/**
 * The context of one turn inside a worker. The tenant is fixed by the host: `send` and `publish`
 * can only reach agents and topics of the same tenant, and only while the turn is running.
 */
export interface HostedTurnContext {
  readonly tenant: TenantId;
  readonly agentId: { readonly type: string; readonly key: string };
  /** Aborted when the runtime aborts the turn (watchdog or caller); honour it to avoid termination. */
  readonly signal: AbortSignal;
  readonly deliveryId: string;
  readonly hopCount: number;
  /** The W3C trace context of the runtime's process span for this turn. */
  readonly traceparent?: string;
  /** Request/response to an agent of the same tenant; resolves with its answer. */
  send(to: { type: string; key: string }, message: unknown, options?: { timeoutMs?: number }): Promise<unknown>;
  /** Publishes to a topic of the same tenant. */
  publish(topic: { type: string; source: string }, message: unknown): Promise<void>;
}
