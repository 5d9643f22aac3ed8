import { randomBytes } from "node:crypto";
import { trace, type TracerProvider } from "@opentelemetry/api";
import { StorageType, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { connect, type Subscription as NatsSubscription } from "@nats-io/transport-node";
import type { AgentFactory, AgentTypeOptions, SendOptions } from "../agents/agent.js";
import type { AgentId, TopicId } from "../agents/ids.js";
import { checkSubscription } from "../agents/message-arguments.js";
import type { Subscription } from "../agents/subscription.js";
import { managedLayerOf, withoutManagedRate, type ManagedTenantConfig } from "../control/managed-tenant-config.js";
import { CrossTenantError, RuntimeStoppedError } from "../errors.js";
import { Runtime } from "../runtime.js";
import { TenantHandle, type TenantIngress } from "../tenant-handle.js";
import type { AgentStateStore } from "../state/agent-state-store.js";
import type { TenantId } from "@troupe/contract";
import { parseTenantId } from "../tenancy/parse-tenant-id.js";
import { TenantSettingsResolver, parseConfig, tenantConfigSchema, tierConfigSchema, type TenantConfig, type TierConfig } from "../tenancy/tenant-quota.js";
import { RuntimeTracing } from "../tracing/runtime-tracing.js";
import { AckKeepAlive } from "./ack-keep-alive.js";
import { ClusterQuotas } from "./cluster-quotas.js";
import { ClusterSession } from "./cluster-session.js";
import { localRuntimeOptions, parseDistributedOptions, withoutRate, type DistributedRuntimeOptions, type ParsedDistributedOptions } from "./distributed-runtime-options.js";
import { newDistributedCounters, type DistributedStats } from "./distributed-stats.js";
import { InFlightShares } from "./in-flight-shares.js";
import { ensureStream, readPartitions } from "./namespace-stream.js";
import { OutboundCalls } from "./outbound-calls.js";
import { PartitionAttempts } from "./partition-attempts.js";
import { PartitionLeases } from "./partition-leases.js";
import { PartitionServer } from "./partition-server.js";
import { PendingCalls } from "./pending-calls.js";
import { RoutedAgents, routedFactory, type OutboundRouter } from "./routed-agent.js";
import { Subjects, parseNamespace, partitionOf } from "./subjects.js";

export type { DistributedRuntimeOptions, DistributedStats };
export { deleteDistributedNamespace, openLeaseBucket, partitionsIn } from "./namespace-stream.js";

/**
 * The Troupe runtime across processes and machines, over NATS JetStream. Same public API as
 * `Runtime` (`register`, `subscribe`, `tenant(id).send/publish`), chosen by configuration. Guarantees:
 * - placement: an agent (tenant, type, key) lives on one partition (a hash); each partition is held
 *   by one worker at a time (KV leases), so an agent is active in one place and its messages run one
 *   at a time there (the worker's local Runtime keeps mailboxes, quotas and fair scheduling);
 * - subjects carry only hashes (partition, tenant token), never tenant, type or key text; a worker
 *   refuses a message whose tenant does not match its subject's tenant token;
 * - at-least-once: a message is acknowledged only after its turn (and its reply) — a worker that
 *   dies mid-turn has it redelivered to the partition's next holder; handlers see a delivery id
 *   stable across redeliveries (`ctx.deliveryId`) to stay idempotent;
 * - every send settles: with the result, the handler's typed error, or TimeoutError (default
 *   `defaultTimeoutMs`) when no worker answers — a dead or missing worker never hangs a caller;
 * - trace context and tenant travel in message headers (W3C traceparent and baggage): a worker's
 *   spans are children of the caller's send span;
 * - hops are counted across workers (LoopDetectedError past `maxHops`).
 *
 * This class is the public face and the lifecycle; OutboundCalls sends and publishes, PartitionServer
 * runs the messages of the partitions held, ClusterQuotas holds rates and in-flight quotas across
 * the cluster, sharing a ClusterSession.
 */
export class DistributedRuntime implements TenantIngress, OutboundRouter {
  readonly #o: ParsedDistributedOptions;
  readonly #subjects: Subjects;
  readonly workerId: string;
  readonly #callerId = randomBytes(8).toString("hex");
  readonly #scope: Set<TenantId> | null;
  readonly #local: Runtime;
  readonly #tracerProvider: TracerProvider | undefined;
  readonly #globalSubs: Subscription[] = [];
  readonly #tenantSubs = new Map<TenantId, Subscription[]>();
  readonly #handles = new Map<TenantId, TenantHandle>();
  readonly #pending: PendingCalls;
  readonly #session: ClusterSession;
  #ownsConnection = false;
  readonly #stateStore: AgentStateStore | undefined;
  #replySub: NatsSubscription | null = null;
  readonly #counters = newDistributedCounters();
  readonly #settings: TenantSettingsResolver;
  readonly #quotas: ClusterQuotas;
  readonly #keepAlive: AckKeepAlive;
  readonly #outbound: OutboundCalls;
  readonly #server: PartitionServer;
  /** Failures of background work (lease renewal, consumers), for diagnostics. */
  readonly backgroundErrors: unknown[] = [];

  constructor(options: DistributedRuntimeOptions) {
    this.#o = parseDistributedOptions(options);
    this.#subjects = new Subjects(parseNamespace(this.#o.namespace));
    this.#session = new ClusterSession(this.#subjects);
    this.workerId = this.#o.workerId ?? `w-${randomBytes(6).toString("hex")}`;
    this.#scope = this.#o.tenants === undefined ? null : new Set(this.#o.tenants.map((t) => parseTenantId(t)));
    this.#tracerProvider = options.tracerProvider;
    this.#pending = new PendingCalls(this.#o.maxPendingCalls);
    this.#keepAlive = new AckKeepAlive(this.#o.ackWaitMs);
    this.#stateStore = options.runtime?.stateStore;
    // Rates are enforced at ingress across the cluster; the local runtime must not limit them a second time per worker.
    this.#settings = new TenantSettingsResolver(options.runtime?.quotas ?? {});
    this.#local = new Runtime(localRuntimeOptions(options));
    this.#quotas = new ClusterQuotas(this.#settings, this.#session, this.#o.rateLimitLeaseMs);
    this.#outbound = new OutboundCalls({
      session: this.#session,
      options: this.#o,
      counters: this.#counters,
      pending: this.#pending,
      quotas: this.#quotas,
      callerId: this.#callerId,
      globalSubs: this.#globalSubs,
      tenantSubs: this.#tenantSubs,
    });
    this.#server = new PartitionServer({ session: this.#session, options: this.#o, counters: this.#counters, keepAlive: this.#keepAlive, local: this.#local, noteError: (e) => this.#noteError(e) });
  }

  // Configuration (same on every process of the cluster)

  /** Registers an agent type (hosted by this process when it serves). */
  register(type: string, factory: AgentFactory, options?: AgentTypeOptions): void {
    const agents = (): RoutedAgents => this.#session.routed!;
    this.#local.register(type, routedFactory(factory, this, agents, (a) => partitionOf(a.tenant, a.agentId.type, a.agentId.key, this.#session.partitions)), options);
  }

  /** Adds a subscription applied within every tenant; publishers resolve recipients with it. */
  subscribe(subscription: Subscription): void {
    checkSubscription(subscription);
    this.#globalSubs.push(subscription);
  }

  /** Removes a runtime-wide subscription; true when it existed. */
  unsubscribe(id: string): boolean {
    const i = this.#globalSubs.findIndex((s) => s.id === id);
    if (i >= 0) this.#globalSubs.splice(i, 1);
    return i >= 0;
  }

  /** The cluster as seen by one tenant. Refuses tenants outside `tenants` and calls from another tenant's handler. */
  tenant(tenant: string): TenantHandle {
    const id = this.#checkTenant(tenant);
    this.#local.tenant(id); // refuses a handler of another tenant (CrossTenantError)
    let h = this.#handles.get(id);
    if (h === undefined) {
      h = new TenantHandle(this, id);
      this.#handles.set(id, h);
    }
    return h;
  }

  /**
   * Replaces a tenant's quota overrides: its rate limit as this process applies it at ingress, the
   * rest on this worker's local runtime. Every process of the cluster should get the same config.
   */
  setTenantConfig(tenant: TenantId | string, config: TenantConfig): void {
    const id = this.#checkTenant(tenant);
    const valid = parseConfig(tenantConfigSchema, config, `config of tenant "${id}"`);
    this.#local.setTenantConfig(id, withoutRate(valid));
    this.#settings.setTenant(id, valid);
  }

  /**
   * Applies (undefined: removes) a tenant's managed settings, the control plane's values, above
   * code options: its rate at ingress and its in-flight quota across the cluster, the rest on this
   * worker's local runtime. Every tier runs in the cluster's worker processes, so the tier changes
   * no isolation here. Tenants outside `tenants` are ignored (this process never serves them).
   */
  setManagedTenantConfig(tenant: TenantId | string, config: ManagedTenantConfig | undefined): string | undefined {
    const id = parseTenantId(tenant);
    if (this.#scope !== null && !this.#scope.has(id)) return undefined;
    this.#settings.setManaged(id, config === undefined ? undefined : managedLayerOf(id, config, "cluster").layer);
    return this.#local.setManagedTenantConfig(id, config === undefined ? undefined : withoutManagedRate(config), "cluster");
  }

  /** Replaces a tier's quotas (as setTenantConfig does for one tenant). */
  setTierConfig(name: string, config: TierConfig): void {
    const valid = parseConfig(tierConfigSchema, config, `config of tier "${String(name).slice(0, 64)}"`);
    this.#local.setTierConfig(name, withoutRate(valid));
    this.#settings.setTier(name, valid);
  }

  // Lifecycle

  /** Connects, creates the stream and consumers if missing, subscribes to replies and, when serving, joins the cluster. */
  async start(): Promise<void> {
    const s = this.#session;
    if (s.running) return;
    const o = this.#o;
    if ("connection" in o.nats) s.nc = o.nats.connection;
    else {
      const single = this.#scope !== null && this.#scope.size === 1 ? [...this.#scope][0]! : undefined;
      s.nc = await connect({
        servers: o.nats.servers,
        name: `troupe-${this.workerId}`,
        // No stack captured per request (each JetStream publish is one): two Error objects per message saved.
        noAsyncTraces: true,
        ...(o.nats.user === undefined ? {} : { user: o.nats.user, pass: o.nats.pass ?? "" }),
        ...(o.nats.token === undefined ? {} : { token: o.nats.token }),
        ...(single === undefined ? {} : { inboxPrefix: this.#subjects.inboxPrefix(s.token(single)) }),
      });
      this.#ownsConnection = true;
    }
    s.js = jetstream(s.nc);
    if (o.serve) {
      s.jsm = await jetstreamManager(s.nc);
      s.partitions = await ensureStream(s.jsm, this.#subjects, o);
    }
    else s.partitions = o.partitions ?? (await readPartitions(s.nc, this.#subjects));
    s.routed = new RoutedAgents(s.partitions, this.#stateStore);
    s.tracing = RuntimeTracing.create(this.#tracerProvider ?? trace.getTracerProvider());
    const replySubject = this.#scope !== null && this.#scope.size === 1 ? this.#subjects.replies(s.token([...this.#scope][0]!), this.#callerId) : this.#subjects.repliesTo(this.#callerId);
    this.#replySub = s.nc.subscribe(replySubject, { callback: (err, msg) => {
        if (err === null) this.#outbound.onReply(msg);
        else this.#noteError(err);
      },
    });
    await this.#local.start();
    s.running = true;
    if (o.serve) {
      const kvm = new Kvm(s.js);
      s.attempts = new PartitionAttempts(await kvm.create(this.#subjects.attemptsBucket, { history: 1, storage: StorageType.File }));
      s.shares = new InFlightShares({
        kv: await kvm.create(this.#subjects.inFlightBucket, { history: 1, storage: StorageType.File }),
        workerId: this.workerId,
        keyOf: (t) => `t.${s.token(t)}`,
        liveWorkers: () => s.leases?.liveWorkers() ?? [],
        staleAfterMs: o.leaseTtlMs,
        quotaOf: (t) => this.#quotas.inFlightQuotaOf(t),
        runningOf: (t) => this.#local.inFlightTurns(t),
        cap: (t, cap) => {
          try {
            this.#local.capInFlightTurns(t, cap);
          } catch (err) {
            this.#noteError(err);
          }
        },
        onError: (e) => this.#noteError(e),
      });
      await s.shares.start();
      const kv = await kvm.create(this.#subjects.leaseBucket, { ttl: o.leaseTtlMs, history: 1, storage: StorageType.File });
      s.leases = new PartitionLeases({ kv, workerId: this.workerId, partitions: s.partitions, leaseTtlMs: o.leaseTtlMs, owner: this.#server.partitionOwner(), onError: (e) => this.#noteError(e) });
      await s.leases.start();
    }
  }

  /**
   * Leaves the cluster gracefully: hands off held partitions (turns in flight finish and are
   * acknowledged), stops the local runtime, fails waiting calls with RuntimeStoppedError and closes
   * the connection if this runtime opened it. Idempotent.
   */
  async stop(): Promise<void> {
    const s = this.#session;
    if (!s.running) return;
    s.running = false;
    if (s.leases !== null) await s.leases.stop();
    s.leases = null;
    await s.shares?.stop();
    s.shares = null;
    await this.#local.stop();
    this.#keepAlive.stop();
    this.#pending.failAll(new RuntimeStoppedError("the runtime stopped before the reply came"));
    this.#replySub?.unsubscribe();
    this.#replySub = null;
    if (this.#ownsConnection && s.nc !== null) await s.nc.drain().catch(() => undefined);
    s.nc = null;
  }

  /** True while started. */
  get isRunning(): boolean {
    return this.#session.running;
  }

  /** Partitions this worker holds now. */
  ownedPartitions(): number[] {
    return this.#session.leases?.heldPartitions() ?? [];
  }

  /** Live workers of the cluster, as seen at the last lease renewal (empty when not serving). */
  liveWorkers(): string[] {
    return this.#session.leases?.liveWorkers() ?? [];
  }

  /** Counters of this process. */
  stats(): DistributedStats {
    return {
      workerId: this.workerId,
      partitions: this.ownedPartitions(),
      ...this.#counters,
      pendingCalls: this.#pending.size,
      timeouts: this.#pending.timeouts,
      lateReplies: this.#pending.lateReplies,
      rateLimitRefills: this.#quotas.rateLimitRefills,
    };
  }

  /** The local runtime's per-tenant metrics (turns run on this worker). */
  metrics(): ReturnType<Runtime["metrics"]> {
    return this.#local.metrics();
  }

  // Ingress (TenantIngress) and sends from handlers (OutboundRouter)

  ingressSend(tenant: TenantId, to: AgentId, message: unknown, options: SendOptions | undefined): Promise<unknown> {
    return this.#outbound.routeSend(tenant, to, message, options, undefined, 0);
  }

  ingressPublish(tenant: TenantId, topic: TopicId, message: unknown): Promise<void> {
    return this.#outbound.routePublish(tenant, topic, message, undefined, 0);
  }

  tenantSubscribe(tenant: TenantId, subscription: Subscription): void {
    checkSubscription(subscription);
    const subs = this.#tenantSubs.get(tenant) ?? [];
    subs.push(subscription);
    this.#tenantSubs.set(tenant, subs);
  }

  tenantUnsubscribe(tenant: TenantId, id: string): boolean {
    const subs = this.#tenantSubs.get(tenant);
    const i = subs?.findIndex((s) => s.id === id) ?? -1;
    if (i >= 0) subs!.splice(i, 1);
    return i >= 0;
  }

  sendFrom(tenant: TenantId, sender: AgentId, hopCount: number, to: AgentId, message: unknown, options: SendOptions | undefined): Promise<unknown> {
    return this.#outbound.routeSend(tenant, to, message, options, sender, hopCount + 1);
  }

  publishFrom(tenant: TenantId, sender: AgentId, hopCount: number, topic: TopicId, message: unknown): Promise<void> {
    return this.#outbound.routePublish(tenant, topic, message, sender, hopCount + 1);
  }

  // Helpers

  #checkTenant(tenant: string): TenantId {
    const id = parseTenantId(tenant);
    if (this.#scope !== null && !this.#scope.has(id)) {
      throw new CrossTenantError(`this process serves tenants ${[...this.#scope].map((t) => `"${t}"`).join(", ")} only; tenant "${id}" is refused`);
    }
    return id;
  }

  #noteError(err: unknown): void {
    if (this.backgroundErrors.length >= 100) this.backgroundErrors.shift();
    this.backgroundErrors.push(err);
  }
}
