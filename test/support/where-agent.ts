// A hosted agent for control-plane tests: answers where its turn ran (a worker thread or the main
// thread), so a test can see a tenant's tier change take effect on its next turns.
import { isMainThread, threadId } from "node:worker_threads";
import type { HostedAgentFactory } from "@troupe/runtime";

export const createWhereAgent: HostedAgentFactory = () => ({
  onMessage: () => ({ isMainThread, threadId }),
});
