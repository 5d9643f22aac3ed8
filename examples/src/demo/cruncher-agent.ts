import type { Agent, AgentContext } from "@troupe/runtime";

/** What a cruncher is asked to do: burn this much CPU, synchronously (a badly written handler). */
export interface CrunchRequest {
  readonly cpuMs: number;
}

/**
 * A CPU-heavy agent, the noisy tenant's habit: it blocks the event loop for `cpuMs` per message.
 * Troupe's fair scheduler charges that time to its tenant, so other tenants keep their turn. The
 * demo registers it by module, so a tenant moved to the "worker" tier runs it in worker threads
 * (it needs nothing of its context, so it fits both the inline and the hosted factory shape).
 */
export function cruncherAgent(_ctx: AgentContext): Agent {
  let crunched = 0;
  return {
    onMessage(message: unknown): { crunched: number } {
      const cpuMs = Math.min(50, Math.max(0, Number((message as CrunchRequest | undefined)?.cpuMs) || 0));
      const until = performance.now() + cpuMs;
      let x = 0;
      while (performance.now() < until) x += Math.sqrt(x + 1);
      crunched += 1;
      return { crunched: crunched + (x < 0 ? 1 : 0) };
    },
  };
}
