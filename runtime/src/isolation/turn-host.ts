import type { TenantId } from "@troupe/contract";

/** One turn to run on an agent hosted away from the main event loop. */
export interface HostedTurn {
  tenant: TenantId;
  agentType: string;
  agentKey: string;
  /** The message, structured-cloneable. */
  message: unknown;
  deliveryId: string;
  hopCount: number;
  /** Aborted by the watchdog or the caller; the host forwards it to the handler's own signal. */
  signal: AbortSignal;
  /** W3C trace context of the runtime's process span, so spans made inside the host are its children. */
  traceparent?: string;
  /**
   * State to hand to the agent's `loadState` when this turn activates it (ignored when the agent is
   * already active in the host). Structured-cloneable; undefined means a fresh agent.
   */
  state?: unknown;
  /**
   * Where the host loads the agent type (a URL or absolute path) when it was not configured with it;
   * `exportName` names the factory export (`default` when omitted).
   */
  module?: string;
  exportName?: string;
}

/** What a hosted handler asks of the runtime (send/publish to agents of its own tenant). */
export interface HostedOutbound {
  kind: "send" | "publish";
  tenant: TenantId;
  from: { type: string; key: string };
  to: { type: string; key: string } | { topicType: string; topicSource: string };
  message: unknown;
  /** The hop count of the turn that sends it (the runtime adds one for the new message). */
  hopCount: number;
  timeoutMs?: number;
  traceparent?: string;
}

/**
 * Runs agent turns outside the main thread (a worker-thread pool). Guarantees: a turn always settles
 * (result, handler error, abort, or WorkerCrashedError when the worker dies); a crash fails only the
 * turns that were running in that worker, and the worker is replaced.
 */
export interface TurnHost {
  runTurn(turn: HostedTurn): Promise<unknown>;
  /** Deactivates a hosted agent and returns its saved state (undefined when it keeps none). */
  deactivate(tenant: TenantId, agentType: string, agentKey: string): Promise<unknown>;
  close(): Promise<void>;
}
