import type { Agent, AgentContext, AgentFactory, MessageContext, SendOptions } from "../agents/agent.js";
import type { AgentId, TopicId } from "../agents/ids.js";
import type { AgentStateStore } from "../state/agent-state-store.js";
import type { TenantId } from "@troupe/contract";

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
    /** The fencing token of the partition lease the worker took the message under. */
    readonly fencingToken: number,
  ) {}
}

/**
 * The agents a worker keeps in memory, by partition, and the holding (epoch) each was built in.
 * Guarantees: when a partition is handed off, its agents' state goes to the state store and the
 * agents are marked stale, so if the partition comes back later, its agents are rebuilt from the
 * store (the state the other holder left) instead of answering with an outdated memory.
 */
export class RoutedAgents {
  readonly #epochs: Uint32Array;
  readonly #live = new Map<number, Set<RoutedAgent>>();

  constructor(
    partitions: number,
    readonly stateStore: AgentStateStore | undefined,
  ) {
    this.#epochs = new Uint32Array(partitions);
  }

  epoch(partition: number): number {
    return this.#epochs[partition] ?? 0;
  }

  track(agent: RoutedAgent): void {
    let set = this.#live.get(agent.partition);
    if (set === undefined) this.#live.set(agent.partition, (set = new Set()));
    set.add(agent);
  }

  forget(agent: RoutedAgent): void {
    this.#live.get(agent.partition)?.delete(agent);
  }

  /**
   * The partition left this worker: mark its agents stale and, on a graceful hand-off (`save`), save
   * their state first. A lost lease saves nothing: the new holder may already have newer state.
   */
  async handedOff(partition: number, save: boolean): Promise<void> {
    this.#epochs[partition] = (this.#epochs[partition] ?? 0) + 1;
    const agents = this.#live.get(partition);
    this.#live.delete(partition);
    if (!save || agents === undefined || this.stateStore === undefined) return;
    const store = this.stateStore;
    await Promise.all(
      [...agents].map(async (a) => {
        const state = a.inner.saveState === undefined ? undefined : await a.inner.saveState();
        if (state !== undefined) await store.save(a.actx.tenant, a.actx.agentId, state);
      }),
    );
  }
}

/** One agent as the local runtime holds it: the user's agent inside, rebuilt when it went stale. */
class RoutedAgent implements Agent {
  #epoch = -1;

  readonly #factory: AgentFactory;
  readonly #router: OutboundRouter;
  readonly #agents: RoutedAgents;

  constructor(
    public inner: Agent,
    readonly actx: AgentContext,
    readonly partition: number,
    factory: AgentFactory,
    router: OutboundRouter,
    agents: RoutedAgents,
  ) {
    this.#factory = factory;
    this.#router = router;
    this.#agents = agents;
  }

  onMessage(message: unknown, ctx: MessageContext): unknown {
    if (!(message instanceof InboundMessage)) return this.inner.onMessage(message, ctx);
    if (this.#epoch === this.#agents.epoch(this.partition)) return this.inner.onMessage(message.body, contextFor(ctx, message, this.#router));
    if (this.#epoch === -1) {
      // First message since activation (the local runtime already loaded its state).
      this.#epoch = this.#agents.epoch(this.partition);
      this.#agents.track(this);
      return this.inner.onMessage(message.body, contextFor(ctx, message, this.#router));
    }
    return this.#rebuild().then(() => this.inner.onMessage(message.body, contextFor(ctx, message, this.#router)));
  }

  saveState(): unknown {
    return this.inner.saveState?.();
  }

  async loadState(state: unknown): Promise<void> {
    await this.inner.loadState?.(state);
  }

  async onDeactivate(): Promise<void> {
    this.#agents.forget(this);
    await this.inner.onDeactivate?.();
  }

  /** The partition came back after a hand-off: start from the state the other holder left. */
  async #rebuild(): Promise<void> {
    const inner = this.#factory(this.actx);
    const store = this.#agents.stateStore;
    if (store !== undefined && inner.loadState !== undefined) {
      const state = await store.load(this.actx.tenant, this.actx.agentId);
      if (state !== undefined) await inner.loadState(state);
    }
    this.inner = inner;
    this.#epoch = this.#agents.epoch(this.partition);
    this.#agents.track(this);
  }
}

/**
 * Wraps an agent factory for a worker's local runtime: the handler gets the payload and a context
 * whose delivery id, sender, topic and hop count are those of the distributed message, and whose
 * `send`/`publish` route through the cluster (carrying hop count + 1, so loops are caught across
 * workers). State hooks pass through; after a hand-off and return of its partition the agent is
 * rebuilt from the state store (see RoutedAgents).
 */
export function routedFactory(factory: AgentFactory, router: OutboundRouter, agents: () => RoutedAgents, partitionOf: (actx: AgentContext) => number): AgentFactory {
  return (actx) => {
    const inner = factory(actx);
    if (inner === null || typeof inner !== "object" || typeof inner.onMessage !== "function") return inner;
    return new RoutedAgent(inner, actx, partitionOf(actx), factory, router, agents());
  };
}

function contextFor(ctx: MessageContext, m: InboundMessage, router: OutboundRouter): MessageContext {
  return new RoutedMessageContext(ctx, m, router);
}

/** What a routed agent's handler sees (a class like the local runtime's Delivery: one object per turn, no closures). */
class RoutedMessageContext implements MessageContext {
  readonly tenant: TenantId;
  readonly agentId: AgentId;

  readonly #local: MessageContext;
  readonly #m: InboundMessage;
  readonly #router: OutboundRouter;

  constructor(
    local: MessageContext,
    m: InboundMessage,
    router: OutboundRouter,
  ) {
    this.#local = local;
    this.#m = m;
    this.#router = router;
    this.tenant = local.tenant;
    this.agentId = local.agentId;
  }

  get sender(): AgentId | undefined {
    return this.#m.sender;
  }

  get topic(): TopicId | undefined {
    return this.#m.topic;
  }

  get signal(): AbortSignal {
    return this.#local.signal;
  }

  get deliveryId(): string {
    return this.#m.deliveryId;
  }

  get fencingToken(): number {
    return this.#m.fencingToken;
  }

  get hopCount(): number {
    return this.#m.hopCount;
  }

  get isRpc(): boolean {
    return this.#m.isRpc;
  }

  send(to: AgentId, message: unknown, options?: SendOptions): Promise<unknown> {
    return this.#router.sendFrom(this.tenant, this.agentId, this.#m.hopCount, to, message, options);
  }

  publish(topic: TopicId, message: unknown): Promise<void> {
    return this.#router.publishFrom(this.tenant, this.agentId, this.#m.hopCount, topic, message);
  }
}
