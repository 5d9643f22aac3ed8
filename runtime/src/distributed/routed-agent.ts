import type { Agent, AgentFactory, MessageContext, SendOptions } from "../agents/agent.js";
import type { AgentId, TopicId } from "../agents/ids.js";
import type { TenantId } from "../tenancy/tenant-id.js";

/** Where a routed agent's handler sends and publishes: across workers, with the hop count and sender. */
export interface OutboundRouter {
  sendFrom(tenant: TenantId, sender: AgentId, hopCount: number, to: AgentId, message: unknown, options: SendOptions | undefined): Promise<unknown>;
  publishFrom(tenant: TenantId, sender: AgentId, hopCount: number, topic: TopicId, message: unknown): Promise<void>;
}

/**
 * A message that arrived from the broker, as the worker's local runtime carries it to the agent:
 * the payload plus what the handler must see of the distributed delivery (its stable delivery id,
 * sender, topic, hop count, whether a caller awaits the result).
 */
export class InboundMessage {
  constructor(
    readonly body: unknown,
    /** Stable across redeliveries of the same message (the stream sequence). */
    readonly deliveryId: string,
    readonly hopCount: number,
    readonly isRpc: boolean,
    readonly sender: AgentId | undefined,
    readonly topic: TopicId | undefined,
  ) {}
}

/**
 * Wraps an agent factory for a worker's local runtime: the handler gets the payload and a context
 * whose delivery id, sender, topic and hop count are those of the distributed message, and whose
 * `send`/`publish` route through the cluster (carrying hop count + 1, so loops are caught across
 * workers). State hooks pass through unchanged.
 */
export function routedFactory(factory: AgentFactory, router: OutboundRouter): AgentFactory {
  return (actx) => {
    const inner = factory(actx);
    if (inner === null || typeof inner !== "object" || typeof inner.onMessage !== "function") return inner;
    const agent: Agent = {
      onMessage(message: unknown, ctx: MessageContext): unknown {
        if (!(message instanceof InboundMessage)) return inner.onMessage(message, ctx);
        return inner.onMessage(message.body, contextFor(ctx, message, router));
      },
    };
    if (inner.saveState !== undefined) agent.saveState = () => inner.saveState!();
    if (inner.loadState !== undefined) agent.loadState = (state) => inner.loadState!(state);
    if (inner.onDeactivate !== undefined) agent.onDeactivate = () => inner.onDeactivate!();
    return agent;
  };
}

function contextFor(ctx: MessageContext, m: InboundMessage, router: OutboundRouter): MessageContext {
  const { tenant, agentId } = ctx;
  return {
    tenant,
    agentId,
    sender: m.sender,
    topic: m.topic,
    get signal() {
      return ctx.signal;
    },
    deliveryId: m.deliveryId,
    hopCount: m.hopCount,
    isRpc: m.isRpc,
    send: (to, message, options) => router.sendFrom(tenant, agentId, m.hopCount, to, message, options),
    publish: (topic, message) => router.publishFrom(tenant, agentId, m.hopCount, topic, message),
  };
}
