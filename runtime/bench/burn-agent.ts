// An agent for the runtime benchmark's worker-tier run: busy-loops 1 ms per message.
import type { HostedAgentFactory } from "@troupe/runtime";

export const createBurnAgent: HostedAgentFactory = () => ({
  onMessage(message: unknown): unknown {
    const end = performance.now() + 1;
    while (performance.now() < end);
    return message;
  },
});
