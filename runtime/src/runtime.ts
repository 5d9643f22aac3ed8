import { AsyncLocalStorage } from "node:async_hooks";
import { context as otelContext, metrics, trace, type Context, type MeterProvider, type TracerProvider } from "@opentelemetry/api";
import type { Agent, AgentFactory, AgentTypeModule, AgentTypeOptions, SendOptions } from "./agents/agent.js";
import { AgentRegistry, type AgentRegistration } from "./agents/agent-registry.js";
import { AgentId, TopicId } from "./agents/ids.js";
import { DROP, type DeliverEnvelope, type Interceptor, type PublishEnvelope, type SendEnvelope } from "./agents/interceptor.js";
import type { Subscription } from "./agents/subscription.js";
import {
  AbortedError,
  CrossTenantError,
  HandlerError,
  InvalidArgumentError,
  LoopDetectedError,
  MessageDroppedError,
  QueueFullError,
  RateLimitedError,
  RuntimeStoppedError,
  TimeoutError,
  TroupeError,
  UnknownAgentTypeError,
} from "./errors.js";
import { managedLayerOf, type ManagedTenantConfig, type TierPlacement } from "./control/managed-tenant-config.js";
import type { HostedOutbound, HostedTurn, TurnHost } from "./isolation/turn-host.js";
import { RuntimeMetrics } from "./metrics/runtime-metrics.js";
import type { Activation } from "./scheduling/activation.js";
import { Delivery, DeliveryState, type TurnRouter } from "./scheduling/delivery.js";
import { VirtualTimeScheduler, type TenantScheduler } from "./scheduling/fair-scheduler.js";
import { IdleList } from "./scheduling/idle-list.js";
import { TenantLane } from "./scheduling/tenant-lane.js";
import type { AgentStateStore } from "./state/agent-state-store.js";
import { parseTenantId, type TenantId } from "./tenancy/tenant-id.js";
import type { TenantMetrics } from "./tenancy/tenant-metrics.js";
import { TenantSettingsResolver, type QuotaConfig, type TenantConfig, type TierConfig } from "./tenancy/tenant-quota.js";
import type { TurnOutcome } from "./tracing/attributes.js";
import { RuntimeTracing, type DeliveryTrace } from "./tracing/runtime-tracing.js";
import { TenantHandle, type TenantIngress } from "./tenant-handle.js";

/** Passivation: how long an idle agent stays in memory, and how many agents may be active at once. */
export interface PassivationOptions {
  /** An agent idle this long is evicted (its state handed to the state store first). */
  idleMs: number;
  /** Beyond this many active agents, the least recently used idle agents are evicted at once. */
  maxActiveAgents?: number;
  /** How often idle agents are looked for. Default: min(idleMs, 1000). */
  sweepIntervalMs?: number;
}

/** Options of a Runtime. */
export interface RuntimeOptions {
  /** Where spans go. Default: the global provider (a no-op until an SDK is registered), read at start(). */
  tracerProvider?: TracerProvider;
  /**
   * Where the per-tenant metrics go (turns, queue wait, handler time, quota rejections; see
   * RuntimeMetrics). Default: the global provider, read at start(); without an SDK nothing is recorded.
   */
  meterProvider?: MeterProvider;
  /** Quotas: defaults, tiers (with weight and isolation) and per-tenant overrides. */
  quotas?: QuotaConfig;
  /** Messages past this many handler-to-handler hops are dropped (LoopDetectedError). Default 32. */
  maxHops?: number;
  /** Idle agent eviction. Default { idleMs: 300000, maxActiveAgents: 100000 }; false keeps agents forever. */
  passivation?: PassivationOptions | false;
  /** Receives agents' state on passivation and gives it back on re-activation. */
  stateStore?: AgentStateStore;
  /** Runs the turns of tenants whose isolation is "worker". The caller owns it (the runtime does not close it). */
  turnHost?: TurnHost;
  /**
   * Resolution of the watchdog that enforces turn time budgets: a turn past its budget is ended at
   * most this long after it. The watchdog wakes only for the earliest deadline of the running turns
   * (not on a fixed tick), so long turns cost no wake-ups until one is due. Default 10 ms.
   */
  watchdogIntervalMs?: number;
  /**
   * Detect a handler of tenant A reaching tenant B through `runtime.tenant("b")` also after an
   * `await` (AsyncLocalStorage). Default true. When false, only calls made in the synchronous part of
   * a handler are detected; on Node 20 AsyncLocalStorage slows promise-heavy code noticeably.
   */
  asyncTenantGuard?: boolean;
  /** The dispatcher yields to the event loop after this much handler time, so timers and I/O are served. Default 1 ms. */
  dispatchSliceMs?: number;
  /**
   * Under a backlog the slice grows, up to this: to a quarter of the time the queued turns are
   * expected to take (their count times the mean handler time per turn), so the cost of each yield
   * (reading, writing, waking other processes) is spread over more turns while callers wait in the
   * queue anyway, and a queued turn waits at most about a quarter longer. Default `dispatchSliceMs`
   * (no growth).
   */
  maxDispatchSliceMs?: number;
}

/** Cost charged to a tenant per turn on top of its handler's blocking time, so cheap turns still rotate. */
const TURN_OVERHEAD_MS = 0.002;

const now = (): number => performance.now();

/** The delivery whose handler is running synchronously right now (cross-tenant guard). */
let currentTurn: Delivery | null = null;

/**
 * A multi-tenant actor runtime. Guarantees:
 * - one message at a time per agent (tenant, type, key); different agents run concurrently;
 * - every message belongs to one tenant, set at ingress (`tenant(id)`); handlers can only address
 *   their own tenant (CrossTenantError otherwise), and subscriptions never span tenants;
 * - per-tenant quotas (in-flight turns, queued messages, message rate, turn time budget) and
 *   weighted fair scheduling across tenants;
 * - every send settles: with the handler's result, or a typed error (timeout, abort, quota, loop,
 *   handler error, stop) — nothing hangs;
 * - idle agents are passivated, so memory stays bounded however many keys are touched.
 */
export class Runtime implements TenantIngress, TurnRouter {
  private readonly registry = new AgentRegistry();
  private readonly settings: TenantSettingsResolver;
  private readonly lanes = new Map<TenantId, TenantLane>();
  private readonly scheduler: TenantScheduler = new VirtualTimeScheduler();
  private readonly idle = new IdleList();
  private readonly globalSubscriptions: Subscription[] = [];
  private readonly interceptors: Interceptor[] = [];
  private sendInterceptors: Interceptor[] = [];
  private publishInterceptors: Interceptor[] = [];
  private deliverInterceptors: Interceptor[] = [];
  private readonly maxHops: number;
  private readonly passivation: Required<PassivationOptions> | null;
  private readonly stateStore: AgentStateStore | undefined;
  private readonly turnHost: TurnHost | undefined;
  private readonly tracerProvider: TracerProvider | undefined;
  private tracing: RuntimeTracing | null = null;
  private readonly meterProvider: MeterProvider | undefined;
  /** Null when the meter provider is a no-op: then nothing is recorded. */
  private otelMetrics: RuntimeMetrics | null = null;
  private readonly watchdogIntervalMs: number;
  private readonly sliceMs: number;
  private readonly maxSliceMs: number;
  /** Moving mean of the event-loop time a started turn blocked (ms): prices the backlog for the dispatch slice. */
  private turnCostMs = 0;
  private readonly als: AsyncLocalStorage<Delivery> | null;
  private running = false;
  private stopping: Promise<void> | null = null;
  private drainScheduled = false;
  private draining = false;
  private seq = 0;
  private totalQueued = 0;
  private totalInFlight = 0;
  /** Activations and passivations in progress (async), counted for stopWhenIdle. */
  private pendingLifecycle = 0;
  private idleWaiters: Array<() => void> = [];
  private watchdogTimer: ReturnType<typeof setTimeout> | null = null;
  /** When the armed watchdog fires (ms, `now()` clock); Infinity when none is armed. */
  private watchdogDueAt = Number.POSITIVE_INFINITY;
  private readonly watchdogBound = (): void => this.checkDeadlines();
  private sweepTimer: ReturnType<typeof setInterval> | null = null;
  private readonly runningLanes = new Set<TenantLane>();
  private activeAgents = 0;
  private passivationErrors = 0;
  /** Drops already counted at delivery, so the send path does not count them again. */
  private readonly countedDrops = new WeakSet<object>();
  private readonly drainBound = (): void => this.drain();

  constructor(options: RuntimeOptions = {}) {
    this.settings = new TenantSettingsResolver(options.quotas ?? {});
    this.maxHops = positiveInt(options.maxHops ?? 32, "maxHops");
    if (options.passivation === false) this.passivation = null;
    else {
      const p = options.passivation ?? { idleMs: 300_000, maxActiveAgents: 100_000 };
      const idleMs = positiveNumber(p.idleMs, "passivation.idleMs");
      this.passivation = {
        idleMs,
        maxActiveAgents: positiveInt(p.maxActiveAgents ?? Number.MAX_SAFE_INTEGER, "passivation.maxActiveAgents"),
        sweepIntervalMs: positiveNumber(p.sweepIntervalMs ?? Math.min(idleMs, 1000), "passivation.sweepIntervalMs"),
      };
    }
    this.stateStore = options.stateStore;
    this.turnHost = options.turnHost;
    this.tracerProvider = options.tracerProvider;
    this.meterProvider = options.meterProvider;
    this.watchdogIntervalMs = positiveNumber(options.watchdogIntervalMs ?? 10, "watchdogIntervalMs");
    this.sliceMs = positiveNumber(options.dispatchSliceMs ?? 1, "dispatchSliceMs");
    this.maxSliceMs = positiveNumber(options.maxDispatchSliceMs ?? this.sliceMs, "maxDispatchSliceMs");
    if (this.maxSliceMs < this.sliceMs) throw new InvalidArgumentError(`maxDispatchSliceMs (${this.maxSliceMs}) must not be below dispatchSliceMs (${this.sliceMs})`);
    this.als = options.asyncTenantGuard === false ? null : new AsyncLocalStorage<Delivery>();
  }

  // ---------------------------------------------------------------------------------------------
  // Configuration

  /** Registers an agent type with a factory, called lazily per (tenant, type, key). Inline tenants only. */
  register(type: string, factory: AgentFactory, options?: AgentTypeOptions): void {
    this.registry.register(type, factory, options);
  }

  /** Registers an agent type by module, so it can also run in the worker tier (the module is imported there). */
  registerModule(type: string, spec: AgentTypeModule, options?: AgentTypeOptions): void {
    this.registry.registerModule(type, spec, options);
  }

  /** Adds a subscription applied within every tenant (a topic of tenant A reaches only agents of tenant A). */
  subscribe(subscription: Subscription): void {
    this.refuseInsideTurn(undefined, "add a runtime-wide subscription");
    checkSubscription(subscription);
    this.globalSubscriptions.push(subscription);
  }

  /** Removes a runtime-wide subscription; true when it existed. From inside a handler: CrossTenantError. */
  unsubscribe(id: string): boolean {
    this.refuseInsideTurn(undefined, "remove a runtime-wide subscription");
    const i = this.globalSubscriptions.findIndex((s) => s.id === id);
    if (i < 0) return false;
    this.globalSubscriptions.splice(i, 1);
    return true;
  }

  /** Adds an interceptor (the first added is outermost). From inside a handler: CrossTenantError. */
  addInterceptor(interceptor: Interceptor): void {
    // An interceptor sees every tenant's messages: only the platform, never a handler, may add one.
    this.refuseInsideTurn(undefined, "add an interceptor");
    this.interceptors.push(interceptor);
    this.composeInterceptors();
  }

  /** Replaces a tenant's overrides (tier, quotas); applies to its next messages. From inside a handler: CrossTenantError. */
  setTenantConfig(tenant: TenantId | string, config: TenantConfig): void {
    const id = parseTenantId(tenant);
    // Quotas are the operator's: from a handler they would starve other tenants (or lift its own limits).
    this.refuseInsideTurn(undefined, `change the quotas of tenant "${id}"`);
    this.settings.setTenant(id, config);
    const lane = this.lanes.get(id);
    if (lane !== undefined) lane.applySettings(this.settings.resolve(id), now());
  }

  /**
   * Applies (undefined: removes) a tenant's managed settings, the control plane's values (see
   * followControlPlane): above every code option, at once for its next messages and turns. Tier
   * "shared" runs inline; "worker" and "process" run new turns in the turnHost's worker threads (a
   * single runtime has no worker processes). Without a turnHost the tenant stays inline and the
   * returned note says so. From inside a handler: CrossTenantError.
   */
  setManagedTenantConfig(tenant: TenantId | string, config: ManagedTenantConfig | undefined, placement?: TierPlacement): string | undefined {
    const id = parseTenantId(tenant);
    this.refuseInsideTurn(undefined, `change the managed settings of tenant "${id}"`);
    const applied = config === undefined ? undefined : managedLayerOf(id, config, placement ?? (this.turnHost === undefined ? "inline" : "threads"));
    this.settings.setManaged(id, applied?.layer);
    const lane = this.lanes.get(id);
    if (lane !== undefined) lane.applySettings(this.settings.resolve(id), now());
    return applied?.note;
  }

  /**
   * Caps how many of a tenant's turns may run at once on this runtime, below its `maxInFlightTurns`
   * quota: the distributed runtime sets it to this worker's share of the tenant's cluster-wide quota.
   * 0 holds the tenant's turns queued; undefined removes the cap. Turns already running are not
   * stopped. From inside a handler: CrossTenantError.
   */
  capInFlightTurns(tenant: TenantId | string, cap: number | undefined): void {
    const id = parseTenantId(tenant);
    this.refuseInsideTurn(undefined, `cap the turns of tenant "${id}"`);
    if (cap !== undefined && !(Number.isInteger(cap) && cap >= 0)) throw new InvalidArgumentError(`an in-flight cap must be a whole number >= 0; got ${String(cap)}`);
    const lane = this.lane(id);
    lane.capInFlight(cap ?? Number.POSITIVE_INFINITY);
    if (lane.eligible) {
      this.scheduler.enqueue(lane);
      this.scheduleDrain();
    }
  }

  /** Turns of a tenant running now on this runtime (0 for a tenant it has not seen). */
  inFlightTurns(tenant: TenantId): number {
    return this.lanes.get(tenant)?.inFlight ?? 0;
  }

  /** Replaces a tier; applies to its tenants' next messages. From inside a handler: CrossTenantError. */
  setTierConfig(name: string, config: TierConfig): void {
    this.refuseInsideTurn(undefined, `change tier "${String(name).slice(0, 64)}"`);
    this.settings.setTier(name, config);
    for (const lane of this.lanes.values()) lane.applySettings(this.settings.resolve(lane.tenant), now());
  }

  /**
   * The runtime as seen by one tenant. Validates the id (InvalidArgumentError); refuses with
   * CrossTenantError when called from a handler of another tenant.
   */
  tenant(tenant: string): TenantHandle {
    const lane = this.lane(parseTenantId(tenant));
    this.refuseInsideTurn(lane.tenant, `reach tenant "${lane.tenant}" through runtime.tenant()`);
    lane.handle ??= new TenantHandle(this, lane.tenant);
    return lane.handle as TenantHandle;
  }

  // ---------------------------------------------------------------------------------------------
  // Lifecycle

  /** Starts accepting messages. Decides once whether tracing and metrics are on (their providers are not no-ops). */
  async start(): Promise<void> {
    if (this.running) return;
    if (this.stopping !== null) await this.stopping;
    this.tracing = RuntimeTracing.create(this.tracerProvider ?? trace.getTracerProvider());
    this.otelMetrics = RuntimeMetrics.create(this.meterProvider ?? metrics.getMeterProvider());
    this.running = true;
    if (this.passivation !== null) {
      this.sweepTimer = setInterval(() => this.sweepIdle(now()), this.passivation.sweepIntervalMs);
      this.sweepTimer.unref();
    }
  }

  /**
   * Stops: every pending send settles with RuntimeStoppedError, running turns' signals abort, and
   * active agents hand their state to the state store. Idempotent.
   */
  stop(): Promise<void> {
    if (!this.running) return this.stopping ?? Promise.resolve();
    this.running = false;
    this.stopping = this.doStop().finally(() => {
      this.stopping = null;
    });
    return this.stopping;
  }

  /** Waits until nothing is queued or running, then stops. */
  async stopWhenIdle(): Promise<void> {
    await this.whenIdle();
    await this.stop();
  }

  /** Resolves when nothing is queued, running, activating or passivating (or the runtime stopped). */
  async whenIdle(): Promise<void> {
    while (this.running && !this.isIdle()) {
      await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    }
  }

  /** True while started. */
  get isRunning(): boolean {
    return this.running;
  }

  /** Per-tenant counters and gauges (a snapshot). */
  metrics(): Record<string, TenantMetrics> {
    const out: Record<string, TenantMetrics> = {};
    for (const [tenant, lane] of this.lanes) {
      out[tenant] = {
        ...lane.metrics,
        queueDepth: lane.queued,
        inFlight: lane.inFlight,
        activeAgents: lane.activeAgents,
        abandonedHandlersRunning: lane.abandonedRunning,
      };
    }
    return out;
  }

  /** Runtime-wide gauges: active agents, queued and in-flight messages, passivation failures. */
  stats(): { activeAgents: number; queued: number; inFlight: number; passivationErrors: number; tenants: number } {
    return { activeAgents: this.activeAgents, queued: this.totalQueued, inFlight: this.totalInFlight, passivationErrors: this.passivationErrors, tenants: this.lanes.size };
  }

  // ---------------------------------------------------------------------------------------------
  // Ingress (TenantIngress) and routing from handlers (TurnRouter)

  ingressSend(tenant: TenantId, to: AgentId, message: unknown, options: SendOptions | undefined): Promise<unknown> {
    const turn = this.currentTurnOf(tenant, `send to ${describe(to)}`);
    if (turn !== null) return this.sendFromTurn(turn, to, message, options);
    return this.routeSend(this.lane(tenant), to, message, undefined, 0, options, undefined);
  }

  ingressPublish(tenant: TenantId, topic: TopicId, message: unknown): Promise<void> {
    const turn = this.currentTurnOf(tenant, `publish to ${describe(topic)}`);
    if (turn !== null) return this.publishFromTurn(turn, topic, message);
    return this.routePublish(this.lane(tenant), topic, message, undefined, 0, undefined);
  }

  tenantSubscribe(tenant: TenantId, subscription: Subscription): void {
    this.refuseInsideTurn(tenant, `subscribe for tenant "${tenant}"`);
    checkSubscription(subscription);
    this.lane(tenant).subscriptions.push(subscription);
  }

  tenantUnsubscribe(tenant: TenantId, id: string): boolean {
    this.refuseInsideTurn(tenant, `unsubscribe for tenant "${tenant}"`);
    const subs = this.lane(tenant).subscriptions;
    const i = subs.findIndex((s) => s.id === id);
    if (i < 0) return false;
    subs.splice(i, 1);
    return true;
  }

  sendFromTurn(from: Delivery, to: AgentId, message: unknown, options: SendOptions | undefined): Promise<unknown> {
    return this.routeSend(laneOf(from), to, message, from.agentId, from.hopCount + 1, options, from);
  }

  publishFromTurn(from: Delivery, topic: TopicId, message: unknown): Promise<void> {
    return this.routePublish(laneOf(from), topic, message, from.agentId, from.hopCount + 1, from);
  }

  /**
   * Routes a send or publish made by a handler running in the TurnHost through the tenant's normal
   * path (quotas, loop guard, tracing). The tenant and the sender come from the request, which the
   * host builds from the turn it runs; the request cannot name another tenant's agents.
   */
  handleHostedOutbound(request: HostedOutbound): Promise<unknown> {
    let lane: TenantLane;
    let from: AgentId;
    try {
      lane = this.lane(parseTenantId(request.tenant));
      from = new AgentId(request.from.type, request.from.key);
    } catch (err) {
      return Promise.reject(err);
    }
    const hop = request.hopCount + 1;
    // The turn's own context when its trace is undecided (its sends join its trace here); else the parsed traceparent.
    const parent = this.tracing !== null && request.traceparent !== undefined ? (this.tracing.hostedTurnContext(lane.tenant, request.traceparent) ?? parentFromTraceparent(request.traceparent)) : undefined;
    try {
      if (request.kind === "send" && "type" in request.to) {
        const to = new AgentId(request.to.type, request.to.key);
        const options = request.timeoutMs === undefined ? undefined : { timeoutMs: request.timeoutMs };
        return this.routeSend(lane, to, request.message, from, hop, options, undefined, parent);
      }
      if (request.kind === "publish" && "topicType" in request.to) {
        const topic = new TopicId(request.to.topicType, request.to.topicSource);
        return this.routePublish(lane, topic, request.message, from, hop, undefined, parent);
      }
    } catch (err) {
      return Promise.reject(err);
    }
    return Promise.reject(new InvalidArgumentError(`hosted ${request.kind} request has a mismatched destination`));
  }

  // ---------------------------------------------------------------------------------------------
  // Send and publish

  private routeSend(
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
    if (this.sendInterceptors.length === 0) return this.acceptSend(lane, to, message, sender, hopCount, options, from, parent);
    const envelope: SendEnvelope = { kind: "send", tenant: lane.tenant, recipient: to, sender, message, hopCount };
    const terminal = (e: SendEnvelope): Promise<unknown> => {
      if (e.tenant !== lane.tenant) return Promise.reject(movedTenant("send", lane.tenant, e.tenant));
      if (!(e.recipient instanceof AgentId)) return Promise.reject(new InvalidArgumentError("an interceptor set a send recipient that is not an AgentId"));
      return this.acceptSend(lane, e.recipient, e.message, e.sender, e.hopCount, options, from, parent);
    };
    let result: Promise<unknown> | typeof DROP;
    try {
      result = this.sendInterceptors.reduceRight<(e: SendEnvelope) => Promise<unknown>>((next, i) => (e) => Promise.resolve(i.onSend!(e, next)), terminal)(envelope);
    } catch (err) {
      result = Promise.reject(err);
    }
    return Promise.resolve(result).then(
      (r) => (r === DROP ? this.dropped(lane, "send", to.type, to.key, hopCount, from, parent) : r),
      (err: unknown) => {
        if (err instanceof MessageDroppedError && !this.countedDrops.has(err)) return this.dropped(lane, "send", to.type, to.key, hopCount, from, parent, err);
        throw err;
      },
    );
  }

  /** The core of send: loop guard, type check, rate and queue quotas, then into the agent's mailbox. */
  private acceptSend(
    lane: TenantLane,
    to: AgentId,
    message: unknown,
    sender: AgentId | undefined,
    hopCount: number,
    options: SendOptions | undefined,
    from: Delivery | undefined,
    parent?: Context,
  ): Promise<unknown> {
    const refused = this.admit(lane, to.type, hopCount);
    if (refused !== null) {
      this.tracing?.rejected("send", lane.tenant, to.type, to.key, hopCount, refused[0], refused[1], traceParentOf(from, parent));
      return Promise.reject(refused[1]);
    }
    if (options !== undefined) {
      const bad = badSendOptions(options);
      if (bad !== null) return Promise.reject(bad);
    }
    const d = new Delivery(this, lane.tenant, to, sender, undefined, message, hopCount, true, this.seq++);
    const promise = new Promise<unknown>((resolve, reject) => {
      d.resolve = resolve;
      d.reject = reject;
    });
    if (options !== undefined) this.watchCaller(d, options);
    if (this.tracing !== null) d.trace = this.tracing.startSend(lane.tenant, to, hopCount, traceParentOf(from, parent));
    this.enqueue(lane, d);
    return promise;
  }

  /**
   * Checks a message against the runtime state, the loop guard, the registry, the tier and the
   * tenant's rate and queue quotas. Returns null when admitted, else the outcome and the error.
   */
  private admit(lane: TenantLane, agentType: string, hopCount: number): [TurnOutcome, TroupeError] | null {
    if (!this.running) return ["dropped", new RuntimeStoppedError(this.stopping ? "the runtime is stopping" : "the runtime is not started; call start() first")];
    if (hopCount > this.maxHops) {
      lane.metrics.rejectedLoop++;
      return ["loop_dropped", new LoopDetectedError(hopCount, this.maxHops)];
    }
    const reg = this.registry.find(agentType);
    if (reg === undefined) return ["error", new UnknownAgentTypeError(agentType)];
    if (runsHosted(lane, reg)) {
      const problem = this.hostedProblem(lane, reg);
      if (problem !== null) return ["error", problem];
    }
    if (lane.bucket !== null && !lane.bucket.tryTake(now())) {
      lane.metrics.rejectedRateLimited++;
      this.otelMetrics?.quotaRejected(lane.tenant, agentType, "messages_per_second");
      return [
        "rate_limited",
        new RateLimitedError(lane.tenant, `tenant "${lane.tenant}" exceeded its rate of ${lane.settings.messagesPerSecond} messages/s`, lane.bucket.msUntilNextToken()),
      ];
    }
    if (lane.queued >= lane.settings.maxQueuedMessages) {
      lane.metrics.rejectedQueueFull++;
      this.otelMetrics?.quotaRejected(lane.tenant, agentType, "max_queued_messages");
      return ["quota_rejected", new QueueFullError(lane.tenant, lane.settings.maxQueuedMessages)];
    }
    return null;
  }

  private hostedProblem(lane: TenantLane, reg: AgentRegistration): TroupeError | null {
    if (this.turnHost === undefined) {
      return new InvalidArgumentError(`tenant "${lane.tenant}" has isolation "worker" but the runtime has no turnHost configured`);
    }
    if (reg.kind !== "module") {
      return new InvalidArgumentError(
        `agent type "${reg.type}" was registered with a factory, which cannot run in a worker; tenant "${lane.tenant}" has isolation "worker": register the type with registerModule`,
      );
    }
    return null;
  }

  private routePublish(
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
    if (this.publishInterceptors.length === 0) return this.acceptPublish(lane, topic, message, sender, hopCount, from, parent);
    const envelope: PublishEnvelope = { kind: "publish", tenant: lane.tenant, topic, sender, message, hopCount };
    const terminal = (e: PublishEnvelope): Promise<void> => {
      if (e.tenant !== lane.tenant) return Promise.reject(movedTenant("publish", lane.tenant, e.tenant));
      if (!(e.topic instanceof TopicId)) return Promise.reject(new InvalidArgumentError("an interceptor set a publish topic that is not a TopicId"));
      return this.acceptPublish(lane, e.topic, e.message, e.sender, e.hopCount, from, parent);
    };
    let result: Promise<void> | typeof DROP;
    try {
      result = this.publishInterceptors.reduceRight<(e: PublishEnvelope) => Promise<void>>((next, i) => (e) => Promise.resolve(i.onPublish!(e, next)) as Promise<void>, terminal)(envelope);
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
  private acceptPublish(
    lane: TenantLane,
    topic: TopicId,
    message: unknown,
    sender: AgentId | undefined,
    hopCount: number,
    from: Delivery | undefined,
    parent?: Context,
  ): Promise<void> {
    if (!this.running) return Promise.reject(new RuntimeStoppedError(this.stopping ? "the runtime is stopping" : "the runtime is not started; call start() first"));
    if (hopCount > this.maxHops) {
      lane.metrics.rejectedLoop++;
      const err = new LoopDetectedError(hopCount, this.maxHops);
      this.tracing?.rejected("publish", lane.tenant, topic.type, undefined, hopCount, "loop_dropped", err, traceParentOf(from, parent));
      return Promise.reject(err);
    }
    if (lane.bucket !== null && !lane.bucket.tryTake(now())) {
      lane.metrics.rejectedRateLimited++;
      this.otelMetrics?.quotaRejected(lane.tenant, undefined, "messages_per_second");
      const err = new RateLimitedError(lane.tenant, `tenant "${lane.tenant}" exceeded its rate of ${lane.settings.messagesPerSecond} messages/s`, lane.bucket.msUntilNextToken());
      this.tracing?.rejected("publish", lane.tenant, topic.type, undefined, hopCount, "rate_limited", err, traceParentOf(from, parent));
      return Promise.reject(err);
    }
    const recipients = this.recipients(lane, topic);
    let publishSpan: ReturnType<RuntimeTracing["startPublish"]> | null = null;
    if (this.tracing !== null) publishSpan = this.tracing.startPublish(lane.tenant, topic, hopCount, traceParentOf(from, parent));
    let refusedErr: TroupeError | undefined;
    for (const to of recipients) {
      const reg = this.registry.find(to.type);
      let problem: TroupeError | null = reg === undefined ? new UnknownAgentTypeError(to.type) : null;
      if (problem === null && runsHosted(lane, reg!)) problem = this.hostedProblem(lane, reg!);
      if (problem === null && lane.queued >= lane.settings.maxQueuedMessages) {
        lane.metrics.rejectedQueueFull++;
        this.otelMetrics?.quotaRejected(lane.tenant, to.type, "max_queued_messages");
        problem = new QueueFullError(lane.tenant, lane.settings.maxQueuedMessages);
      }
      if (problem !== null) {
        // A subscriber that cannot take the message is counted; the publisher learns only of quota errors.
        lane.metrics.publishErrors++;
        if (problem instanceof QueueFullError) refusedErr = problem;
        continue;
      }
      const d = new Delivery(this, lane.tenant, to, sender, topic, message, hopCount, false, this.seq++);
      if (publishSpan !== null) d.trace = this.tracing!.forPublishedDelivery(publishSpan.ctx);
      this.enqueue(lane, d);
    }
    if (publishSpan !== null) this.tracing!.endPublish(publishSpan.span, refusedErr ? "quota_rejected" : "ok", refusedErr);
    return refusedErr === undefined ? Promise.resolve() : Promise.reject(refusedErr);
  }

  /** The agents a topic reaches in this tenant, each once: runtime-wide subscriptions, then the tenant's own. */
  private recipients(lane: TenantLane, topic: TopicId): AgentId[] {
    const out: AgentId[] = [];
    const collect = (subs: Subscription[]): void => {
      for (const s of subs) {
        if (!s.matches(topic)) continue;
        const id = s.mapToAgent(topic);
        if (!out.some((o) => o.equals(id))) out.push(id);
      }
    };
    collect(this.globalSubscriptions);
    collect(lane.subscriptions);
    return out;
  }

  private dropped(
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
    this.countedDrops.add(err);
    this.tracing?.rejected(kind, lane.tenant, target, key, hopCount, "dropped", err, traceParentOf(from, parent));
    throw err;
  }

  // ---------------------------------------------------------------------------------------------
  // Mailboxes and dispatch

  private enqueue(lane: TenantLane, d: Delivery): void {
    const before = lane.activeAgents;
    const a = lane.activation(d.agentId);
    if (lane.activeAgents !== before) {
      this.activeAgents++;
      if (this.passivation !== null && this.activeAgents > this.passivation.maxActiveAgents) this.evictOverLimit();
    }
    d.activation = a;
    d.enqueuedAtMs = now();
    a.push(d);
    lane.queued++;
    this.totalQueued++;
    if (a.inIdleList) this.idle.remove(a);
    if (!a.ready && a.startable) {
      lane.pushReady(a);
      this.scheduler.enqueue(lane);
    }
    this.scheduleDrain();
  }

  private scheduleDrain(): void {
    if (this.drainScheduled || this.draining) return;
    this.drainScheduled = true;
    queueMicrotask(this.drainBound);
  }

  /** Starts turns in fair order until none is startable or the slice is used, then yields. */
  private drain(): void {
    this.drainScheduled = false;
    if (this.draining) return;
    this.draining = true;
    const sliceMs = this.sliceMs === this.maxSliceMs ? this.sliceMs : Math.min(this.maxSliceMs, Math.max(this.sliceMs, (this.totalQueued * this.turnCostMs) / 4));
    const sliceEnd = now() + sliceMs;
    let n = 0;
    let blockedMs = 0;
    try {
      let lane: TenantLane | null;
      while ((lane = this.scheduler.next()) !== null) {
        // Its quota or cap may have dropped since it was queued: then it starts nothing.
        const a = lane.eligible ? lane.popReady() : null;
        const cost = a !== null && a.startable ? this.startTurn(lane, a) : 0;
        this.scheduler.charge(lane, cost + TURN_OVERHEAD_MS);
        if (a !== null) this.turnCostMs += (cost - this.turnCostMs) / 32;
        blockedMs += cost;
        // Yield once the slice is used: expensive turns are seen at once, cheap ones every 64 turns.
        if (blockedMs >= sliceMs || ((++n & 63) === 0 && now() > sliceEnd)) {
          if (!this.drainScheduled) {
            this.drainScheduled = true;
            setImmediate(this.drainBound);
          }
          return;
        }
      }
    } finally {
      this.draining = false;
    }
  }

  /** Starts the next message of `a`; returns the event-loop time it blocked (ms). */
  private startTurn(lane: TenantLane, a: Activation): number {
    const d = a.shift()!;
    lane.queued--;
    this.totalQueued--;
    if (d.settled) {
      // The caller gave up while it was queued: skip it.
      d.state = DeliveryState.Done;
      d.release();
      this.afterTurn(lane, a);
      return 0;
    }
    a.running = d;
    d.state = DeliveryState.Running;
    lane.addRunning(d);
    this.totalInFlight++;
    if (lane.inFlight === 1) this.runningLanes.add(lane);
    const t0 = now();
    d.startedAtMs = t0;
    const reg = this.registry.find(d.agentId.type);
    d.deadlineMs = t0 + (reg?.options.turnTimeoutMs ?? lane.settings.turnTimeoutMs);
    this.watchDeadline(d.deadlineMs);
    if (this.turnHost !== undefined && reg !== undefined && runsHosted(lane, reg)) {
      this.runHosted(lane, a, d);
    } else if (a.instance === null) {
      if (this.stateStore === undefined && reg?.kind === "factory") {
        try {
          this.createInstance(lane, a, reg.factory);
        } catch (err) {
          this.finishTurn(d, "error", err);
          return now() - t0;
        }
        return this.invoke(a, d);
      }
      this.activateThenInvoke(lane, a, d, reg);
      return now() - t0;
    } else {
      return this.invoke(a, d);
    }
    return now() - t0;
  }

  private createInstance(lane: TenantLane, a: Activation, factory: AgentFactory): Agent {
    const instance = factory({ tenant: lane.tenant, agentId: a.agentId });
    if (instance === null || typeof instance !== "object" || typeof instance.onMessage !== "function") {
      throw new InvalidArgumentError(`the factory of agent type "${a.agentId.type}" did not return an object with onMessage()`);
    }
    a.instance = instance;
    lane.metrics.activations++;
    return instance;
  }

  private activateThenInvoke(lane: TenantLane, a: Activation, d: Delivery, reg: AgentRegistration | undefined): void {
    this.pendingLifecycle++;
    const activate = async (): Promise<void> => {
      if (reg === undefined) throw new UnknownAgentTypeError(d.agentId.type);
      const factory = await this.registry.loadFactory(reg);
      const instance = this.createInstance(lane, a, factory);
      if (this.stateStore !== undefined) {
        const state = await this.stateStore.load(lane.tenant, a.agentId);
        if (state !== undefined && instance.loadState !== undefined) await instance.loadState(state);
      }
    };
    activate().then(
      () => {
        this.pendingLifecycle--;
        if (d.state === DeliveryState.Running) this.invoke(a, d);
        else this.notifyIdle();
      },
      (err: unknown) => {
        this.pendingLifecycle--;
        a.instance = null;
        if (d.state === DeliveryState.Running) this.finishTurn(d, "error", err);
        else this.notifyIdle();
      },
    );
  }

  /** Runs the handler (through tracing and deliver interceptors) and wires its settlement. */
  private invoke(a: Activation, d: Delivery): number {
    const agent = a.instance!;
    const t0 = now();
    const prev = currentTurn;
    currentTurn = d;
    let result: unknown;
    let threw = false;
    try {
      if (this.tracing === null && this.als === null) result = this.callHandler(agent, d);
      else result = this.callTraced(agent, d, t0);
    } catch (err) {
      threw = true;
      result = err;
    } finally {
      currentTurn = prev;
    }
    const t1 = now();
    d.blockedMs = t1 - t0;
    if (threw) this.finishTurn(d, "error", result);
    else if (isThenable(result)) {
      result.then(
        (v) => this.finishTurn(d, "ok", v),
        (e: unknown) => this.finishTurn(d, "error", e),
      );
    } else this.finishTurn(d, "ok", result);
    return t1 - t0;
  }

  private callHandler(agent: Agent, d: Delivery): unknown {
    if (this.deliverInterceptors.length === 0) return agent.onMessage(d.message, d);
    const envelope: DeliverEnvelope = {
      kind: "deliver",
      tenant: d.tenant,
      recipient: d.agentId,
      sender: d.sender,
      topic: d.topic,
      message: d.message,
      hopCount: d.hopCount,
      deliveryId: d.deliveryId,
      isRpc: d.isRpc,
    };
    const run = this.deliverInterceptors.reduceRight<(e: DeliverEnvelope) => unknown>(
      (next, i) => (e) => {
        const r = i.onDeliver!(e, next);
        if (r === DROP) throw new MessageDroppedError("an interceptor dropped the delivery");
        return r;
      },
      (e) => agent.onMessage(e.message, d),
    );
    return run(envelope);
  }

  private callTraced(agent: Agent, d: Delivery, startMs: number): unknown {
    if (this.tracing === null || d.trace === null) return this.callGuarded(agent, d);
    const ctx = this.tracing.startTurn(d.trace as DeliveryTrace, d.tenant, d.agentId, d.hopCount, d.deliveryId, d.isRpc, startMs);
    return otelContext.with(ctx, this.callGuarded, this, agent, d);
  }

  /** Runs the handler with the turn in AsyncLocalStorage when the async tenant guard is on. */
  private callGuarded(agent: Agent, d: Delivery): unknown {
    return this.als === null ? this.callHandler(agent, d) : this.als.run(d, this.callHandlerFn, agent, d);
  }

  private readonly callHandlerFn = (agent: Agent, d: Delivery): unknown => this.callHandler(agent, d);

  private runHosted(lane: TenantLane, a: Activation, d: Delivery): void {
    const host = this.turnHost!;
    const reg = this.registry.find(d.agentId.type);
    let traceparent: string | undefined;
    if (this.tracing !== null && d.trace !== null) {
      this.tracing.startTurn(d.trace as DeliveryTrace, d.tenant, d.agentId, d.hopCount, d.deliveryId, d.isRpc, d.startedAtMs);
      this.tracing.markHosted(d.trace as DeliveryTrace);
      traceparent = this.tracing.traceparent(d.trace as DeliveryTrace, d.tenant);
    }
    const turn: HostedTurn = {
      tenant: lane.tenant,
      agentType: d.agentId.type,
      agentKey: d.agentId.key,
      message: d.message,
      deliveryId: d.deliveryId,
      hopCount: d.hopCount,
      signal: d.signal,
      ...(traceparent === undefined ? {} : { traceparent }),
      ...(reg?.kind === "module" ? { module: reg.module, exportName: reg.exportName } : {}),
    };
    const first = !a.hosted;
    const run = async (): Promise<unknown> => {
      if (first) {
        a.hosted = true;
        lane.metrics.activations++;
        if (this.stateStore !== undefined) {
          const state = await this.stateStore.load(lane.tenant, a.agentId);
          if (state !== undefined) turn.state = state;
        }
      }
      return host.runTurn(turn);
    };
    run().then(
      (v) => this.finishTurn(d, "ok", v),
      (e: unknown) => this.finishTurn(d, "error", e),
    );
  }

  /** Ends a turn: accounting, spans, the caller's settlement, then the agent's next message. */
  private finishTurn(d: Delivery, outcome: "ok" | "error", value: unknown): void {
    const a = d.activation as Activation;
    const lane = a.lane as TenantLane;
    if (d.state === DeliveryState.Done) {
      // The watchdog or stop() already finished this turn; the handler was a zombie.
      lane.metrics.lateResultsDiscarded++;
      lane.abandonedRunning--;
      return;
    }
    d.state = DeliveryState.Done;
    lane.removeRunning(d);
    if (--this.totalInFlight === 0) this.idleWatchdog();
    if (lane.inFlight === 0) this.runningLanes.delete(lane);
    if (a.running === d) a.running = null;
    const end = now();
    const m = lane.metrics;
    const wallMs = end - d.startedAtMs;
    const queueWaitMs = d.startedAtMs - d.enqueuedAtMs;
    m.turns++;
    m.handlerWallMs += wallMs;
    m.handlerBlockedMs += d.blockedMs;
    m.queueWaitMs += queueWaitMs;
    let error: TroupeError | undefined;
    let turnOutcome: TurnOutcome = "ok";
    if (outcome === "error") {
      if (value instanceof MessageDroppedError) {
        m.dropped++;
        this.countedDrops.add(value);
        turnOutcome = "dropped";
        error = value;
      } else {
        m.errors++;
        if (!d.isRpc) m.publishErrors++;
        turnOutcome = "error";
        error = value instanceof HandlerError || isHostedTroupeError(value) ? (value as TroupeError) : new HandlerError(d.agentId.toString(), value);
      }
    }
    if (this.tracing !== null && d.trace !== null) {
      this.tracing.endTurn(d.trace as DeliveryTrace, turnOutcome, { queueWaitMs, wallMs, blockedMs: d.blockedMs, endMs: end }, error);
    }
    if (this.otelMetrics !== null) this.otelMetrics.turnEnded(lane.tenant, d.agentId.type, turnOutcome, queueWaitMs, wallMs);
    if (error === undefined) this.settleOk(d, value);
    else this.settleErr(d, turnOutcome, error);
    d.release();
    this.afterTurn(lane, a);
  }

  /** After a turn of `a` ends (or is abandoned): schedule its next message, or mark it idle. */
  private afterTurn(lane: TenantLane, a: Activation): void {
    if (a.passivating || a.running !== null) {
      // nothing: it resumes when passivation ends or the running turn finishes
    } else if (a.head !== null) {
      if (!a.ready) lane.pushReady(a);
    } else {
      this.becameIdle(lane, a);
    }
    if (lane.eligible) {
      this.scheduler.enqueue(lane);
      this.scheduleDrain();
    }
    if (this.idleWaiters.length > 0) this.notifyIdle();
  }

  // ---------------------------------------------------------------------------------------------
  // Caller settlement, caller timeouts and aborts, the watchdog

  private settleOk(d: Delivery, value: unknown): void {
    if (d.settled) return;
    d.settled = true;
    this.clearCaller(d);
    if (this.tracing !== null && d.trace !== null) this.tracing.endSend(d.trace as DeliveryTrace, "ok");
    d.resolve?.(value);
  }

  private settleErr(d: Delivery, outcome: TurnOutcome, error: unknown): void {
    if (d.settled) return;
    d.settled = true;
    this.clearCaller(d);
    if (this.tracing !== null && d.trace !== null) this.tracing.endSend(d.trace as DeliveryTrace, outcome, error);
    // Published deliveries have no caller: their errors are counted, never thrown to the publisher.
    d.reject?.(error);
  }

  private watchCaller(d: Delivery, options: SendOptions): void {
    const { timeoutMs, signal } = options;
    if (timeoutMs !== undefined) {
      d.callerTimer = setTimeout(() => this.callerGaveUp(d, new TimeoutError(`no answer from ${d.agentId.toString()} within ${timeoutMs} ms`)), timeoutMs);
    }
    if (signal !== undefined) {
      if (signal.aborted) {
        this.callerGaveUp(d, new AbortedError());
        return;
      }
      d.callerSignal = signal;
      d.callerAbortListener = () => this.callerGaveUp(d, new AbortedError());
      signal.addEventListener("abort", d.callerAbortListener, { once: true });
    }
  }

  private clearCaller(d: Delivery): void {
    if (d.callerTimer !== null) {
      clearTimeout(d.callerTimer);
      d.callerTimer = null;
    }
    if (d.callerSignal !== null && d.callerAbortListener !== null) {
      d.callerSignal.removeEventListener("abort", d.callerAbortListener);
      d.callerSignal = null;
      d.callerAbortListener = null;
    }
  }

  /** The caller timed out or aborted: settle it now; a running turn sees its signal abort. */
  private callerGaveUp(d: Delivery, error: TroupeError): void {
    if (d.settled) return;
    this.settleErr(d, error instanceof TimeoutError ? "timeout" : "dropped", error);
    if (d.state === DeliveryState.Running) d.abort(error);
  }

  /**
   * Arms the watchdog for a running turn's deadline, unless it is armed for one no later (within
   * `watchdogIntervalMs`, so turns starting one after another do not re-arm it each time). The
   * watchdog is armed only while turns are in flight (it also keeps the process alive then, so a
   * pending send settles) and wakes only when a deadline is due: an idle runtime, or one whose turns
   * wait on I/O for seconds, takes no timer wake-ups, which matters when several worker processes
   * share few cores.
   */
  private watchDeadline(deadlineMs: number): void {
    // The common case, a turn due no earlier than the armed watchdog, reads no clock.
    if (this.watchdogTimer !== null && deadlineMs >= this.watchdogDueAt - this.watchdogIntervalMs) {
      this.watchdogTimer.ref();
      return;
    }
    // A budget beyond a timer's range (or none) still arms one, which keeps the process alive while the turn runs.
    const t = now();
    const dueAt = Math.min(deadlineMs, t + 2_147_483_647);
    if (this.watchdogTimer !== null) {
      if (dueAt >= this.watchdogDueAt - this.watchdogIntervalMs) {
        this.watchdogTimer.ref();
        return;
      }
      clearTimeout(this.watchdogTimer);
    }
    this.watchdogDueAt = dueAt;
    // Whole milliseconds plus one: the event loop's timer clock counts in cached milliseconds, and a
    // timer that fires before the deadline only to be armed again costs a wake-up for nothing.
    this.watchdogTimer = setTimeout(this.watchdogBound, Math.min(2_147_483_647, Math.max(1, Math.ceil(dueAt - t) + 1)));
  }

  /**
   * Nothing is in flight: the armed timer stays (a turn starting soon needs no new one) but no longer
   * keeps the process alive; if it fires first, it finds nothing and is not armed again.
   */
  private idleWatchdog(): void {
    this.watchdogTimer?.unref();
  }

  private stopWatchdog(): void {
    if (this.watchdogTimer !== null) clearTimeout(this.watchdogTimer);
    this.watchdogTimer = null;
    this.watchdogDueAt = Number.POSITIVE_INFINITY;
  }

  /** The watchdog: turns past their budget are aborted and their agent and slot freed; it is armed again for the earliest deadline left. */
  private checkDeadlines(): void {
    this.watchdogTimer = null;
    this.watchdogDueAt = Number.POSITIVE_INFINITY;
    const t = now();
    let earliest = Number.POSITIVE_INFINITY;
    for (const lane of this.runningLanes) {
      let d = lane.runHead;
      while (d !== null) {
        const next = d.nextRunning;
        if (d.deadlineMs <= t) this.abandonTurn(lane, d, "timeout", new TimeoutError(`turn of ${d.agentId.toString()} exceeded its time budget of ${Math.round(d.deadlineMs - d.startedAtMs)} ms`));
        else earliest = Math.min(earliest, d.deadlineMs);
        d = next;
      }
    }
    if (this.totalInFlight > 0) this.watchDeadline(earliest);
  }

  /** Ends a running turn without its handler: abort its signal, settle the caller, free agent and slot. */
  private abandonTurn(lane: TenantLane, d: Delivery, outcome: TurnOutcome, error: TroupeError): void {
    const a = d.activation as Activation;
    d.state = DeliveryState.Done;
    lane.removeRunning(d);
    if (--this.totalInFlight === 0) this.idleWatchdog();
    if (lane.inFlight === 0) this.runningLanes.delete(lane);
    if (a.running === d) a.running = null;
    lane.abandonedRunning++;
    const m = lane.metrics;
    const end = now();
    const wallMs = end - d.startedAtMs;
    const queueWaitMs = d.startedAtMs - d.enqueuedAtMs;
    m.turns++;
    if (outcome === "timeout") m.timeouts++;
    m.handlerWallMs += wallMs;
    m.handlerBlockedMs += d.blockedMs;
    m.queueWaitMs += queueWaitMs;
    d.abort(error);
    if (this.tracing !== null && d.trace !== null) this.tracing.endTurn(d.trace as DeliveryTrace, outcome, { queueWaitMs, wallMs, blockedMs: d.blockedMs, endMs: end }, error);
    if (this.otelMetrics !== null) this.otelMetrics.turnEnded(lane.tenant, d.agentId.type, outcome, queueWaitMs, wallMs);
    this.settleErr(d, outcome, error);
    d.release();
    this.afterTurn(lane, a);
  }

  // ---------------------------------------------------------------------------------------------
  // Passivation

  private becameIdle(lane: TenantLane, a: Activation): void {
    if (a.evicted) return;
    if (a.instance === null && !a.hosted) {
      // Never activated (its messages were all cancelled): forget it.
      lane.removeActivation(a);
      this.activeAgents--;
      return;
    }
    if (this.passivation === null) return;
    this.idle.append(a, now());
    if (this.activeAgents > this.passivation.maxActiveAgents) this.evictOverLimit();
  }

  /** Evicts least recently used idle agents while more than maxActiveAgents are active. */
  private evictOverLimit(): void {
    let over = this.activeAgents - this.passivation!.maxActiveAgents;
    while (over > 0 && this.idle.size > 0) {
      this.evict(this.idle.peek()!);
      over--;
    }
  }

  private sweepIdle(t: number): void {
    const p = this.passivation!;
    let a = this.idle.peek();
    while (a !== null && t - a.idleSinceMs >= p.idleMs) {
      this.evict(a);
      a = this.idle.peek();
    }
  }

  /** Evicts an idle agent: its state goes to the store first; messages arriving meanwhile keep it. */
  private evict(a: Activation): void {
    const lane = a.lane as TenantLane;
    this.idle.remove(a);
    const instance = a.instance;
    const needsAsync = a.hosted || (instance !== null && (instance.onDeactivate !== undefined || (this.stateStore !== undefined && instance.saveState !== undefined)));
    if (!needsAsync) {
      this.forget(lane, a);
      return;
    }
    a.passivating = true;
    this.pendingLifecycle++;
    this.passivate(lane, a).then(
      () => this.afterPassivation(lane, a, true),
      () => this.afterPassivation(lane, a, false),
    );
  }

  private async passivate(lane: TenantLane, a: Activation): Promise<void> {
    const state = a.hosted
      ? await this.turnHost!.deactivate(lane.tenant, a.agentId.type, a.agentId.key)
      : a.instance?.saveState !== undefined && this.stateStore !== undefined
        ? await a.instance.saveState()
        : undefined;
    if (this.stateStore !== undefined && state !== undefined) await this.stateStore.save(lane.tenant, a.agentId, state);
    if (a.hosted) a.hosted = false;
    else if (a.head === null) await a.instance?.onDeactivate?.();
  }

  private afterPassivation(lane: TenantLane, a: Activation, ok: boolean): void {
    this.pendingLifecycle--;
    a.passivating = false;
    if (!ok) this.passivationErrors++;
    if (ok && a.head === null && a.running === null) {
      this.forget(lane, a);
    } else if (a.head !== null) {
      // Messages arrived while saving: the agent stays active with the same instance.
      if (!a.ready) lane.pushReady(a);
      this.scheduler.enqueue(lane);
      this.scheduleDrain();
    } else if (this.running && this.passivation !== null) {
      // Saving failed: keep the agent (and its state) and retry on a later sweep.
      this.idle.append(a, now());
    }
    this.notifyIdle();
  }

  private forget(lane: TenantLane, a: Activation): void {
    lane.removeActivation(a);
    a.instance = null;
    this.activeAgents--;
    lane.metrics.passivations++;
  }

  // ---------------------------------------------------------------------------------------------
  // Stop

  private async doStop(): Promise<void> {
    this.stopWatchdog();
    if (this.sweepTimer !== null) clearInterval(this.sweepTimer);
    this.sweepTimer = null;
    this.scheduler.clear();
    const saves: Promise<void>[] = [];
    for (const lane of this.lanes.values()) {
      for (const a of lane.allActivations()) {
        for (let d = a.shift(); d !== null; d = a.shift()) {
          lane.queued--;
          this.totalQueued--;
          d.state = DeliveryState.Done;
          this.settleErr(d, "dropped", new RuntimeStoppedError("the runtime stopped before the message was handled"));
          d.release();
        }
        a.ready = false;
        a.nextReady = null;
        if (a.running !== null) this.abandonTurn(lane, a.running, "dropped", new RuntimeStoppedError("the runtime stopped during the turn"));
      }
      while (lane.popReady() !== null);
    }
    // Hand active agents' state to the store, then forget them.
    for (const lane of this.lanes.values()) {
      for (const a of lane.allActivations()) {
        this.idle.remove(a);
        if (a.passivating) continue;
        if (a.instance !== null || a.hosted) {
          a.passivating = true;
          saves.push(
            this.passivate(lane, a).then(
              () => undefined,
              () => {
                this.passivationErrors++;
              },
            ),
          );
        }
      }
    }
    await Promise.all(saves);
    while (this.pendingLifecycle > 0) await new Promise((r) => setTimeout(r, 1));
    for (const lane of this.lanes.values()) {
      for (const a of lane.allActivations()) {
        lane.removeActivation(a);
        a.instance = null;
      }
    }
    this.activeAgents = 0;
    this.notifyIdle();
  }

  // ---------------------------------------------------------------------------------------------
  // Helpers

  private lane(tenant: TenantId): TenantLane {
    let lane = this.lanes.get(tenant);
    if (lane === undefined) {
      lane = new TenantLane(tenant, this.settings.resolve(tenant), now());
      this.lanes.set(tenant, lane);
    }
    return lane;
  }

  private isIdle(): boolean {
    return this.totalQueued === 0 && this.totalInFlight === 0 && this.pendingLifecycle === 0;
  }

  private notifyIdle(): void {
    if (this.idleWaiters.length === 0 || (this.running && !this.isIdle())) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  /** The turn running for this code right now (sync marker, else AsyncLocalStorage). */
  private activeTurn(): Delivery | null {
    if (currentTurn !== null) return currentTurn;
    return this.als?.getStore() ?? null;
  }

  /** Inside a turn of another tenant: CrossTenantError. Inside a turn of this tenant: that turn. */
  private currentTurnOf(tenant: TenantId, action: string): Delivery | null {
    const turn = this.activeTurn();
    if (turn === null) return null;
    if (turn.tenant !== tenant) {
      throw new CrossTenantError(`a handler of tenant "${turn.tenant}" (agent ${turn.agentId.toString()}) tried to ${action} of tenant "${tenant}"; agents can only address their own tenant`);
    }
    return turn;
  }

  private refuseInsideTurn(tenant: TenantId | undefined, action: string): void {
    const turn = this.activeTurn();
    if (turn === null) return;
    if (tenant === undefined || turn.tenant !== tenant) {
      throw new CrossTenantError(`a handler of tenant "${turn.tenant}" (agent ${turn.agentId.toString()}) tried to ${action}; agents can only address their own tenant`);
    }
  }

  private composeInterceptors(): void {
    this.sendInterceptors = this.interceptors.filter((i) => i.onSend !== undefined);
    this.publishInterceptors = this.interceptors.filter((i) => i.onPublish !== undefined);
    this.deliverInterceptors = this.interceptors.filter((i) => i.onDeliver !== undefined);
  }
}

function movedTenant(kind: string, from: TenantId, to: unknown): CrossTenantError {
  return new CrossTenantError(`an interceptor moved a ${kind} of tenant "${from}" to tenant ${JSON.stringify(String(to)).slice(0, 80)}; interceptors cannot change a message's tenant`);
}

function laneOf(d: Delivery): TenantLane {
  return (d.activation as Activation).lane as TenantLane;
}

function traceParentOf(from: Delivery | undefined, parent: Context | undefined): Context | undefined {
  if (parent !== undefined) return parent;
  if (from === undefined || from.trace === null) return undefined;
  return (from.trace as DeliveryTrace).invokeCtx;
}

/** Accepts an AgentId or a plain { type, key } (as worker-hosted agents pass), validated. */
function toAgentId(v: unknown): AgentId {
  const o = v as { type?: unknown; key?: unknown } | null;
  if (o === null || typeof o !== "object" || typeof o.type !== "string" || typeof o.key !== "string") {
    throw new InvalidArgumentError("send target must be an AgentId (or { type, key })");
  }
  return new AgentId(o.type, o.key);
}

/** Accepts a TopicId or a plain { type, source }, validated. */
function toTopicId(v: unknown): TopicId {
  const o = v as { type?: unknown; source?: unknown } | null;
  if (o === null || typeof o !== "object" || typeof o.type !== "string" || typeof o.source !== "string") {
    throw new InvalidArgumentError("publish target must be a TopicId (or { type, source })");
  }
  return new TopicId(o.type, o.source);
}

function badSendOptions(options: SendOptions): InvalidArgumentError | null {
  if (options === null || typeof options !== "object") return new InvalidArgumentError("send options must be an object");
  const { timeoutMs, signal } = options;
  if (timeoutMs !== undefined && (typeof timeoutMs !== "number" || !(timeoutMs > 0) || timeoutMs > 2_147_483_647)) {
    return new InvalidArgumentError(`timeoutMs must be a positive number of milliseconds; got ${String(timeoutMs)}`);
  }
  if (signal !== undefined && !(signal instanceof AbortSignal)) return new InvalidArgumentError("signal must be an AbortSignal");
  return null;
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return v !== null && typeof v === "object" && typeof (v as { then?: unknown }).then === "function";
}

function isHostedTroupeError(v: unknown): boolean {
  return v instanceof TroupeError && (v.code === "WORKER_CRASHED" || v.code === "WORKER_TIER_FULL");
}

function describe(target: AgentId | TopicId): string {
  return target instanceof AgentId ? `agent ${target.toString()}` : `topic ${target.toString()}`;
}

function checkSubscription(s: Subscription): void {
  if (s === null || typeof s !== "object" || typeof s.matches !== "function" || typeof s.mapToAgent !== "function" || typeof s.id !== "string") {
    throw new InvalidArgumentError("a subscription needs an id, matches(topic) and mapToAgent(topic); use typeSubscription() or prefixSubscription()");
  }
}

function positiveInt(v: number, name: string): number {
  if (!Number.isInteger(v) || v <= 0) throw new InvalidArgumentError(`${name} must be a positive integer; got ${String(v)}`);
  return v;
}

function positiveNumber(v: number, name: string): number {
  if (typeof v !== "number" || !(v > 0)) throw new InvalidArgumentError(`${name} must be a positive number; got ${String(v)}`);
  return v;
}

function parentFromTraceparent(traceparent: string): Context | undefined {
  const m = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/.exec(traceparent);
  if (m === null) return undefined;
  return trace.setSpanContext(otelContext.active(), { traceId: m[1]!, spanId: m[2]!, traceFlags: parseInt(m[3]!, 16), isRemote: true });
}

/** Whether a turn of this type runs in the worker TurnHost: its tenant's isolation, unless the type is pinned inline. */
function runsHosted(lane: TenantLane, reg: AgentRegistration): boolean {
  return lane.settings.isolation === "worker" && reg.options.isolation !== "inline";
}
