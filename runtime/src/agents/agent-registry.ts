import { pathToFileURL } from "node:url";
import { InvalidArgumentError, UnknownAgentTypeError } from "../errors.js";
import { AgentId } from "./ids.js";
import type { AgentContext, AgentFactory, AgentTypeModule, AgentTypeOptions, Agent } from "./agent.js";

/** One registered agent type: a factory (inline only) or a module (inline or worker tier). */
export type AgentRegistration =
  | { kind: "factory"; type: string; factory: AgentFactory; options: AgentTypeOptions }
  | { kind: "module"; type: string; module: string; exportName: string; options: AgentTypeOptions; loaded: AgentFactory | null };

/**
 * The agent types of a runtime. A type is registered once; looking up an unknown type fails at
 * once with UnknownAgentTypeError.
 */
export class AgentRegistry {
  readonly #types = new Map<string, AgentRegistration>();

  register(type: string, factory: AgentFactory, options: AgentTypeOptions = {}): void {
    this.#checkNew(type);
    checkOptions(type, options);
    if (typeof factory !== "function") throw new InvalidArgumentError(`the factory of agent type "${type}" must be a function`);
    this.#types.set(type, { kind: "factory", type, factory, options });
  }

  registerModule(type: string, spec: AgentTypeModule, options: AgentTypeOptions = {}): void {
    this.#checkNew(type);
    checkOptions(type, options);
    const url = spec.module instanceof URL ? spec.module.href : toModuleUrl(spec.module);
    if (typeof spec.exportName !== "string" || spec.exportName.length === 0) {
      throw new InvalidArgumentError(`registerModule("${type}"): exportName must name the module's factory export`);
    }
    this.#types.set(type, { kind: "module", type, module: url, exportName: spec.exportName, options, loaded: null });
  }

  /** The registration, or UnknownAgentTypeError. */
  get(type: string): AgentRegistration {
    const r = this.#types.get(type);
    if (r === undefined) throw new UnknownAgentTypeError(type);
    return r;
  }

  /** The registration or undefined (no throw: the hot path checks without allocating an error). */
  find(type: string): AgentRegistration | undefined {
    return this.#types.get(type);
  }

  /** A factory for the type, importing its module on first use for module registrations. */
  async loadFactory(r: AgentRegistration): Promise<AgentFactory> {
    if (r.kind === "factory") return r.factory;
    if (r.loaded !== null) return r.loaded;
    const mod = (await import(r.module)) as Record<string, unknown>;
    const exported = mod[r.exportName];
    if (typeof exported !== "function") {
      throw new InvalidArgumentError(`module ${r.module} has no function export "${r.exportName}" for agent type "${r.type}"`);
    }
    r.loaded = asFactory(exported as (...args: unknown[]) => unknown);
    return r.loaded;
  }

  #checkNew(type: string): void {
    new AgentId(type, "_");
    if (this.#types.has(type)) throw new InvalidArgumentError(`agent type "${type}" is already registered`);
  }
}

/** Accepts a factory function or an agent class (`new C(ctx)`). */
export function asFactory(fn: (...args: unknown[]) => unknown): AgentFactory {
  const isClass = /^class[\s{]/.test(Function.prototype.toString.call(fn));
  if (isClass) {
    const C = fn as unknown as new (ctx: AgentContext) => Agent;
    return (ctx) => new C(ctx);
  }
  return fn as unknown as AgentFactory;
}

function toModuleUrl(spec: string): string {
  if (/^[a-z][a-z0-9+.-]*:/i.test(spec)) return spec;
  if (spec.startsWith("/")) return pathToFileURL(spec).href;
  throw new InvalidArgumentError(`agent module "${spec}" must be a URL or an absolute path (pass new URL("./x.js", import.meta.url))`);
}

function checkOptions(type: string, options: AgentTypeOptions): void {
  if (options.isolation !== undefined && options.isolation !== "inline") {
    throw new InvalidArgumentError(`agent type "${type}": isolation must be "inline" or left out; got ${JSON.stringify(options.isolation)}`);
  }
}
