import type { RuntimeMetrics } from "../metrics/runtime-metrics.js";
import type { RuntimeTracing } from "../tracing/runtime-tracing.js";

/**
 * What the parts of one Runtime share about its run: started or stopping, its tracing and metrics
 * (decided at start; null when their providers are no-ops), lifecycle work in progress, drops
 * already counted, and who waits for it to be idle. Written by the Runtime (start, stop) and by the
 * part that does the counted work; read by all.
 */
export class RunState {
  running = false;
  stopping: Promise<void> | null = null;
  tracing: RuntimeTracing | null = null;
  /** Null when the meter provider is a no-op: then nothing is recorded. */
  otelMetrics: RuntimeMetrics | null = null;
  /** Activations and passivations in progress (async), counted for stopWhenIdle. */
  pendingLifecycle = 0;
  /** Drops already counted at delivery, so the send path does not count them again. */
  readonly countedDrops = new WeakSet<object>();
  #idleWaiters: Array<() => void> = [];

  constructor(
    /** True when nothing is queued, running, activating or passivating. */
    readonly isIdle: () => boolean,
  ) {}

  /** True when someone waits in whenIdle (so turn ends need to check). */
  get idleWaited(): boolean {
    return this.#idleWaiters.length > 0;
  }

  /** Resolves when nothing is queued, running, activating or passivating (or the runtime stopped). */
  async whenIdle(): Promise<void> {
    while (this.running && !this.isIdle()) {
      await new Promise<void>((resolve) => this.#idleWaiters.push(resolve));
    }
  }

  /** Wakes the whenIdle waiters once idle (or stopped). */
  notifyIdle(): void {
    if (this.#idleWaiters.length === 0 || (this.running && !this.isIdle())) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const w of waiters) w();
  }
}
