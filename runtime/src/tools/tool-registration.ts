import type { z } from "zod";

/** Who a tool instance is built for: one agent of one tenant. */
export interface ToolScope {
  readonly tenant: string;
  /** The agent the instance serves (an AgentId fits). */
  readonly agentId: { readonly type: string; readonly key: string };
}

/** What a tool call receives besides its arguments. */
export interface ToolCallContext {
  /** The id the model gave the call (or one made up for direct calls). */
  readonly callId: string;
  readonly signal?: AbortSignal | undefined;
}

/** A tool built for one (tenant, agent). May keep state: it is never shared with another tenant. */
export interface ToolInstance {
  invoke(args: unknown, context: ToolCallContext): unknown;
}

/** How a tool is registered: described for the model, built by a factory per (tenant, agent). */
export interface ToolRegistration {
  /** Shown to the model. */
  readonly description: string;
  /** JSON schema of the arguments object, shown to the model. */
  readonly parameters: Readonly<Record<string, unknown>>;
  /** Builds a new instance for a scope. Must return a fresh object: instances shared across tenants are refused. */
  readonly factory: (scope: ToolScope) => ToolInstance;
  /** Optional zod schema the parsed arguments must pass before `invoke` sees them. */
  readonly argsSchema?: z.ZodType | undefined;
}
