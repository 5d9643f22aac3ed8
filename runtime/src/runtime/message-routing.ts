import type { Context } from "@opentelemetry/api";
import type { SendOptions } from "../agents/agent.js";
import type { AgentRegistration, AgentRegistry } from "../agents/agent-registry.js";
import { AgentId, TopicId } from "../agents/ids.js";
import { DROP, type PublishEnvelope, type SendEnvelope } from "../agents/interceptor.js";
import type { InterceptorChain } from "../agents/interceptor-chain.js";
import { badSendOptions, toAgentId, toTopicId } from "../agents/message-arguments.js";
import type { Subscription } from "../agents/subscription.js";
import {
  CrossTenantError,
  InvalidArgumentError,
  LoopDetectedError,
  MessageDroppedError,
  QueueFullError,
  RateLimitedError,
  RuntimeStoppedError,
  type TroupeError,
  UnknownAgentTypeError,
} from "../errors.js";
import type { TurnHost } from "../isolation/turn-host.js";
import { watchCaller } from "../scheduling/caller-settlement.js";
import { Delivery, type TurnRouter } from "../scheduling/delivery.js";
import type { TenantLane } from "../scheduling/tenant-lane.js";
import type { TenantId, TurnOutcome } from "@troupe/contract";
import type { DeliveryTrace, RuntimeTracing } from "../tracing/runtime-tracing.js";
import type { RunState } from "./run-state.js";
import { runsHosted, type TurnDispatcher } from "./turn-dispatcher.js";

const now = (): number => performance.now();

/** What the send and publish path needs of its runtime, fixed at construction. */
export interface MessageRoutingDeps {
  registry: AgentRegistry;
  interceptors: InterceptorChain;
  turnHost: TurnHost | undefined;
  state: RunState;
  dispatcher: TurnDispatcher;
  /** Where deliveries route their handlers' own sends and publishes (the runtime). */
  router: TurnRouter;
  /** The runtime-wide subscriptions (read live: the runtime adds and removes them). */
  globalSubscriptions: readonly Subscription[];
  maxHops: number;
}

/**
 * The path of a send or publish from its tenant's ingress (or a handler) to the mailboxes.
 * Guarantees: the send and publish interceptors run first and cannot move a message to another
 * tenant; then the loop guard, the agent type (and its isolation tier) and the tenant's rate and
 * queue quotas are checked before anything is queued; a refusal is a typed error, counted in the
 * tenant's metrics and traced; a publish reaches each matching agent of its own tenant once.
 */
export class MessageRouting {
  #seq = 0;
  readonly #registry: AgentRegistry;
  readonly #interceptors: InterceptorChain;
  readonly #turnHost: TurnHost | undefined;
  readonly #state: RunState;
  readonly #dispatcher: TurnDispatcher;
  readonly #router: TurnRouter;
  readonly #globalSubscriptions: readonly Subscription[];
  readonly #maxHops: number;

  constructor(deps: MessageRoutingDeps) {
    this.#registry = deps.registry;
    this.#interceptors = deps.interceptors;
    this.#turnHost = deps.turnHost;
    this.#state = deps.state;
    this.#dispatcher = deps.dispatcher;
    this.#router = deps.router;
    this.#globalSubscriptions = deps.globalSubscriptions;
    this.#maxHops = deps.maxHops;
  }

  /** Sends to one agent of the lane's tenant; settles with the handler's result or a typed error. */
  routeSend(
    lane: TenantLane,
    to: AgentId,
    message: unknown,
    sender: AgentId | undefined,
    hopCount: number,
    options: SendOptions | undefined,
    from: Delivery | undefined,
    parent?: Context,
  ): Promise<unknown> {
    if (!(to instanceof AgentId)) {
      try {
        to = toAgentId(to);
      } catch (err) {
        return Promise.reject(err);
      }
    }
    if (!this.#interceptors.hasSend) return this.#acceptSend(lane, to, message, sender, hopCount, options, from, parent);
    const envelope: SendEnvelope = { kind: "send", tenant: lane.tenant, recipient: to, sender, message, hopCount };
    const terminal = (e: SendEnvelope): Promise<unknown> => {
      if (e.tenant !== lane.tenant) return Promise.reject(movedTenant("send", lane.tenant, e.tenant));
      if (!(e.recipient instanceof AgentId)) return Promise.reject(new InvalidArgumentError("an interceptor set a send recipient that is not an AgentId"));
      return this.#acceptSend(lane, e.recipient, e.message, e.sender, e.hopCount, options, from, parent);
    };
    let result: Promise<unknown> | typeof DROP;
    try {
      result = this.#interceptors.runSend(envelope, terminal);
    } catch (err) {
      result = Promise.reject(err);
    }
    return Promise.resolve(result).then(
      (r) => (r === DROP ? this.#dropped(lane, "send", to.type, to.key, hopCount, from, parent) : r),
      (err: unknown) => {
        if (err instanceof MessageDroppedError && !this.#state.countedDrops.has(err)) return this.#dropped(lane, "send", to.type, to.key, hopCount, from, parent, err);
        throw err;
      },
    );
  }

  /** The core of send: loop guard, type check, rate and queue quotas, then into the agent's mailbox. */
  #acceptSend(
    lane: TenantLane,
    to: AgentId,
    message: unknown,
    sender: AgentId | undefined,
    hopCount: number,
    options: SendOptions | undefined,
    from: Delivery | undefined,
    parent?: Context,
  ): Promise<unknown> {
    const refused = this.#admit(lane, to.type, hopCount);
    if (refused !== null) {
      this.#state.tracing?.rejected("send", lane.tenant, to.type, to.key, hopCount, refused[0], refused[1], traceParentOf(from, parent));
      return Promise.reject(refused[1]);
    }
    if (options !== undefined) {
      const bad = badSendOptions(options);
      if (bad !== null) return Promise.reject(bad);
    }
    const d = new Delivery(this.#router, lane.tenant, to, sender, undefined, message, hopCount, true, this.#seq++);
    const promise = new Promise<unknown>((resolve, reject) => {
      d.resolve = resolve;
      d.reject = reject;
    });
    const tracing = this.#state.tracing;
    if (options !== undefined) watchCaller(d, options, tracing);
    if (tracing !== null) d.trace = tracing.startSend(lane.tenant, to, hopCount, traceParentOf(from, parent));
    this.#dispatcher.enqueue(lane, d);
    return promise;
  }

  /**
   * Checks a message against the runtime state, the loop guard, the registry, the tier and the
   * tenant's rate and queue quotas. Returns null when admitted, else the outcome and the error.
   */
  #admit(lane: TenantLane, agentType: string, hopCount: number): [TurnOutcome, TroupeError] | null {
    if (!this.#state.running) return ["dropped", new RuntimeStoppedError(this.#state.stopping ? "the runtime is stopping" : "the runtime is not started; call start() first")];
    if (hopCount > this.#maxHops) {
      lane.metrics.rejectedLoop++;
      return ["loop_dropped", new LoopDetectedError(hopCount, this.#maxHops)];
    }
    const reg = this.#registry.find(agentType);
    if (reg === undefined) return ["error", new UnknownAgentTypeError(agentType)];
    if (runsHosted(lane, reg)) {
      const problem = this.#hostedProblem(lane, reg);
      if (problem !== null) return ["error", problem];
    }
    if (lane.bucket !== null && !lane.bucket.tryTake(now())) {
      lane.metrics.rejectedRateLimited++;
      this.#state.otelMetrics?.quotaRejected(lane.tenant, agentType, "messages_per_second");
      return [
        "rate_limited",
        new RateLimitedError(lane.tenant, `tenant "${lane.tenant}" exceeded its rate of ${lane.settings.messagesPerSecond} messages/s`, lane.bucket.msUntilNextToken()),
      ];
    }
    if (lane.queued >= lane.settings.maxQueuedMessages) {
      lane.metrics.rejectedQueueFull++;
      this.#state.otelMetrics?.quotaRejected(lane.tenant, agentType, "max_queued_messages");
      return ["quota_rejected", new QueueFullError(lane.tenant, lane.settings.maxQueuedMessages)];
    }
    return null;
  }

  #hostedProblem(lane: TenantLane, reg: AgentRegistration): TroupeError | null {
    if (this.#turnHost === undefined) {
      return new InvalidArgumentError(`tenant "${lane.tenant}" has isolation "worker" but the runtime has no turnHost configured`);
    }
    if (reg.kind !== "module") {
      return new InvalidArgumentError(
        `agent type "${reg.type}" was registered with a factory, which cannot run in a worker; tenant "${lane.tenant}" has isolation "worker": register the type with registerModule`,
      );
    }
    return null;
  }

  /** Publishes to the lane's tenant's subscribers; resolves once queued (QueueFullError when a subscriber's queue was full). */
  routePublish(
    lane: TenantLane,
    topic: TopicId,
    message: unknown,
    sender: AgentId | undefined,
    hopCount: number,
    from: Delivery | undefined,
    parent?: Context,
  ): Promise<void> {
    if (!(topic instanceof TopicId)) {
      try {
        topic = toTopicId(topic);
      } catch (err) {
        return Promise.reject(err);
      }
    }
    if (!this.#interceptors.hasPublish) return this.#acceptPublish(lane, topic, message, sender, hopCount, from, parent);
    const envelope: PublishEnvelope = { kind: "publish", tenant: lane.tenant, topic, sender, message, hopCount };
    const terminal = (e: PublishEnvelope): Promise<void> => {
      if (e.tenant !== lane.tenant) return Promise.reject(movedTenant("publish", lane.tenant, e.tenant));
      if (!(e.topic instanceof TopicId)) return Promise.reject(new InvalidArgumentError("an interceptor set a publish topic that is not a TopicId"));
      return this.#acceptPublish(lane, e.topic, e.message, e.sender, e.hopCount, from, parent);
    };
    let result: Promise<void> | typeof DROP;
    try {
      result = this.#interceptors.runPublish(envelope, terminal);
    } catch (err) {
      result = Promise.reject(err);
    }
    return Promise.resolve(result as unknown).then(
      (r) => {
        if (r === DROP) lane.metrics.dropped++;
      },
      (err: unknown) => {
        if (err instanceof MessageDroppedError) {
          lane.metrics.dropped++;
          return;
        }
        throw err;
      },
    );
  }

  /** The core of publish: one delivery per matching subscription of this tenant; results ignored. */
  #acceptPublish(
    lane: TenantLane,
    topic: TopicId,
    message: unknown,
    sender: AgentId | undefined,
    hopCount: number,
    from: Delivery | undefined,
    parent?: Context,
  ): Promise<void> {
    const tracing = this.#state.tracing;
    if (!this.#state.running) return Promise.reject(new RuntimeStoppedError(this.#state.stopping ? "the runtime is stopping" : "the runtime is not started; call start() first"));
    if (hopCount > this.#maxHops) {
      lane.metrics.rejectedLoop++;
      const err = new LoopDetectedError(hopCount, this.#maxHops);
      tracing?.rejected("publish", lane.tenant, topic.type, undefined, hopCount, "loop_dropped", err, traceParentOf(from, parent));
      return Promise.reject(err);
    }
    if (lane.bucket !== null && !lane.bucket.tryTake(now())) {
      lane.metrics.rejectedRateLimited++;
      this.#state.otelMetrics?.quotaRejected(lane.tenant, undefined, "messages_per_second");
      const err = new RateLimitedError(lane.tenant, `tenant "${lane.tenant}" exceeded its rate of ${lane.settings.messagesPerSecond} messages/s`, lane.bucket.msUntilNextToken());
      tracing?.rejected("publish", lane.tenant, topic.type, undefined, hopCount, "rate_limited", err, traceParentOf(from, parent));
      return Promise.reject(err);
    }
    const recipients = this.#recipients(lane, topic);
    let publishSpan: ReturnType<RuntimeTracing["startPublish"]> | null = null;
    if (tracing !== null) publishSpan = tracing.startPublish(lane.tenant, topic, hopCount, traceParentOf(from, parent));
    let refusedErr: TroupeError | undefined;
    for (const to of recipients) {
      const reg = this.#registry.find(to.type);
      let problem: TroupeError | null = reg === undefined ? new UnknownAgentTypeError(to.type) : null;
      if (problem === null && runsHosted(lane, reg!)) problem = this.#hostedProblem(lane, reg!);
      if (problem === null && lane.queued >= lane.settings.maxQueuedMessages) {
        lane.metrics.rejectedQueueFull++;
        this.#state.otelMetrics?.quotaRejected(lane.tenant, to.type, "max_queued_messages");
        problem = new QueueFullError(lane.tenant, lane.settings.maxQueuedMessages);
      }
      if (problem !== null) {
        // A subscriber that cannot take the message is counted; the publisher learns only of quota errors.
        lane.metrics.publishErrors++;
        if (problem instanceof QueueFullError) refusedErr = problem;
        continue;
      }
      const d = new Delivery(this.#router, lane.tenant, to, sender, topic, message, hopCount, false, this.#seq++);
      if (publishSpan !== null) d.trace = tracing!.forPublishedDelivery(publishSpan.ctx);
      this.#dispatcher.enqueue(lane, d);
    }
    if (publishSpan !== null) tracing!.endPublish(publishSpan.span, refusedErr ? "quota_rejected" : "ok", refusedErr);
    return refusedErr === undefined ? Promise.resolve() : Promise.reject(refusedErr);
  }

  /** The agents a topic reaches in this tenant, each once: runtime-wide subscriptions, then the tenant's own. */
  #recipients(lane: TenantLane, topic: TopicId): AgentId[] {
    const out: AgentId[] = [];
    const collect = (subs: readonly Subscription[]): void => {
      for (const s of subs) {
        if (!s.matches(topic)) continue;
        const id = s.mapToAgent(topic);
        if (!out.some((o) => o.equals(id))) out.push(id);
      }
    };
    collect(this.#globalSubscriptions);
    collect(lane.subscriptions);
    return out;
  }

  #dropped(
    lane: TenantLane,
    kind: "send" | "publish",
    target: string,
    key: string | undefined,
    hopCount: number,
    from: Delivery | undefined,
    parent: Context | undefined,
    err: MessageDroppedError = new MessageDroppedError("an interceptor dropped it"),
  ): never {
    lane.metrics.dropped++;
    this.#state.countedDrops.add(err);
    this.#state.tracing?.rejected(kind, lane.tenant, target, key, hopCount, "dropped", err, traceParentOf(from, parent));
    throw err;
  }
}

function movedTenant(kind: string, from: TenantId, to: unknown): CrossTenantError {
  return new CrossTenantError(`an interceptor moved a ${kind} of tenant "${from}" to tenant ${JSON.stringify(String(to)).slice(0, 80)}; interceptors cannot change a message's tenant`);
}

function traceParentOf(from: Delivery | undefined, parent: Context | undefined): Context | undefined {
  if (parent !== undefined) return parent;
  if (from === undefined || from.trace === null) return undefined;
  return (from.trace as DeliveryTrace).invokeCtx;
}
