import { SpanKind, SpanStatusCode, context } from "@opentelemetry/api";
import { randomUUID } from "node:crypto";
import type { ChatCompletionFunctionTool } from "openai/resources/chat/completions";
import { AbortedError, ToolError, TroupeError } from "../errors.js";
import { sleep } from "../llm/sleep.js";
import { ATTR } from "@troupe/contract";
import type { ToolInstance, ToolScope } from "./tool-registration.js";
import type { ToolRegistryInternals } from "./tool-registry-internals.js";

/** Which tenant each built tool object belongs to, across every registry of the process. */
const OWNERS = new WeakMap<object, string>();

/**
 * The tools of one agent of one tenant, built from the registry's factories on first use and kept
 * for the life of this object. Calls are traced and rate-limited per tenant.
 */
export class AgentTools {
  readonly scope: ToolScope;
  readonly #registry: ToolRegistryInternals;
  readonly #only: readonly string[] | undefined;
  readonly #instances = new Map<string, ToolInstance>();

  constructor(registry: ToolRegistryInternals, scope: ToolScope, only?: readonly string[]) {
    this.#registry = registry;
    this.scope = Object.freeze({ tenant: scope.tenant, agentId: { type: scope.agentId.type, key: scope.agentId.key } });
    this.#only = only;
  }

  /** The names this agent may call. */
  names(): readonly string[] {
    return this.#only ?? this.#registry.names();
  }

  /** Tool definitions in the OpenAI `tools` format, for a chat request. */
  definitions(): ChatCompletionFunctionTool[] {
    return this.names().map((name) => {
      const r = this.#registry.registration(name)!;
      return { type: "function", function: { name, description: r.description, parameters: { ...r.parameters } } };
    });
  }

  /**
   * Calls a tool. `args` is the model's JSON text or an already parsed value. Returns the tool's
   * result as text (JSON for non-strings, cut to the registry's maxResultChars).
   * Throws ToolError: TOOL_UNKNOWN, TOOL_BAD_ARGUMENTS, TOOL_RATE_LIMITED, TOOL_SHARED, TOOL_FAILED
   * (the tool threw; its error is the cause); AbortedError when `signal` aborts.
   */
  async call(name: string, args: unknown, options: { callId?: string; signal?: AbortSignal } = {}): Promise<string> {
    const callId = options.callId ?? `call_${randomUUID()}`;
    const span = this.#registry.tracer.startSpan(
      `execute_tool ${name}`,
      {
        kind: SpanKind.INTERNAL,
        attributes: {
          [ATTR.genAiOperation]: "execute_tool",
          [ATTR.genAiToolName]: name,
          [ATTR.genAiToolCallId]: callId,
          [ATTR.genAiToolType]: "function",
          [ATTR.tenantId]: this.scope.tenant,
          [ATTR.agentType]: this.scope.agentId.type,
        },
      },
      context.active(),
    );
    try {
      const registration = this.#registry.registration(name);
      if (!registration || (this.#only && !this.#only.includes(name))) {
        throw new ToolError("TOOL_UNKNOWN", `agent ${this.scope.agentId.type} has no tool "${name}"`);
      }
      let parsed = args;
      if (typeof args === "string") {
        try {
          parsed = args.trim() === "" ? {} : JSON.parse(args);
        } catch {
          throw new ToolError("TOOL_BAD_ARGUMENTS", `tool "${name}": arguments are not valid JSON`);
        }
      }
      if (registration.argsSchema) {
        const result = registration.argsSchema.safeParse(parsed);
        if (!result.success) {
          const problems = result.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ");
          throw new ToolError("TOOL_BAD_ARGUMENTS", `tool "${name}": invalid arguments: ${problems}`);
        }
        parsed = result.data;
      }
      const waitMs = this.#registry.admit(this.scope.tenant);
      if (waitMs > 0) await sleep(waitMs, options.signal);
      const instance = this.#instance(name);
      let result: unknown;
      try {
        result = await instance.invoke(parsed, { callId, signal: options.signal });
      } catch (error) {
        if (error instanceof TroupeError) throw error;
        const detail = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
        throw new ToolError("TOOL_FAILED", `tool "${name}" failed: ${detail}`, { cause: error });
      }
      if (options.signal?.aborted) throw new AbortedError();
      span.setAttribute(ATTR.outcome, "ok");
      span.setStatus({ code: SpanStatusCode.OK });
      const text = typeof result === "string" ? result : (JSON.stringify(result) ?? "null");
      return text.length > this.#registry.maxResultChars ? text.slice(0, this.#registry.maxResultChars) : text;
    } catch (error) {
      const code = error instanceof TroupeError ? error.code : "TOOL_FAILED";
      span.setAttribute(ATTR.errorType, code);
      span.setAttribute(ATTR.outcome, code === "TOOL_RATE_LIMITED" ? "rate_limited" : "error");
      span.setStatus({ code: SpanStatusCode.ERROR, message: code });
      throw error;
    } finally {
      span.end();
    }
  }

  #instance(name: string): ToolInstance {
    let instance = this.#instances.get(name);
    if (instance) return instance;
    const registration = this.#registry.registration(name)!;
    instance = registration.factory(this.scope);
    if (instance === null || (typeof instance !== "object" && typeof instance !== "function") || typeof instance.invoke !== "function") {
      throw new ToolError("TOOL_INVALID", `tool "${name}": the factory must return an object with an invoke(args, context) method`);
    }
    const owner = OWNERS.get(instance);
    if (owner !== undefined && owner !== this.scope.tenant) {
      throw new ToolError(
        "TOOL_SHARED",
        `tool "${name}": the factory returned an object already built for another tenant. One tool instance must never serve two tenants; return a new object from the factory for each (tenant, agent)`,
      );
    }
    OWNERS.set(instance, this.scope.tenant);
    this.#instances.set(name, instance);
    return instance;
  }
}
