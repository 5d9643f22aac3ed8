import type { AgentId } from "../agents/ids.js";
import type { TenantId } from "@troupe/contract";

/**
 * Where the runtime hands an agent's state on passivation and takes it back on re-activation.
 * Guarantees: a save is atomic (a later load sees the old state or the new one, never a torn one),
 * and state saved for one (tenant, agent) is never returned for another.
 */
export interface AgentStateStore {
  /** The state last saved for this agent of this tenant, or undefined when there is none. */
  load(tenant: TenantId, agent: AgentId): Promise<unknown>;
  /** Saves a JSON-serializable state for this agent of this tenant, replacing any earlier one. */
  save(tenant: TenantId, agent: AgentId, state: unknown): Promise<void>;
  /** Forgets the agent's state; a no-op when there is none. */
  delete(tenant: TenantId, agent: AgentId): Promise<void>;
}
