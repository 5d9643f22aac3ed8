/**
 * The code a WorkerThreadTurnHost worker runs: it imports agent modules on demand, hosts agents per
 * (tenant, type, key), runs turns and forwards their sends and publishes to the main thread. It has
 * no OpenTelemetry SDK: the turn's traceparent travels with every outbound message instead.
 */
import { parentPort, workerData } from "node:worker_threads";
import type { MessagePort } from "node:worker_threads";
import type { TenantId } from "@troupe/contract";
import { AgentId } from "../agents/ids.js";
import type { HostedAgent, HostedAgentFactory, HostedAgentInit, HostedTurnContext } from "./hosted-agent.js";
import { rehydrateError, serializeError } from "./remote-error.js";
import type { FromWorker, ToWorker, WorkerBootData } from "./worker-protocol.js";

type TurnMessage = Extract<ToWorker, { t: "turn" }>;

const port = parentPort as MessagePort;
const boot = workerData as WorkerBootData;
const TYPESCRIPT = /\.[cm]?ts$/;
/** Set when this entry itself runs as TypeScript (the launcher already registered tsx). */
let tsxRegistered: Promise<void> | undefined = TYPESCRIPT.test(new URL(import.meta.url).pathname) ? Promise.resolve() : undefined;
const factories = new Map<string, Promise<HostedAgentFactory>>();
/** tenant -> type -> key -> agent. Nested maps: the tenant is never spliced into a key. */
const agents = new Map<string, Map<string, Map<string, Promise<HostedAgent>>>>();
const turnControllers = new Map<number, AbortController>();
const outbounds = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();
let nextOutboundId = 0;

function post(message: FromWorker): void {
  port.postMessage(message);
}

function registerTsx(module: string): Promise<void> {
  if (tsxRegistered !== undefined || !TYPESCRIPT.test(module.split("?")[0]!)) return tsxRegistered ?? Promise.resolve();
  const api = boot.tsxApiUrl;
  if (api === undefined) return Promise.reject(new Error(`agent module ${module} is TypeScript and the tsx package is not installed to load it`));
  tsxRegistered = import(api).then((tsx: { register(): unknown }) => {
    tsx.register();
  });
  return tsxRegistered;
}

/** Accepts a factory function or an agent class (`new C(init)`). */
function asFactory(fn: (...args: unknown[]) => unknown): HostedAgentFactory {
  if (/^class[\s{]/.test(Function.prototype.toString.call(fn))) {
    const AgentClass = fn as unknown as new (init: HostedAgentInit) => HostedAgent;
    return (init) => new AgentClass(init);
  }
  return fn as HostedAgentFactory;
}

function loadFactory(spec: TurnMessage["spec"]): Promise<HostedAgentFactory> {
  let factory = factories.get(spec.type);
  if (factory === undefined) {
    factory = registerTsx(spec.module)
      .then(() => import(spec.module) as Promise<Record<string, unknown>>)
      .then((mod) => {
        const exported = mod[spec.exportName];
        if (typeof exported !== "function") {
          throw new TypeError(`agent module ${spec.module} has no function export "${spec.exportName}" (the agent factory)`);
        }
        return asFactory(exported as (...args: unknown[]) => unknown);
      });
    // A failed import is retried on the next turn rather than cached forever.
    factory.catch(() => factories.delete(spec.type));
    factories.set(spec.type, factory);
  }
  return factory;
}

function agentsOf(tenant: string, type: string): Map<string, Promise<HostedAgent>> {
  let byType = agents.get(tenant);
  if (byType === undefined) agents.set(tenant, (byType = new Map()));
  let byKey = byType.get(type);
  if (byKey === undefined) byType.set(type, (byKey = new Map()));
  return byKey;
}

function forget(tenant: string, type: string, key: string): void {
  const byType = agents.get(tenant);
  const byKey = byType?.get(type);
  if (byType === undefined || byKey === undefined) return;
  byKey.delete(key);
  if (byKey.size === 0) byType.delete(type);
  if (byType.size === 0) agents.delete(tenant);
}

function activate(turn: TurnMessage): Promise<HostedAgent> {
  const byKey = agentsOf(turn.tenant, turn.agentType);
  let agent = byKey.get(turn.agentKey);
  if (agent === undefined) {
    agent = (async () => {
      const factory = await loadFactory(turn.spec);
      const created = await factory({ tenant: turn.tenant as TenantId, agentId: new AgentId(turn.agentType, turn.agentKey) });
      if (created === null || typeof created !== "object" || typeof created.onMessage !== "function") {
        throw new TypeError(`the factory of agent type "${turn.agentType}" did not return an agent with onMessage`);
      }
      if (turn.hasState && typeof created.loadState === "function") await created.loadState(turn.state);
      return created;
    })();
    agent.catch(() => {
      if (byKey.get(turn.agentKey) === agent) forget(turn.tenant, turn.agentType, turn.agentKey);
    });
    byKey.set(turn.agentKey, agent);
  }
  return agent;
}

function outbound(turnId: number, kind: "send" | "publish", to: Extract<FromWorker, { t: "outbound" }>["to"], message: unknown, timeoutMs?: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const id = nextOutboundId++;
    outbounds.set(id, { resolve, reject });
    try {
      post({ t: "outbound", id, turnId, kind, to, message, ...(timeoutMs === undefined ? {} : { timeoutMs }) });
    } catch (error) {
      // Typically a DataCloneError: the message cannot cross the thread boundary.
      outbounds.delete(id);
      reject(error instanceof Error ? error : new Error(String(error)));
    }
  });
}

async function runTurn(turn: TurnMessage): Promise<void> {
  const controller = new AbortController();
  turnControllers.set(turn.id, controller);
  try {
    const agent = await activate(turn);
    // Aborted while the agent was loading: do not start the handler at all.
    if (controller.signal.aborted) throw controller.signal.reason;
    const ctx: HostedTurnContext = {
      tenant: turn.tenant as TenantId,
      agentId: new AgentId(turn.agentType, turn.agentKey),
      signal: controller.signal,
      deliveryId: turn.deliveryId,
      hopCount: turn.hopCount,
      ...(turn.traceparent === undefined ? {} : { traceparent: turn.traceparent }),
      send: (to, message, options) => outbound(turn.id, "send", { type: String(to.type), key: String(to.key) }, message, options?.timeoutMs),
      publish: async (topic, message) => {
        await outbound(turn.id, "publish", { topicType: String(topic.type), topicSource: String(topic.source) }, message);
      },
    };
    const value = await agent.onMessage(turn.message, ctx);
    try {
      post({ t: "turn-result", id: turn.id, ok: true, value });
    } catch (error) {
      post({ t: "turn-result", id: turn.id, ok: false, error: serializeError(error) });
    }
  } catch (error) {
    post({ t: "turn-result", id: turn.id, ok: false, error: serializeError(error) });
  } finally {
    turnControllers.delete(turn.id);
  }
}

async function deactivate(message: Extract<ToWorker, { t: "deactivate" }>): Promise<void> {
  try {
    const agent = agents.get(message.tenant)?.get(message.agentType)?.get(message.agentKey);
    let state: unknown;
    if (agent !== undefined) {
      forget(message.tenant, message.agentType, message.agentKey);
      const instance = await agent.catch(() => undefined);
      if (instance !== undefined && typeof instance.saveState === "function") state = await instance.saveState();
    }
    post({ t: "deactivate-result", id: message.id, ok: true, value: state });
  } catch (error) {
    post({ t: "deactivate-result", id: message.id, ok: false, error: serializeError(error) });
  }
}

port.on("message", (message: ToWorker) => {
  switch (message.t) {
    case "turn":
      void runTurn(message);
      break;
    case "abort": {
      const error = new Error("the turn was aborted by the runtime");
      error.name = "AbortError";
      turnControllers.get(message.id)?.abort(error);
      break;
    }
    case "deactivate":
      void deactivate(message);
      break;
    case "outbound-result": {
      const pending = outbounds.get(message.id);
      if (pending === undefined) break;
      outbounds.delete(message.id);
      if (message.ok) pending.resolve(message.value);
      else pending.reject(rehydrateError(message.error));
      break;
    }
  }
});
