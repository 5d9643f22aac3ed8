import { trace } from "@opentelemetry/api";
import type { TracerProvider } from "@opentelemetry/api";
import { ToolError } from "../errors.js";
import { TokenBucket, perMinute } from "../tenancy/token-bucket.js";
import { AgentTools } from "./agent-tools.js";
import type { ToolRegistration, ToolScope } from "./tool-registration.js";
import type { ToolRegistryInternals } from "./tool-registry-internals.js";

const NAME_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** A tenant's tool-call rate limit: calls per minute, waiting at most `maxWaitMs` for capacity. */
export interface ToolRateLimit {
  readonly callsPerMinute: number;
  readonly maxWaitMs?: number;
}

/** Options of ToolRegistry. */
export interface ToolRegistryOptions {
  /** Default: the global tracer provider. */
  readonly tracerProvider?: TracerProvider;
  /** The tool-call rate limit of a tenant; undefined means unlimited. Read on each call. */
  readonly rateLimit?: (tenant: string) => ToolRateLimit | undefined;
  /** Longest tool result (characters) fed back to a model; longer results are cut. Default 32,000. */
  readonly maxResultChars?: number;
}

/**
 * The tools an application offers its agents, registered as factories. Guarantees:
 * - a tool is built per (tenant, agent) by its factory, lazily on first use;
 * - one object is never used for two tenants: a factory that returns an instance already built for
 *   another tenant is refused with ToolError("TOOL_SHARED") (checked across every registry of the
 *   process);
 * - every call is an `execute_tool <name>` span with metadata only (never arguments or results),
 *   and counts against the tenant's tool-call rate limit.
 */
export class ToolRegistry {
  readonly #tools = new Map<string, ToolRegistration>();
  readonly #buckets = new Map<string, { bucket: TokenBucket; callsPerMinute: number }>();
  readonly #internals: ToolRegistryInternals;
  readonly #rateLimit: ToolRegistryOptions["rateLimit"];

  constructor(options: ToolRegistryOptions = {}) {
    this.#rateLimit = options.rateLimit;
    const tools = this.#tools;
    this.#internals = {
      tracer: (options.tracerProvider ?? trace.getTracerProvider()).getTracer("@troupe/runtime/tools"),
      maxResultChars: options.maxResultChars ?? 32_000,
      registration: (name) => tools.get(name),
      names: () => [...tools.keys()],
      admit: (tenant) => this.#admit(tenant),
    };
  }

  /**
   * Registers a tool. Throws ToolError: TOOL_INVALID (bad name, missing description or parameters,
   * factory not a function), TOOL_ALREADY_REGISTERED.
   */
  register(name: string, registration: ToolRegistration): void {
    if (typeof name !== "string" || !NAME_PATTERN.test(name)) {
      throw new ToolError("TOOL_INVALID", `tool name must be 1-64 letters, digits, "_" or "-"; got ${JSON.stringify(name)}`);
    }
    if (this.#tools.has(name)) throw new ToolError("TOOL_ALREADY_REGISTERED", `tool "${name}" is already registered`);
    if (registration === null || typeof registration !== "object") {
      throw new ToolError("TOOL_INVALID", `tool "${name}": the registration must be an object { description, parameters, factory }`);
    }
    if (typeof registration.factory !== "function") {
      throw new ToolError(
        "TOOL_INVALID",
        `tool "${name}": factory must be a function (scope) => instance, got ${registration.factory === null ? "null" : typeof registration.factory}. Register a factory, not a tool object, so each tenant's agent gets its own instance`,
      );
    }
    if (typeof registration.description !== "string" || registration.description.length === 0) {
      throw new ToolError("TOOL_INVALID", `tool "${name}": description must be a non-empty string`);
    }
    const params = registration.parameters as { type?: unknown } | null;
    if (params === null || typeof params !== "object" || params.type !== "object") {
      throw new ToolError("TOOL_INVALID", `tool "${name}": parameters must be a JSON schema of type "object"`);
    }
    this.#tools.set(name, registration);
  }

  /** True when a tool of that name is registered. */
  has(name: string): boolean {
    return this.#tools.has(name);
  }

  /** Registered tool names, in registration order. */
  names(): readonly string[] {
    return [...this.#tools.keys()];
  }

  /**
   * The tools of one agent of one tenant. `only` restricts the agent to some registered tools
   * (unknown names: ToolError TOOL_UNKNOWN).
   */
  forAgent(scope: ToolScope, options: { only?: readonly string[] } = {}): AgentTools {
    if (!scope || typeof scope.tenant !== "string" || !scope.agentId || typeof scope.agentId.type !== "string") {
      throw new ToolError("TOOL_INVALID", "forAgent needs a scope { tenant, agentId }");
    }
    for (const name of options.only ?? []) {
      if (!this.#tools.has(name)) throw new ToolError("TOOL_UNKNOWN", `no tool "${name}" is registered`);
    }
    return new AgentTools(this.#internals, scope, options.only);
  }

  #admit(tenant: string): number {
    const limit = this.#rateLimit?.(tenant);
    if (!limit) return 0;
    let entry = this.#buckets.get(tenant);
    if (!entry) this.#buckets.set(tenant, (entry = { bucket: new TokenBucket(perMinute(limit.callsPerMinute)), callsPerMinute: limit.callsPerMinute }));
    else if (entry.callsPerMinute !== limit.callsPerMinute) {
      entry.bucket.reconfigure(perMinute(limit.callsPerMinute));
      entry.callsPerMinute = limit.callsPerMinute;
    }
    const waitMs = entry.bucket.tryReserve(1, limit.maxWaitMs ?? 0);
    if (waitMs === undefined) {
      throw new ToolError("TOOL_RATE_LIMITED", `tenant "${tenant}" is over its limit of ${limit.callsPerMinute} tool calls/min`);
    }
    return waitMs;
  }
}
