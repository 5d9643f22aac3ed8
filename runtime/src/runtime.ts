import { context as otelContext, metrics, trace, type Context, type MeterProvider, type TracerProvider } from "@opentelemetry/api";
import type { AgentFactory, AgentTypeModule, AgentTypeOptions, SendOptions } from "./agents/agent.js";
import { AgentRegistry } from "./agents/agent-registry.js";
import { AgentId, TopicId } from "./agents/ids.js";
import type { Interceptor } from "./agents/interceptor.js";
import { InterceptorChain } from "./agents/interceptor-chain.js";
import { checkSubscription, describe } from "./agents/message-arguments.js";
import type { Subscription } from "./agents/subscription.js";
import { InvalidArgumentError } from "./errors.js";
import { managedLayerOf, type ManagedTenantConfig, type TierPlacement } from "./control/managed-tenant-config.js";
import type { HostedOutbound, TurnHost } from "./isolation/turn-host.js";
import { RuntimeMetrics } from "./metrics/runtime-metrics.js";
import { MessageRouting } from "./runtime/message-routing.js";
import { Passivation } from "./runtime/passivation.js";
import { RunState } from "./runtime/run-state.js";
import { resolveRuntimeOptions, type PassivationOptions, type RuntimeOptions } from "./runtime/runtime-options.js";
import { TurnDispatcher } from "./runtime/turn-dispatcher.js";
import type { Activation } from "./scheduling/activation.js";
import type { Delivery, TurnRouter } from "./scheduling/delivery.js";
import { TenantLane } from "./scheduling/tenant-lane.js";
import { TurnWatchdog } from "./scheduling/turn-watchdog.js";
import { CrossTenantGuard } from "./tenancy/cross-tenant-guard.js";
import type { TenantId } from "@troupe/contract";
import { parseTenantId } from "./tenancy/parse-tenant-id.js";
import type { TenantMetrics } from "./tenancy/tenant-metrics.js";
import { TenantSettingsResolver, type TenantConfig, type TierConfig } from "./tenancy/tenant-quota.js";
import { RuntimeTracing } from "./tracing/runtime-tracing.js";
import { TenantHandle, type TenantIngress } from "./tenant-handle.js";

export type { PassivationOptions, RuntimeOptions };

const now = (): number => performance.now();

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
 *
 * This class is the public face; the work is done by its parts: MessageRouting (send and publish
 * up to the mailboxes), TurnDispatcher (mailboxes, fair dispatch, turns, the watchdog), Passivation
 * (idle agents), CrossTenantGuard and InterceptorChain, sharing a RunState.
 */
export class Runtime implements TenantIngress, TurnRouter {
  readonly #registry = new AgentRegistry();
  readonly #settings: TenantSettingsResolver;
  readonly #lanes = new Map<TenantId, TenantLane>();
  readonly #globalSubscriptions: Subscription[] = [];
  readonly #interceptors = new InterceptorChain();
  readonly #turnHost: TurnHost | undefined;
  readonly #tracerProvider: TracerProvider | undefined;
  readonly #meterProvider: MeterProvider | undefined;
  readonly #guard: CrossTenantGuard;
  readonly #state: RunState;
  readonly #passivation: Passivation;
  readonly #watchdog: TurnWatchdog;
  readonly #dispatcher: TurnDispatcher;
  readonly #routing: MessageRouting;

  constructor(options: RuntimeOptions = {}) {
    this.#settings = new TenantSettingsResolver(options.quotas ?? {});
    const o = resolveRuntimeOptions(options);
    this.#turnHost = options.turnHost;
    this.#tracerProvider = options.tracerProvider;
    this.#meterProvider = options.meterProvider;
    this.#guard = new CrossTenantGuard(o.asyncTenantGuard);
    this.#state = new RunState(() => this.#dispatcher.totalQueued === 0 && this.#dispatcher.totalInFlight === 0 && this.#state.pendingLifecycle === 0);
    this.#passivation = new Passivation(o.passivation, options.stateStore, options.turnHost, this.#state, (lane, a) => this.#dispatcher.resume(lane, a));
    this.#watchdog = new TurnWatchdog(o.watchdogIntervalMs, (t) => this.#checkDeadlines(t));
    this.#dispatcher = new TurnDispatcher({
      registry: this.#registry,
      stateStore: options.stateStore,
      turnHost: options.turnHost,
      state: this.#state,
      guard: this.#guard,
      interceptors: this.#interceptors,
      passivation: this.#passivation,
      watchdog: this.#watchdog,
      sliceMs: o.sliceMs,
      maxSliceMs: o.maxSliceMs,
    });
    this.#routing = new MessageRouting({
      registry: this.#registry,
      interceptors: this.#interceptors,
      turnHost: options.turnHost,
      state: this.#state,
      dispatcher: this.#dispatcher,
      router: this,
      globalSubscriptions: this.#globalSubscriptions,
      maxHops: o.maxHops,
    });
  }

  // Configuration

  /** Registers an agent type with a factory, called lazily per (tenant, type, key). Inline tenants only. */
  register(type: string, factory: AgentFactory, options?: AgentTypeOptions): void {
    this.#registry.register(type, factory, options);
  }

  /** Registers an agent type by module, so it can also run in the worker tier (the module is imported there). */
  registerModule(type: string, spec: AgentTypeModule, options?: AgentTypeOptions): void {
    this.#registry.registerModule(type, spec, options);
  }

  /** Adds a subscription applied within every tenant (a topic of tenant A reaches only agents of tenant A). */
  subscribe(subscription: Subscription): void {
    this.#guard.refuseInsideTurn(undefined, "add a runtime-wide subscription");
    checkSubscription(subscription);
    this.#globalSubscriptions.push(subscription);
  }

  /** Removes a runtime-wide subscription; true when it existed. From inside a handler: CrossTenantError. */
  unsubscribe(id: string): boolean {
    this.#guard.refuseInsideTurn(undefined, "remove a runtime-wide subscription");
    const i = this.#globalSubscriptions.findIndex((s) => s.id === id);
    if (i < 0) return false;
    this.#globalSubscriptions.splice(i, 1);
    return true;
  }

  /** Adds an interceptor (the first added is outermost). From inside a handler: CrossTenantError. */
  addInterceptor(interceptor: Interceptor): void {
    // An interceptor sees every tenant's messages: only the platform, never a handler, may add one.
    this.#guard.refuseInsideTurn(undefined, "add an interceptor");
    this.#interceptors.add(interceptor);
  }

  /** Replaces a tenant's overrides (tier, quotas); applies to its next messages. From inside a handler: CrossTenantError. */
  setTenantConfig(tenant: TenantId | string, config: TenantConfig): void {
    const id = parseTenantId(tenant);
    // Quotas are the operator's: from a handler they would starve other tenants (or lift its own limits).
    this.#guard.refuseInsideTurn(undefined, `change the quotas of tenant "${id}"`);
    this.#settings.setTenant(id, config);
    const lane = this.#lanes.get(id);
    if (lane !== undefined) lane.applySettings(this.#settings.resolve(id), now());
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
    this.#guard.refuseInsideTurn(undefined, `change the managed settings of tenant "${id}"`);
    const applied = config === undefined ? undefined : managedLayerOf(id, config, placement ?? (this.#turnHost === undefined ? "inline" : "threads"));
    this.#settings.setManaged(id, applied?.layer);
    const lane = this.#lanes.get(id);
    if (lane !== undefined) lane.applySettings(this.#settings.resolve(id), now());
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
    this.#guard.refuseInsideTurn(undefined, `cap the turns of tenant "${id}"`);
    if (cap !== undefined && !(Number.isInteger(cap) && cap >= 0)) throw new InvalidArgumentError(`an in-flight cap must be a whole number >= 0; got ${String(cap)}`);
    const lane = this.#lane(id);
    lane.capInFlight(cap ?? Number.POSITIVE_INFINITY);
    this.#dispatcher.scheduleIfEligible(lane);
  }

  /** Turns of a tenant running now on this runtime (0 for a tenant it has not seen). */
  inFlightTurns(tenant: TenantId): number {
    return this.#lanes.get(tenant)?.inFlight ?? 0;
  }

  /** Replaces a tier; applies to its tenants' next messages. From inside a handler: CrossTenantError. */
  setTierConfig(name: string, config: TierConfig): void {
    this.#guard.refuseInsideTurn(undefined, `change tier "${String(name).slice(0, 64)}"`);
    this.#settings.setTier(name, config);
    for (const lane of this.#lanes.values()) lane.applySettings(this.#settings.resolve(lane.tenant), now());
  }

  /**
   * The runtime as seen by one tenant. Validates the id (InvalidArgumentError); refuses with
   * CrossTenantError when called from a handler of another tenant.
   */
  tenant(tenant: string): TenantHandle {
    const lane = this.#lane(parseTenantId(tenant));
    this.#guard.refuseInsideTurn(lane.tenant, `reach tenant "${lane.tenant}" through runtime.tenant()`);
    lane.handle ??= new TenantHandle(this, lane.tenant);
    return lane.handle as TenantHandle;
  }

  // Lifecycle

  /** Starts accepting messages. Decides once whether tracing and metrics are on (their providers are not no-ops). */
  async start(): Promise<void> {
    if (this.#state.running) return;
    if (this.#state.stopping !== null) await this.#state.stopping;
    this.#state.tracing = RuntimeTracing.create(this.#tracerProvider ?? trace.getTracerProvider());
    this.#state.otelMetrics = RuntimeMetrics.create(this.#meterProvider ?? metrics.getMeterProvider());
    this.#state.running = true;
    this.#passivation.startSweeping();
  }

  /**
   * Stops: every pending send settles with RuntimeStoppedError, running turns' signals abort, and
   * active agents hand their state to the state store. Idempotent.
   */
  stop(): Promise<void> {
    if (!this.#state.running) return this.#state.stopping ?? Promise.resolve();
    this.#state.running = false;
    this.#state.stopping = this.#doStop().finally(() => {
      this.#state.stopping = null;
    });
    return this.#state.stopping;
  }

  /** Waits until nothing is queued or running, then stops. */
  async stopWhenIdle(): Promise<void> {
    await this.whenIdle();
    await this.stop();
  }

  /** Resolves when nothing is queued, running, activating or passivating (or the runtime stopped). */
  async whenIdle(): Promise<void> {
    await this.#state.whenIdle();
  }

  /** True while started. */
  get isRunning(): boolean {
    return this.#state.running;
  }

  /** Per-tenant counters and gauges (a snapshot). */
  metrics(): Record<string, TenantMetrics> {
    const out: Record<string, TenantMetrics> = {};
    for (const [tenant, lane] of this.#lanes) {
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
    return {
      activeAgents: this.#passivation.activeAgents,
      queued: this.#dispatcher.totalQueued,
      inFlight: this.#dispatcher.totalInFlight,
      passivationErrors: this.#passivation.passivationErrors,
      tenants: this.#lanes.size,
    };
  }

  // Ingress (TenantIngress) and routing from handlers (TurnRouter)

  ingressSend(tenant: TenantId, to: AgentId, message: unknown, options: SendOptions | undefined): Promise<unknown> {
    const turn = this.#guard.currentTurnOf(tenant, `send to ${describe(to)}`);
    if (turn !== null) return this.sendFromTurn(turn, to, message, options);
    return this.#routing.routeSend(this.#lane(tenant), to, message, undefined, 0, options, undefined);
  }

  ingressPublish(tenant: TenantId, topic: TopicId, message: unknown): Promise<void> {
    const turn = this.#guard.currentTurnOf(tenant, `publish to ${describe(topic)}`);
    if (turn !== null) return this.publishFromTurn(turn, topic, message);
    return this.#routing.routePublish(this.#lane(tenant), topic, message, undefined, 0, undefined);
  }

  tenantSubscribe(tenant: TenantId, subscription: Subscription): void {
    this.#guard.refuseInsideTurn(tenant, `subscribe for tenant "${tenant}"`);
    checkSubscription(subscription);
    this.#lane(tenant).subscriptions.push(subscription);
  }

  tenantUnsubscribe(tenant: TenantId, id: string): boolean {
    this.#guard.refuseInsideTurn(tenant, `unsubscribe for tenant "${tenant}"`);
    const subs = this.#lane(tenant).subscriptions;
    const i = subs.findIndex((s) => s.id === id);
    if (i < 0) return false;
    subs.splice(i, 1);
    return true;
  }

  sendFromTurn(from: Delivery, to: AgentId, message: unknown, options: SendOptions | undefined): Promise<unknown> {
    return this.#routing.routeSend(laneOf(from), to, message, from.agentId, from.hopCount + 1, options, from);
  }

  publishFromTurn(from: Delivery, topic: TopicId, message: unknown): Promise<void> {
    return this.#routing.routePublish(laneOf(from), topic, message, from.agentId, from.hopCount + 1, from);
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
      lane = this.#lane(parseTenantId(request.tenant));
      from = new AgentId(request.from.type, request.from.key);
    } catch (err) {
      return Promise.reject(err);
    }
    const hop = request.hopCount + 1;
    const tracing = this.#state.tracing;
    // The turn's own context when its trace is undecided (its sends join its trace here); else the parsed traceparent.
    const parent = tracing !== null && request.traceparent !== undefined ? (tracing.hostedTurnContext(lane.tenant, request.traceparent) ?? parentFromTraceparent(request.traceparent)) : undefined;
    try {
      if (request.kind === "send" && "type" in request.to) {
        const to = new AgentId(request.to.type, request.to.key);
        const options = request.timeoutMs === undefined ? undefined : { timeoutMs: request.timeoutMs };
        return this.#routing.routeSend(lane, to, request.message, from, hop, options, undefined, parent);
      }
      if (request.kind === "publish" && "topicType" in request.to) {
        const topic = new TopicId(request.to.topicType, request.to.topicSource);
        return this.#routing.routePublish(lane, topic, request.message, from, hop, undefined, parent);
      }
    } catch (err) {
      return Promise.reject(err);
    }
    return Promise.reject(new InvalidArgumentError(`hosted ${request.kind} request has a mismatched destination`));
  }

  // Stop and helpers

  async #doStop(): Promise<void> {
    this.#passivation.stopSweeping();
    this.#dispatcher.stopTurns(this.#lanes.values());
    // Hand active agents' state to the store, then forget them.
    await this.#passivation.passivateAll(this.#lanes.values());
    while (this.#state.pendingLifecycle > 0) await new Promise((r) => setTimeout(r, 1));
    this.#passivation.forgetAll(this.#lanes.values());
    this.#state.notifyIdle();
  }

  /** The watchdog fired: ends the turns past their budget (see TurnDispatcher.checkDeadlines). */
  #checkDeadlines(t: number): number | null {
    return this.#dispatcher.checkDeadlines(t);
  }

  #lane(tenant: TenantId): TenantLane {
    let lane = this.#lanes.get(tenant);
    if (lane === undefined) {
      lane = new TenantLane(tenant, this.#settings.resolve(tenant), now());
      this.#lanes.set(tenant, lane);
    }
    return lane;
  }
}

function laneOf(d: Delivery): TenantLane {
  return (d.activation as Activation).lane as TenantLane;
}

function parentFromTraceparent(traceparent: string): Context | undefined {
  const m = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/.exec(traceparent);
  if (m === null) return undefined;
  return trace.setSpanContext(otelContext.active(), { traceId: m[1]!, spanId: m[2]!, traceFlags: parseInt(m[3]!, 16), isRemote: true });
}
