/**
 * Typed errors of the runtime. Every error has a stable `code` that callers, logs and HTTP edges can
 * rely on; the message names the problem in words a user can act on.
 */
export class TroupeError extends Error {
  /** A stable, machine-readable code such as `QUEUE_FULL`. */
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** An argument failed validation (an id, a config value, a message option). */
export class InvalidArgumentError extends TroupeError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("INVALID_ARGUMENT", message, options);
  }
}

/** No agent type of that name is registered. Raised at once, never after a wait. */
export class UnknownAgentTypeError extends TroupeError {
  constructor(readonly agentType: string) {
    super("UNKNOWN_AGENT_TYPE", `no agent type "${agentType}" is registered`);
  }
}

/** An agent tried to address an agent, topic or subscription of another tenant. */
export class CrossTenantError extends TroupeError {
  constructor(message: string) {
    super("CROSS_TENANT", message);
  }
}

/** The tenant's queue is at its bound; the message was not accepted. */
export class QueueFullError extends TroupeError {
  constructor(readonly tenant: string, readonly maxQueuedMessages: number) {
    super("QUEUE_FULL", `tenant "${tenant}" has ${maxQueuedMessages} messages queued, its limit; retry later`);
  }
}

/** The tenant sent messages faster than its configured rate. */
export class RateLimitedError extends TroupeError {
  constructor(readonly tenant: string, message: string, readonly retryAfterMs?: number) {
    super("RATE_LIMITED", message);
  }
}

/** A send was not answered in time: the caller's timeout, or the turn's time budget (watchdog). */
export class TimeoutError extends TroupeError {
  constructor(message: string) {
    super("TIMEOUT", message);
  }
}

/** The caller aborted the call through its AbortSignal. */
export class AbortedError extends TroupeError {
  constructor(message = "the call was aborted by its caller") {
    super("ABORTED", message);
  }
}

/** The agent's handler threw; the original error is the `cause`, its name and message are kept. */
export class HandlerError extends TroupeError {
  constructor(readonly agent: string, cause: unknown) {
    const detail = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
    super("HANDLER_ERROR", `handler of ${agent} failed: ${detail}`, { cause });
  }
}

/** A message exceeded the hop limit (an agent loop) and was dropped. */
export class LoopDetectedError extends TroupeError {
  constructor(readonly hops: number, readonly maxHops: number) {
    super("LOOP_DETECTED", `message dropped after ${hops} hops (limit ${maxHops}): the agents are likely in a loop`);
  }
}

/** The runtime is not running (not started yet, or stopped); pending calls settle with this. */
export class RuntimeStoppedError extends TroupeError {
  constructor(message = "the runtime is stopped") {
    super("RUNTIME_STOPPED", message);
  }
}

/** An interceptor dropped the message. */
export class MessageDroppedError extends TroupeError {
  constructor(reason: string) {
    super("MESSAGE_DROPPED", `message dropped: ${reason}`);
  }
}

/** The isolated worker hosting the tenant's agents crashed during the turn. */
export class WorkerCrashedError extends TroupeError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("WORKER_CRASHED", message, options);
  }
}

/**
 * The worker tier has no room for another tenant: `maxTenants` tenants already have workers and none
 * of them is idle enough to retire. Raised at once, never after a wait; retry later.
 */
export class WorkerTierFullError extends TroupeError {
  constructor(readonly tenant: string, readonly maxTenants: number) {
    super(
      "WORKER_TIER_FULL",
      `the worker tier is full: ${maxTenants} tenants (maxTenants) have busy workers, so tenant "${tenant}" cannot get one; retry later or raise maxTenants`,
    );
  }
}

/** A call to the LLM would exceed the tenant's token or cost budget; no call was made. */
export class BudgetExceededError extends TroupeError {
  constructor(readonly tenant: string, message: string) {
    super("BUDGET_EXCEEDED", message);
  }
}

/**
 * The budget ledger could not be read or written (its database or broker is unreachable). Before a
 * call: no call was made. After one: the call succeeded but its usage could not be recorded.
 */
export class BudgetLedgerUnavailableError extends TroupeError {
  constructor(readonly tenant: string, message: string, options?: { cause?: unknown }) {
    super("BUDGET_LEDGER_UNAVAILABLE", message, options);
  }
}

/** The LLM provider failed after the bounded retries (429s or 5xx), or answered with an error. */
export class LlmProviderError extends TroupeError {
  constructor(message: string, readonly status?: number, options?: { cause?: unknown }) {
    super("LLM_PROVIDER_ERROR", message, options);
  }
}

/** A tool registration or call was refused (shared instance, unknown tool, rate limit). */
export class ToolError extends TroupeError {
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** State could not be decrypted or verified: moved under another tenant or agent, tampered, or wrong key. */
export class StateIntegrityError extends TroupeError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("STATE_INTEGRITY", message, options);
  }
}

/**
 * A message was given up after `attempts` deliveries that never completed (each lost with its worker,
 * or handed back), counted across changes of the worker holding it; it was terminated and will not
 * be delivered again. The caller gets this at once instead of waiting for its timeout.
 */
export class PoisonMessageError extends TroupeError {
  constructor(readonly agent: string, readonly attempts: number) {
    super("POISON_MESSAGE", `the message to agent ${agent} was given up after ${attempts} deliveries that did not complete (its workers died or handed it back each time); it is terminated and will not run again`);
  }
}

/** Why the control plane could not be followed: not reachable (network, 5xx, 429), the key refused (401, 403, 404), or an answer outside the contract. */
export type ControlPlaneFailure = "unreachable" | "refused" | "invalid_answer";

/**
 * A read of the control plane (the collector's tenant registry) failed; the runtime keeps the
 * settings it has. The message carries the collector's own words when it gave any (they name the
 * key or tenant at fault), or the field of an answer that broke the contract.
 */
export class ControlPlaneError extends TroupeError {
  /** The pause a 429 or 503 asked for (Retry-After), if any. */
  readonly retryAfterMs: number | undefined;

  constructor(readonly failure: ControlPlaneFailure, message: string, readonly status?: number, options?: { cause?: unknown; retryAfterMs?: number }) {
    super(`CONTROL_PLANE_${failure.toUpperCase()}`, message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.retryAfterMs = options?.retryAfterMs;
  }
}
