/**
 * Counters of one tenant, as returned by `Runtime.metrics()`. Times are milliseconds, summed over
 * turns; divide by `turns` for a mean.
 */
export interface TenantMetrics {
  /** Turns that completed (any outcome, including timeouts). */
  turns: number;
  /** Turns whose handler threw (or an onDeliver interceptor failed). */
  errors: number;
  /** Turns aborted by the watchdog (time budget). */
  timeouts: number;
  /** Handlers of abandoned turns (timed out or stopped) that have not settled yet: they ignored their signal (a gauge). */
  abandonedHandlersRunning: number;
  /** Results of abandoned turns that arrived late and were discarded. */
  lateResultsDiscarded: number;
  /** Messages accepted and not started yet (a gauge). */
  queueDepth: number;
  /** Turns running now (a gauge). */
  inFlight: number;
  /** Messages refused because the tenant's queue was full. */
  rejectedQueueFull: number;
  /** Messages refused by the tenant's rate limit. */
  rejectedRateLimited: number;
  /** Messages dropped by the loop guard. */
  rejectedLoop: number;
  /** Messages dropped by interceptors. */
  dropped: number;
  /** Published deliveries whose handler failed (counted, never thrown to the publisher). */
  publishErrors: number;
  /** Handler wall time, start to settle. */
  handlerWallMs: number;
  /** Event-loop time blocked by handlers: the synchronous part of each handler call. */
  handlerBlockedMs: number;
  /** Time messages waited in the queue before their turn. */
  queueWaitMs: number;
  /** Agents active (in memory) now (a gauge). */
  activeAgents: number;
  /** Agents evicted by passivation. */
  passivations: number;
  /** Agents created or re-activated. */
  activations: number;
}

/** A zeroed TenantMetrics. */
export function emptyTenantMetrics(): TenantMetrics {
  return {
    turns: 0,
    errors: 0,
    timeouts: 0,
    abandonedHandlersRunning: 0,
    lateResultsDiscarded: 0,
    queueDepth: 0,
    inFlight: 0,
    rejectedQueueFull: 0,
    rejectedRateLimited: 0,
    rejectedLoop: 0,
    dropped: 0,
    publishErrors: 0,
    handlerWallMs: 0,
    handlerBlockedMs: 0,
    queueWaitMs: 0,
    activeAgents: 0,
    passivations: 0,
    activations: 0,
  };
}
