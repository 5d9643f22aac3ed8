import type { Tracer } from "@opentelemetry/api";
import type { ToolRegistration } from "./tool-registration.js";

/**
 * The internal view AgentTools needs of its registry: the registry builds one and hands it to each
 * AgentTools, so neither file imports the other. Not part of the public API.
 */
export interface ToolRegistryInternals {
  /** The tracer of every `execute_tool` span of the registry. */
  readonly tracer: Tracer;
  /** Longest tool result (characters) fed back to a model; longer results are cut. */
  readonly maxResultChars: number;
  /** The registration of a tool name, or undefined when none is registered under it. */
  registration(name: string): ToolRegistration | undefined;
  /** Registered tool names, in registration order. */
  names(): readonly string[];
  /** Takes one call from the tenant's bucket; returns the wait in ms or throws TOOL_RATE_LIMITED. */
  admit(tenant: string): number;
}
