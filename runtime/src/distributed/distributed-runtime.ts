import { randomBytes } from "node:crypto";
import { context as otelContext, trace, type Context, type TracerProvider } from "@opentelemetry/api";
import { AckPolicy, DeliverPolicy, DiscardPolicy, RetentionPolicy, StorageType, jetstream, jetstreamManager, type ConsumerConfig, type JetStreamClient, type JetStreamManager, type JsMsg } from "@nats-io/jetstream";
import { Kvm, type KV } from "@nats-io/kv";
import { connect, headers as natsHeaders, nanos, type Msg, type MsgHdrs, type NatsConnection, type Subscription as NatsSubscription } from "@nats-io/transport-node";
import { z } from "zod";
import type { AgentFactory, AgentTypeOptions, SendOptions } from "../agents/agent.js";
import { AgentId, TopicId } from "../agents/ids.js";
import type { Subscription } from "../agents/subscription.js";
import { managedLayerOf, withoutManagedRate, type ManagedTenantConfig } from "../control/managed-tenant-config.js";
import { CrossTenantError, InvalidArgumentError, LoopDetectedError, PoisonMessageError, QueueFullError, RateLimitedError, RuntimeStoppedError, TroupeError } from "../errors.js";
import { Runtime, type RuntimeOptions } from "../runtime.js";
import { TenantHandle, type TenantIngress } from "../tenant-handle.js";
import type { AgentStateStore } from "../state/agent-state-store.js";
import { parseTenantId, type TenantId } from "../tenancy/tenant-id.js";
import { DEFAULT_TENANT_QUOTA, TenantSettingsResolver, parseConfig, tenantConfigSchema, tierConfigSchema, type QuotaConfig, type TenantConfig, type TierConfig } from "../tenancy/tenant-quota.js";
import { extractContext, injectContext, type Carrier } from "../tracing/propagation.js";
import { RuntimeTracing } from "../tracing/runtime-tracing.js";
import { KvRateLimiter, rateBucketName, type RateLimit } from "./kv-rate-limiter.js";
import { AckKeepAlive } from "./ack-keep-alive.js";
import { InFlightShares } from "./in-flight-shares.js";
import { HEADER, brokerAckSchema, decodeJson, decodeMessageBody, decodeReplyBody, encodeJson, encodeRoute, fromWireError, mentionsError, parseRoute, toWireError, type MessageBody, type ReplyBody, type Route } from "./message-wire.js";
import { PartitionAttempts } from "./partition-attempts.js";
import { PartitionLeases, type PartitionOwner } from "./partition-leases.js";
import { PendingCalls } from "./pending-calls.js";
import { InboundMessage, RoutedAgents, routedFactory, type OutboundRouter } from "./routed-agent.js";
import { ServedPartition } from "./served-partition.js";
import { Subjects, parseNamespace, partitionOf, tenantToken } from "./subjects.js";

const optionsSchema = z.object({
  nats: z.union([
    z.object({ connection: z.custom<NatsConnection>((v) => v !== null && typeof v === "object", "an open NatsConnection") }),
    z.object({
      servers: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
      user: z.string().optional(),
      pass: z.string().optional(),
      token: z.string().optional(),
    }),
  ]),
  namespace: z.string().default("default"),
  workerId: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/, 'workerId must be 1-64 letters, digits, "_" or "-"')
    .optional(),
  serve: z.boolean().default(true),
  tenants: z.array(z.string()).min(1).optional(),
  partitions: z.number().int().min(1).max(4096).optional(),
  leaseTtlMs: z.number().int().min(300).default(10_000),
  ackWaitMs: z.number().int().min(200).default(30_000),
  maxDeliver: z.number().int().min(1).default(5),
  maxInFlightPerPartition: z.number().int().min(1).max(100_000).default(256),
  maxQueuedPerTenantPartition: z.number().int().min(1).default(100_000),
  defaultTimeoutMs: z.number().positive().max(2_147_483_647).default(30_000),
  maxPendingCalls: z.number().int().min(1).default(100_000),
  maxHops: z.number().int().min(1).default(32),
  storage: z.enum(["file", "memory"]).default("file"),
  rateLimitLeaseMs: z.number().positive().max(60_000).default(100),
});

/** Options of a DistributedRuntime. Processes of one cluster share `namespace` and `partitions`. */
export interface DistributedRuntimeOptions {
  /** An open connection (the caller owns and closes it), or where to connect (the runtime owns it). */
  nats: { connection: NatsConnection } | { servers: string | string[]; user?: string; pass?: string; token?: string };
  /** Names the stream, buckets and subjects of the cluster. Default "default". */
  namespace?: string;
  /** This process's id in the cluster (leases, logs). Default: random. */
  workerId?: string;
  /** Host agents (take partitions) — true for workers; false for a process that only sends. Default true. */
  serve?: boolean;
  /**
   * Restricts this process to these tenants (others are refused with CrossTenantError). With exactly
   * one tenant and `nats.servers`, the connection uses that tenant's inbox prefix, so it can run under
   * the broker permissions of `tenantPermissions()`.
   */
  tenants?: string[];
  /**
   * Partition count; fixed for the life of the namespace (checked at start). Default: the namespace's
   * (read from its stream), else 16. A client without JetStream API permissions must set it.
   */
  partitions?: number;
  /** A dead worker's partitions move after this long. Default 10000. */
  leaseTtlMs?: number;
  /**
   * A taken message not acknowledged within this long is delivered again (running turns extend it).
   * A dead worker's messages move sooner: the next holder of the partition takes them at once. Default 30000.
   */
  ackWaitMs?: number;
  /**
   * Deliveries of one message that may go without completing (its worker died, stalled past its
   * lease, or handed it back) before it is given up, counted across changes of the partition's holder:
   * the next delivery terminates it, answers its caller with PoisonMessageError, counts it
   * (`stats().deadLettered`) and announces it on the namespace's dead-letter subject. Default 5.
   */
  maxDeliver?: number;
  /** Messages of one partition in flight on its worker at once. Default 256. */
  maxInFlightPerPartition?: number;
  /** Messages of one tenant queued in the broker per partition; beyond it sends fail with QueueFullError. Default 100000. */
  maxQueuedPerTenantPartition?: number;
  /** Timeout of a send that sets none: a missing worker never hangs a caller. Default 30000. */
  defaultTimeoutMs?: number;
  /** Calls this process may await at once; beyond it sends fail with QueueFullError. Default 100000. */
  maxPendingCalls?: number;
  /** Handler-to-handler hops across workers before a message is dropped (LoopDetectedError). Default 32. */
  maxHops?: number;
  /** Storage of the message stream. Default "file". */
  storage?: "file" | "memory";
  /**
   * How long tokens of the cluster-wide rate limit, taken ahead in a batch, stay usable in this
   * process: the bound on the limit's overshoot (see KvRateLimiter). Default 100.
   */
  rateLimitLeaseMs?: number;
  /**
   * Options of this worker's local runtime (passivation, state store, watchdog; `dispatchSliceMs`
   * defaults to 10 here and `maxDispatchSliceMs` to 50, so the results of CPU-heavy turns leave in
   * batches, larger under a backlog) and the tenants' quotas. `messagesPerSecond`/`burst` hold across
   * the cluster: they are enforced where a message enters (before it is published, on whichever
   * process sends it) against a token bucket shared in JetStream KV, not per worker.
   * `maxInFlightTurns` also holds across the cluster: each worker runs at most its share of it
   * (InFlightShares: the quota split among the workers that have the tenant's messages, recorded in
   * JetStream KV). Queued messages, turn time and fair scheduling apply on each worker to the turns
   * it runs.
   */
  runtime?: Omit<RuntimeOptions, "tracerProvider">;
  /** Where spans go (the local runtime's too). Default: the global provider. */
  tracerProvider?: TracerProvider;
}

/** Counters of one DistributedRuntime (a snapshot). */
export interface DistributedStats {
  workerId: string;
  partitions: number[];
  sent: number;
  published: number;
  handled: number;
  /** Messages whose caller had given up before a worker took them (acknowledged, not run). */
  expired: number;
  /** Messages delivered again by the same partition holding (ack timeout, nak). */
  redelivered: number;
  /** Malformed messages, or messages whose tenant did not match their subject (terminated). */
  rejected: number;
  /** Messages given up after `maxDeliver` deliveries that did not complete (terminated, caller answered with PoisonMessageError). */
  deadLettered: number;
  /**
   * Turns whose result was discarded because this worker may have lost the partition's lease while
   * they ran (it stalled past the lease TTL): neither acknowledged nor answered; the partition's
   * holder runs the message again.
   */
  fenced: number;
  pendingCalls: number;
  timeouts: number;
  lateReplies: number;
  /** Sends refused because too many calls were pending. */
  pendingFull: number;
  /** Sends and publishes refused by the tenant's cluster-wide rate limit (RateLimitedError). */
  rateLimited: number;
  /** KV round trips of the cluster-wide rate limiter (each takes a batch of tokens). */
  rateLimitRefills: number;
}

type Parsed = z.infer<typeof optionsSchema>;

/** The local runtime's dispatch slice on a distributed worker, unless `runtime.dispatchSliceMs` says otherwise. */
const WORKER_DISPATCH_SLICE_MS = 10;
/** How far a worker's dispatch slice may grow under a backlog, unless `runtime.maxDispatchSliceMs` says otherwise. */
const WORKER_MAX_DISPATCH_SLICE_MS = 50;

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
 */
export class DistributedRuntime implements TenantIngress, OutboundRouter {
  private readonly o: Parsed;
  private readonly subjects: Subjects;
  readonly workerId: string;
  private readonly callerId = randomBytes(8).toString("hex");
  private readonly scope: Set<TenantId> | null;
  private readonly local: Runtime;
  private readonly tracerProvider: TracerProvider | undefined;
  private readonly globalSubs: Subscription[] = [];
  private readonly tenantSubs = new Map<TenantId, Subscription[]>();
  private readonly handles = new Map<TenantId, TenantHandle>();
  private readonly tokens = new Map<TenantId, string>();
  private readonly partitionCache = new Map<string, number>();
  private readonly pending: PendingCalls;
  private readonly served = new Map<number, ServedPartition>();
  private nc: NatsConnection | null = null;
  private ownsConnection = false;
  private js: JetStreamClient | null = null;
  private jsm: JetStreamManager | null = null;
  private routed: RoutedAgents | null = null;
  private readonly stateStore: AgentStateStore | undefined;
  private leases: PartitionLeases | null = null;
  private replySub: NatsSubscription | null = null;
  private tracing: RuntimeTracing | null = null;
  private running = false;
  private seq = 0;
  private partitions = 0;
  private readonly counters = { sent: 0, published: 0, handled: 0, expired: 0, redelivered: 0, rejected: 0, deadLettered: 0, fenced: 0, pendingFull: 0, rateLimited: 0 };
  private attempts: PartitionAttempts | null = null;
  private shares: InFlightShares | null = null;
  private readonly quotas = new Map<TenantId, { version: number; maxInFlightTurns: number }>();
  private readonly settings: TenantSettingsResolver;
  private readonly keepAlive: AckKeepAlive;
  private readonly rateLimits = new Map<TenantId, { version: number; limit: RateLimit | null }>();
  private limiter: KvRateLimiter | null = null;
  private limiterOpening: Promise<KvRateLimiter> | null = null;
  /** Failures of background work (lease renewal, consumers), for diagnostics. */
  readonly backgroundErrors: unknown[] = [];

  constructor(options: DistributedRuntimeOptions) {
    const parsed = optionsSchema.safeParse(options);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new InvalidArgumentError(`distributed runtime option ${issue.path.join(".") || "(root)"}: ${issue.message}`);
    }
    this.o = parsed.data;
    this.subjects = new Subjects(parseNamespace(this.o.namespace));
    this.workerId = this.o.workerId ?? `w-${randomBytes(6).toString("hex")}`;
    this.scope = this.o.tenants === undefined ? null : new Set(this.o.tenants.map((t) => parseTenantId(t)));
    this.tracerProvider = options.tracerProvider;
    this.pending = new PendingCalls(this.o.maxPendingCalls);
    this.keepAlive = new AckKeepAlive(this.o.ackWaitMs);
    this.stateStore = options.runtime?.stateStore;
    // Rates are enforced at ingress across the cluster; the local runtime must not limit them a second time per worker.
    this.settings = new TenantSettingsResolver(options.runtime?.quotas ?? {});
    const runtimeOptions: RuntimeOptions = {
      // A worker runs up to 10 ms of handler time before it yields to I/O (the single-process default
      // is 1 ms), and up to 50 ms under a backlog: the acks and replies of those turns leave in one
      // write, and the broker, the callers and the worker itself pay the cost of a wake-up once per
      // batch. With 1 ms turns that is most of their per-message CPU. Override either here.
      // Either default yields to the other when only one is set (a cap of 5 ms means slices of 5 ms).
      dispatchSliceMs: Math.min(WORKER_DISPATCH_SLICE_MS, options.runtime?.maxDispatchSliceMs ?? Number.POSITIVE_INFINITY),
      maxDispatchSliceMs: Math.max(WORKER_MAX_DISPATCH_SLICE_MS, options.runtime?.dispatchSliceMs ?? 0),
      ...(options.runtime ?? {}),
      ...(options.tracerProvider === undefined ? {} : { tracerProvider: options.tracerProvider }),
    };
    if (options.runtime?.quotas !== undefined) runtimeOptions.quotas = withoutRates(options.runtime.quotas);
    this.local = new Runtime(runtimeOptions);
  }

  // ---------------------------------------------------------------------------------------------
  // Configuration (same on every process of the cluster)

  /** Registers an agent type (hosted by this process when it serves). */
  register(type: string, factory: AgentFactory, options?: AgentTypeOptions): void {
    const agents = (): RoutedAgents => this.routed!;
    this.local.register(type, routedFactory(factory, this, agents, (a) => partitionOf(a.tenant, a.agentId.type, a.agentId.key, this.partitions)), options);
  }

  /** Adds a subscription applied within every tenant; publishers resolve recipients with it. */
  subscribe(subscription: Subscription): void {
    checkSubscription(subscription);
    this.globalSubs.push(subscription);
  }

  /** Removes a runtime-wide subscription; true when it existed. */
  unsubscribe(id: string): boolean {
    const i = this.globalSubs.findIndex((s) => s.id === id);
    if (i >= 0) this.globalSubs.splice(i, 1);
    return i >= 0;
  }

  /** The cluster as seen by one tenant. Refuses tenants outside `tenants` and calls from another tenant's handler. */
  tenant(tenant: string): TenantHandle {
    const id = this.checkTenant(tenant);
    this.local.tenant(id); // refuses a handler of another tenant (CrossTenantError)
    let h = this.handles.get(id);
    if (h === undefined) {
      h = new TenantHandle(this, id);
      this.handles.set(id, h);
    }
    return h;
  }

  /**
   * Replaces a tenant's quota overrides: its rate limit as this process applies it at ingress, the
   * rest on this worker's local runtime. Every process of the cluster should get the same config.
   */
  setTenantConfig(tenant: TenantId | string, config: TenantConfig): void {
    const id = this.checkTenant(tenant);
    const valid = parseConfig(tenantConfigSchema, config, `config of tenant "${id}"`);
    this.local.setTenantConfig(id, withoutRate(valid));
    this.settings.setTenant(id, valid);
  }

  /**
   * Applies (undefined: removes) a tenant's managed settings, the control plane's values, above
   * code options: its rate at ingress and its in-flight quota across the cluster, the rest on this
   * worker's local runtime. Every tier runs in the cluster's worker processes, so the tier changes
   * no isolation here. Tenants outside `tenants` are ignored (this process never serves them).
   */
  setManagedTenantConfig(tenant: TenantId | string, config: ManagedTenantConfig | undefined): string | undefined {
    const id = parseTenantId(tenant);
    if (this.scope !== null && !this.scope.has(id)) return undefined;
    this.settings.setManaged(id, config === undefined ? undefined : managedLayerOf(id, config, "cluster").layer);
    return this.local.setManagedTenantConfig(id, config === undefined ? undefined : withoutManagedRate(config), "cluster");
  }

  /** Replaces a tier's quotas (as setTenantConfig does for one tenant). */
  setTierConfig(name: string, config: TierConfig): void {
    const valid = parseConfig(tierConfigSchema, config, `config of tier "${String(name).slice(0, 64)}"`);
    this.local.setTierConfig(name, withoutRate(valid));
    this.settings.setTier(name, valid);
  }

  // ---------------------------------------------------------------------------------------------
  // Lifecycle

  /** Connects, creates the stream and consumers if missing, subscribes to replies and, when serving, joins the cluster. */
  async start(): Promise<void> {
    if (this.running) return;
    const o = this.o;
    if ("connection" in o.nats) this.nc = o.nats.connection;
    else {
      const single = this.scope !== null && this.scope.size === 1 ? [...this.scope][0]! : undefined;
      this.nc = await connect({
        servers: o.nats.servers,
        name: `troupe-${this.workerId}`,
        // No stack captured per request (each JetStream publish is one): two Error objects per message saved.
        noAsyncTraces: true,
        ...(o.nats.user === undefined ? {} : { user: o.nats.user, pass: o.nats.pass ?? "" }),
        ...(o.nats.token === undefined ? {} : { token: o.nats.token }),
        ...(single === undefined ? {} : { inboxPrefix: this.subjects.inboxPrefix(this.token(single)) }),
      });
      this.ownsConnection = true;
    }
    this.js = jetstream(this.nc);
    if (o.serve) {
      this.jsm = await jetstreamManager(this.nc);
      await this.ensureStream(this.jsm);
    }
    else this.partitions = o.partitions ?? (await this.readPartitions());
    this.routed = new RoutedAgents(this.partitions, this.stateStore);
    this.tracing = RuntimeTracing.create(this.tracerProvider ?? trace.getTracerProvider());
    const replySubject = this.scope !== null && this.scope.size === 1 ? this.subjects.replies(this.token([...this.scope][0]!), this.callerId) : this.subjects.repliesTo(this.callerId);
    this.replySub = this.nc.subscribe(replySubject, { callback: (err, msg) => {
        if (err === null) this.onReply(msg);
        else this.noteError(err);
      },
    });
    await this.local.start();
    this.running = true;
    if (o.serve) {
      const kvm = new Kvm(this.js);
      this.attempts = new PartitionAttempts(await kvm.create(this.subjects.attemptsBucket, { history: 1, storage: StorageType.File }));
      this.shares = new InFlightShares({
        kv: await kvm.create(this.subjects.inFlightBucket, { history: 1, storage: StorageType.File }),
        workerId: this.workerId,
        keyOf: (t) => `t.${this.token(t)}`,
        liveWorkers: () => this.leases?.liveWorkers() ?? [],
        staleAfterMs: o.leaseTtlMs,
        quotaOf: (t) => this.inFlightQuotaOf(t),
        runningOf: (t) => this.local.inFlightTurns(t),
        cap: (t, cap) => {
          try {
            this.local.capInFlightTurns(t, cap);
          } catch (err) {
            this.noteError(err);
          }
        },
        onError: (e) => this.noteError(e),
      });
      await this.shares.start();
      const kv = await kvm.create(this.subjects.leaseBucket, { ttl: o.leaseTtlMs, history: 1, storage: StorageType.File });
      this.leases = new PartitionLeases({ kv, workerId: this.workerId, partitions: this.partitions, leaseTtlMs: o.leaseTtlMs, owner: this.partitionOwner(), onError: (e) => this.noteError(e) });
      await this.leases.start();
    }
  }

  /**
   * Leaves the cluster gracefully: hands off held partitions (turns in flight finish and are
   * acknowledged), stops the local runtime, fails waiting calls with RuntimeStoppedError and closes
   * the connection if this runtime opened it. Idempotent.
   */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    if (this.leases !== null) await this.leases.stop();
    this.leases = null;
    await this.shares?.stop();
    this.shares = null;
    await this.local.stop();
    this.keepAlive.stop();
    this.pending.failAll(new RuntimeStoppedError("the runtime stopped before the reply came"));
    this.replySub?.unsubscribe();
    this.replySub = null;
    if (this.ownsConnection && this.nc !== null) await this.nc.drain().catch(() => undefined);
    this.nc = null;
  }

  /** True while started. */
  get isRunning(): boolean {
    return this.running;
  }

  /** Partitions this worker holds now. */
  ownedPartitions(): number[] {
    return this.leases?.heldPartitions() ?? [];
  }

  /** Live workers of the cluster, as seen at the last lease renewal (empty when not serving). */
  liveWorkers(): string[] {
    return this.leases?.liveWorkers() ?? [];
  }

  /** Counters of this process. */
  stats(): DistributedStats {
    return {
      workerId: this.workerId,
      partitions: this.ownedPartitions(),
      ...this.counters,
      pendingCalls: this.pending.size,
      timeouts: this.pending.timeouts,
      lateReplies: this.pending.lateReplies,
      rateLimitRefills: this.limiter?.stats().refills ?? 0,
    };
  }

  /** The local runtime's per-tenant metrics (turns run on this worker). */
  metrics(): ReturnType<Runtime["metrics"]> {
    return this.local.metrics();
  }

  // ---------------------------------------------------------------------------------------------
  // Ingress (TenantIngress) and sends from handlers (OutboundRouter)

  ingressSend(tenant: TenantId, to: AgentId, message: unknown, options: SendOptions | undefined): Promise<unknown> {
    return this.routeSend(tenant, to, message, options, undefined, 0);
  }

  ingressPublish(tenant: TenantId, topic: TopicId, message: unknown): Promise<void> {
    return this.routePublish(tenant, topic, message, undefined, 0);
  }

  tenantSubscribe(tenant: TenantId, subscription: Subscription): void {
    checkSubscription(subscription);
    const subs = this.tenantSubs.get(tenant) ?? [];
    subs.push(subscription);
    this.tenantSubs.set(tenant, subs);
  }

  tenantUnsubscribe(tenant: TenantId, id: string): boolean {
    const subs = this.tenantSubs.get(tenant);
    const i = subs?.findIndex((s) => s.id === id) ?? -1;
    if (i >= 0) subs!.splice(i, 1);
    return i >= 0;
  }

  sendFrom(tenant: TenantId, sender: AgentId, hopCount: number, to: AgentId, message: unknown, options: SendOptions | undefined): Promise<unknown> {
    return this.routeSend(tenant, to, message, options, sender, hopCount + 1);
  }

  publishFrom(tenant: TenantId, sender: AgentId, hopCount: number, topic: TopicId, message: unknown): Promise<void> {
    return this.routePublish(tenant, topic, message, sender, hopCount + 1);
  }

  // ---------------------------------------------------------------------------------------------
  // Send, publish, replies

  private routeSend(tenant: TenantId, to: AgentId, message: unknown, options: SendOptions | undefined, sender: AgentId | undefined, hopCount: number): Promise<unknown> {
    let timeoutMs: number;
    let body: Uint8Array;
    let gate: Promise<void> | undefined;
    try {
      this.checkRunning();
      to = toAgentId(to);
      timeoutMs = checkSendOptions(options, this.o.defaultTimeoutMs);
      if (hopCount > this.o.maxHops) throw new LoopDetectedError(hopCount, this.o.maxHops);
      if (!this.pending.hasRoom()) {
        this.counters.pendingFull++;
        throw new QueueFullError(tenant, this.o.maxPendingCalls);
      }
      body = encodeJson(bodyOf(to, message, sender, undefined), "a message");
      gate = this.rateGate(tenant);
    } catch (err) {
      return Promise.reject(this.noteRefusal("send", tenant, toAgentIdOrNull(to), hopCount, err, otelContext.active()));
    }
    if (gate === undefined) return this.dispatchSend(tenant, to, body, timeoutMs, options, hopCount, otelContext.active());
    const parent = otelContext.active();
    const target = to;
    return gate.then(
      () => {
        // The runtime may have stopped, or the pending calls filled up, while the tokens came.
        this.checkRunning();
        if (!this.pending.hasRoom()) {
          this.counters.pendingFull++;
          throw new QueueFullError(tenant, this.o.maxPendingCalls);
        }
        return this.dispatchSend(tenant, target, body, timeoutMs, options, hopCount, parent);
      },
      (err: unknown) => {
        throw this.noteRefusal("send", tenant, target, hopCount, err, parent);
      },
    );
  }

  /**
   * Publishes an admitted call and awaits its reply (traced as the caller's send span). The message
   * goes straight onto the stream's subject with the call's own acknowledgement subject: the broker's
   * answer (stored, or refused: queue full, no stream) comes back on the caller's reply subscription
   * (`onReply`), with no request, timer or promise of the client library's per message.
   */
  private dispatchSend(tenant: TenantId, to: AgentId, body: Uint8Array, timeoutMs: number, options: SendOptions | undefined, hopCount: number, parent: Context): Promise<unknown> {
    const tok = this.token(tenant);
    const callId = (this.seq++).toString(36);
    const replyTo = this.subjects.callReply(tok, this.callerId, callId);
    const t = this.tracing?.startSend(tenant, to, hopCount, parent) ?? null;
    const carrier: Carrier = {};
    injectContext(t?.parent ?? parent, tenant, carrier);
    const h = headersOf(carrier, tenant, { hop: hopCount, deadline: Date.now() + timeoutMs, replyTo });
    const result = this.pending.add(callId, tenant, tok, timeoutMs, options?.signal, () => `agent ${to.toString()}`);
    this.counters.sent++;
    try {
      this.nc!.publish(this.subjects.message(this.partitionFor(tenant, to), tok), body, { headers: h, reply: `${replyTo}.a` });
    } catch (err) {
      this.pending.fail(callId, this.publishError(err, tenant));
    }
    if (t === null) return result;
    return result.then(
      (v) => {
        this.tracing!.endSend(t, "ok");
        return v;
      },
      (err: unknown) => {
        this.tracing!.endSend(t, outcomeOf(err), err);
        throw err;
      },
    );
  }

  private async routePublish(tenant: TenantId, topic: TopicId, message: unknown, sender: AgentId | undefined, hopCount: number): Promise<void> {
    this.checkRunning();
    topic = toTopicId(topic);
    if (hopCount > this.o.maxHops) throw new LoopDetectedError(hopCount, this.o.maxHops);
    const parent = otelContext.active();
    try {
      // One token per publish, whatever the number of recipients (as in the single-process runtime).
      const gate = this.rateGate(tenant);
      if (gate !== undefined) await gate;
    } catch (err) {
      throw this.noteRefusal("publish", tenant, topic, hopCount, err, parent);
    }
    this.checkRunning();
    const recipients = this.recipients(tenant, topic);
    const span = this.tracing?.startPublish(tenant, topic, hopCount, parent) ?? null;
    const carrier: Carrier = {};
    injectContext(span?.ctx ?? parent, tenant, carrier);
    const tok = this.token(tenant);
    try {
      await Promise.all(
        recipients.map((to) => {
          const body = encodeJson(bodyOf(to, message, sender, topic), "a message");
          this.counters.published++;
          return this.js!.publish(this.subjects.message(this.partitionFor(tenant, to), tok), body, { headers: headersOf(carrier, tenant, { hop: hopCount, deadline: undefined, replyTo: undefined }) }).catch((err: unknown) => {
            throw this.publishError(err, tenant);
          });
        }),
      );
      if (span !== null) this.tracing!.endPublish(span.span, "ok");
    } catch (err) {
      if (span !== null) this.tracing!.endPublish(span.span, outcomeOf(err), err);
      throw err;
    }
  }

  private recipients(tenant: TenantId, topic: TopicId): AgentId[] {
    const out: AgentId[] = [];
    for (const s of [...this.globalSubs, ...(this.tenantSubs.get(tenant) ?? [])]) {
      if (!s.matches(topic)) continue;
      const id = s.mapToAgent(topic);
      if (!out.some((o) => o.equals(id))) out.push(id);
    }
    return out;
  }

  private onReply(msg: Msg): void {
    const where = this.subjects.parseReply(msg.subject);
    if (where === null) return;
    const { tenantTok: tok, call: callId } = where;
    if (where.brokerAck) {
      this.onBrokerAck(callId, tok, msg);
      return;
    }
    const reply = decodeReplyBody(msg.data);
    if (reply === null) {
      if (this.pending.tenantOf(callId, tok) !== undefined) this.pending.fail(callId, new TroupeError("BAD_REPLY", "a worker sent a reply that could not be read"));
      return;
    }
    if (reply.ok) this.pending.reply(callId, tok, reply.v, undefined);
    else this.pending.reply(callId, tok, undefined, fromWireError(reply.e));
  }

  /**
   * The broker's answer to a call's message: `{"stream":…,"seq":…}` when stored, `{"error":…}` when
   * refused (a tenant's queue is full), or a 503 status when no stream takes the subject. A refusal
   * fails the call at once; a stored message is noted, so a timeout can say whether it got that far.
   */
  private onBrokerAck(callId: string, tok: string, msg: Msg): void {
    const refused = msg.data.length === 0 ? msg.headers?.code === 503 : mentionsError(msg.data);
    if (!refused) {
      this.pending.stored(callId, tok);
      return;
    }
    const tenant = this.pending.tenantOf(callId, tok);
    if (tenant === undefined) return;
    if (msg.data.length === 0) {
      this.pending.fail(callId, new TroupeError("BROKER_UNAVAILABLE", `no stream takes the messages of namespace "${this.subjects.namespace}" (${this.subjects.streamName}): start a worker of the namespace first`));
      return;
    }
    const ack = decodeJson(msg.data, brokerAckSchema);
    const description = ack?.error?.description ?? "an unreadable answer";
    this.pending.fail(callId, this.publishError(new Error(description), tenant as TenantId));
  }

  /**
   * Undefined when the tenant has no rate limit or a token is held here; else a promise of the
   * tenant's turn in the cluster-wide token bucket (RateLimitedError when it is empty).
   */
  private rateGate(tenant: TenantId): Promise<void> | undefined {
    let cached = this.rateLimits.get(tenant);
    if (cached === undefined || cached.version !== this.settings.version) {
      const s = this.settings.resolve(tenant);
      cached = { version: this.settings.version, limit: Number.isFinite(s.messagesPerSecond) ? { messagesPerSecond: s.messagesPerSecond, burst: Number.isFinite(s.burst) ? Math.max(1, s.burst) : Math.max(1, s.messagesPerSecond) } : null };
      if (this.rateLimits.size >= 100_000) this.rateLimits.clear();
      this.rateLimits.set(tenant, cached);
    }
    const limit = cached.limit;
    if (limit === null) return undefined;
    if (this.limiter !== null) return this.limiter.take(tenant, limit);
    return this.openLimiter().then((l) => l.take(tenant, limit));
  }

  private openLimiter(): Promise<KvRateLimiter> {
    this.limiterOpening ??= KvRateLimiter.open(this.nc!, this.subjects.namespace, { leaseMs: this.o.rateLimitLeaseMs }).then(
      (l) => (this.limiter = l),
      (err: unknown) => {
        this.limiterOpening = null;
        throw new TroupeError("BROKER_UNAVAILABLE", `the rate limit bucket ${rateBucketName(this.subjects.namespace)} could not be opened: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      },
    );
    return this.limiterOpening;
  }

  /** A tenant's `maxInFlightTurns` as configured (the quota the workers share). */
  private inFlightQuotaOf(tenant: TenantId): number {
    let cached = this.quotas.get(tenant);
    if (cached === undefined || cached.version !== this.settings.version) {
      let maxInFlightTurns: number;
      try {
        maxInFlightTurns = this.settings.resolve(tenant).maxInFlightTurns;
      } catch {
        // A tenant assigned to a missing tier: its turns are refused by the local runtime anyway.
        maxInFlightTurns = DEFAULT_TENANT_QUOTA.maxInFlightTurns;
      }
      cached = { version: this.settings.version, maxInFlightTurns };
      if (this.quotas.size >= 100_000) this.quotas.clear();
      this.quotas.set(tenant, cached);
    }
    return cached.maxInFlightTurns;
  }

  /** Counts a refused send or publish, and traces a rate-limited one (it never reached the broker). */
  private noteRefusal(kind: "send" | "publish", tenant: TenantId, target: AgentId | TopicId | null, hopCount: number, err: unknown, parent: Context): unknown {
    if (err instanceof RateLimitedError) {
      this.counters.rateLimited++;
      if (target !== null) this.tracing?.rejected(kind, tenant, target.type, target instanceof AgentId ? target.key : undefined, hopCount, "rate_limited", err, parent);
    }
    return err;
  }

  private publishError(err: unknown, tenant: TenantId): TroupeError {
    if (err instanceof TroupeError) return err;
    const text = err instanceof Error ? err.message : String(err);
    if (/maximum messages per subject|maximum messages exceeded/i.test(text)) return new QueueFullError(tenant, this.o.maxQueuedPerTenantPartition);
    return new TroupeError("BROKER_UNAVAILABLE", `the broker did not accept the message: ${text}`, { cause: err });
  }

  // ---------------------------------------------------------------------------------------------
  // Serving partitions

  private partitionOwner(): PartitionOwner {
    return {
      acquired: (p, fencingToken) => {
        const served = new ServedPartition(p, fencingToken, (s, m) => this.onMessage(s, m), (e) => this.noteError(e));
        this.served.set(p, served);
        void served.start(this.js!, this.jsm!, this.subjects.streamName, this.consumerConfig(p), this.o.maxInFlightPerPartition, this.attempts!);
      },
      release: async (p) => {
        const served = this.served.get(p);
        if (served === undefined) return;
        served.stop();
        await served.drain(this.o.ackWaitMs);
        // Handed back cleanly: the next holder must not count what this one had only buffered.
        if (this.leases?.holds(p, served.fencingToken) === true) await served.retire(this.jsm!, this.subjects.streamName, `p${p}`);
        this.served.delete(p);
        await this.routed?.handedOff(p, true).catch((e: unknown) => this.noteError(e));
      },
      lost: (p) => {
        this.served.get(p)?.stop();
        this.served.delete(p);
        void this.routed?.handedOff(p, false);
      },
    };
  }

  private onMessage(served: ServedPartition, m: JsMsg): void {
    const done = (): void => served.settled();
    const parsed = this.parseInbound(m);
    if (parsed === null) {
      this.counters.rejected++;
      m.term("malformed or mismatched message");
      done();
      return;
    }
    const { tenant, body, hop, replyTo, deadline, carrier } = parsed;
    if (m.info.deliveryCount > 1) this.counters.redelivered++;
    const attempts = served.priorAttempts(m.seq) + m.info.deliveryCount;
    if (attempts > this.o.maxDeliver) {
      this.deadLetter(served, m, tenant, replyTo, body, attempts - 1);
      done();
      return;
    }
    const remainingMs = deadline === undefined ? undefined : deadline - Date.now();
    if (remainingMs !== undefined && remainingMs <= 0) {
      this.counters.expired++;
      if (this.fenceCheck(served)) m.ack();
      done();
      return;
    }
    let to: AgentId;
    let inbound: InboundMessage;
    try {
      to = new AgentId(body.t, body.k);
      const sender = body.s === undefined ? undefined : new AgentId(body.s.t, body.s.k);
      const topic = body.p === undefined ? undefined : new TopicId(body.p.t, body.p.s);
      inbound = new InboundMessage(body.m, `${this.subjects.streamName}:${m.seq}`, hop, replyTo !== undefined, sender, topic, served.fencingToken);
    } catch (err) {
      this.finish(served, m, replyTo, { ok: false, e: toWireError(err) }, done);
      return;
    }
    // Lengthen the ack deadline while the turn runs, so only a dead worker's messages are redelivered.
    this.keepAlive.track(m);
    const ctx = extractContext(carrier).context;
    const options = remainingMs === undefined ? undefined : { timeoutMs: remainingMs };
    const run = (): Promise<unknown> => this.local.tenant(tenant).send(to, inbound, options);
    // Counted as this worker's demand for a share of the tenant's cluster-wide in-flight quota.
    this.shares?.taken(tenant);
    otelContext.with(ctx, run).then(
      (v) => {
        this.shares?.settled(tenant);
        this.keepAlive.untrack(m);
        this.counters.handled++;
        this.finish(served, m, replyTo, { ok: true, v }, done);
      },
      (err: unknown) => {
        this.shares?.settled(tenant);
        this.keepAlive.untrack(m);
        if (err instanceof RuntimeStoppedError || !this.running) {
          // This worker is leaving: the next holder runs it.
          m.nak();
          done();
          return;
        }
        this.counters.handled++;
        this.finish(served, m, replyTo, { ok: false, e: toWireError(err) }, done);
      },
    );
  }

  /**
   * Replies (for a call), then acknowledges: a crash between the two redelivers, never loses. Only
   * while this worker still holds the partition under the lease it took the message with: a worker
   * that stalled past its lease discards the result (the new holder runs the message again).
   */
  private finish(served: ServedPartition, m: JsMsg, replyTo: string | undefined, reply: ReplyBody, done: () => void): void {
    if (!this.fenceCheck(served)) {
      done();
      return;
    }
    try {
      if (replyTo !== undefined && this.nc !== null) {
        let data: Uint8Array;
        try {
          data = encodeJson(reply, "a handler's result");
        } catch (err) {
          data = encodeJson({ ok: false, e: toWireError(err) }, "an error");
        }
        this.nc.publish(replyTo, data);
      }
      m.ack();
    } catch (err) {
      this.noteError(err);
    } finally {
      done();
    }
  }

  /** True while this worker holds `served`'s partition under its lease; else counts a fenced turn and gives up stale holdings at once. */
  private fenceCheck(served: ServedPartition): boolean {
    if (this.leases?.holds(served.partition, served.fencingToken) === true) return true;
    this.counters.fenced++;
    this.leases?.fenceExpired();
    return false;
  }

  /**
   * Gives up a message that has been delivered `attempts` times without completing: terminated (the
   * broker never delivers it again), its caller answered with PoisonMessageError, announced on the
   * dead-letter subject with its original headers and body, and counted.
   */
  private deadLetter(served: ServedPartition, m: JsMsg, tenant: TenantId, replyTo: string | undefined, body: MessageBody, attempts: number): void {
    if (!this.fenceCheck(served)) return;
    this.counters.deadLettered++;
    try {
      const h = natsHeaders();
      for (const [k, v] of m.headers ?? []) for (const one of v) h.append(k, one);
      h.set(HEADER.attempts, String(attempts));
      h.set(HEADER.sequence, String(m.seq));
      this.nc?.publish(this.subjects.deadLetter(served.partition, this.token(tenant)), m.data, { headers: h });
      if (replyTo !== undefined && this.nc !== null) {
        this.nc.publish(replyTo, encodeJson({ ok: false, e: toWireError(new PoisonMessageError(`${body.t}/${body.k}`, attempts)) }, "an error"));
      }
    } catch (err) {
      this.noteError(err);
    }
    m.term(`given up after ${attempts} deliveries`);
  }

  private parseInbound(m: JsMsg): {
    tenant: TenantId;
    body: MessageBody;
    hop: number;
    replyTo: string | undefined;
    deadline: number | undefined;
    carrier: Carrier;
  } | null {
    const where = this.subjects.parseMessage(m.subject);
    const h = m.headers;
    if (where === null || h === undefined) return null;
    // One pass over the headers (the first value of each name counts).
    let tenantRaw: string | undefined;
    let routeRaw: string | undefined;
    const carrier: Carrier = {};
    for (const [name, values] of h) {
      const v = values[0];
      if (v === undefined) continue;
      if (name === HEADER.tenant) tenantRaw ??= v;
      else if (name === HEADER.route) routeRaw ??= v;
      else if ((name === "traceparent" || name === "tracestate" || name === "baggage") && carrier[name] === undefined) carrier[name] = v;
    }
    let tenant: TenantId;
    try {
      tenant = parseTenantId(tenantRaw);
    } catch {
      return null;
    }
    // The subject's tenant token must be this tenant's: a client allowed only its own subjects cannot speak for another tenant.
    if (this.token(tenant) !== where.tenantTok) return null;
    const route = routeRaw === undefined ? null : parseRoute(routeRaw);
    if (route === null) return null;
    const { hop, replyTo, deadline } = route;
    if (replyTo !== undefined && !this.isCallReply(replyTo, where.tenantTok)) return null;
    const body = decodeMessageBody(m.data);
    if (body === null) return null;
    return { tenant, body, hop, replyTo, deadline, carrier };
  }

  /** True when `subject` is the reply subject of one call of the tenant with token `tenantTok` (a worker answers nowhere else). */
  private isCallReply(subject: string, tenantTok: string): boolean {
    const r = this.subjects.parseReply(subject);
    return r !== null && !r.brokerAck && r.tenantTok === tenantTok && !/[*>\s]/.test(subject);
  }

  /** The partition count recorded in the namespace's stream. */
  private async readPartitions(): Promise<number> {
    const info = await (await jetstreamManager(this.nc!)).streams.info(this.subjects.streamName).catch((err: unknown) => {
      throw new InvalidArgumentError(`cannot read the partition count of namespace "${this.subjects.namespace}" (start a worker first, or set partitions): ${String(err)}`);
    });
    const n = partitionsIn(info.config.description);
    if (n === undefined) throw new InvalidArgumentError(`stream ${this.subjects.streamName} is not a Troupe namespace stream`);
    return n;
  }

  private consumerConfig(p: number): Partial<ConsumerConfig> & { durable_name: string } {
    return {
      durable_name: `p${p}`,
      filter_subject: this.subjects.partition(p),
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: nanos(this.o.ackWaitMs),
      max_ack_pending: this.o.maxInFlightPerPartition,
      // One more than the limit: the delivery past it is the one that terminates the message and
      // answers its caller (the broker alone would stop delivering and leave the caller to time out).
      max_deliver: this.o.maxDeliver + 1,
    };
  }

  private async ensureStream(jsm: JetStreamManager): Promise<void> {
    const s = this.subjects;
    let info;
    try {
      info = await jsm.streams.info(s.streamName);
    } catch {
      info = null;
    }
    this.partitions = this.o.partitions ?? partitionsIn(info?.config.description) ?? 16;
    const description = `troupe namespace ${s.namespace}; partitions=${this.partitions}`;
    if (info === null) {
      try {
        await jsm.streams.add({
          name: s.streamName,
          description,
          subjects: [s.allMessages],
          retention: RetentionPolicy.Workqueue,
          storage: this.o.storage === "memory" ? StorageType.Memory : StorageType.File,
          max_msgs_per_subject: this.o.maxQueuedPerTenantPartition,
          discard: DiscardPolicy.New,
          discard_new_per_subject: true,
          duplicate_window: nanos(120_000),
        });
      } catch (err) {
        // Another worker created it at the same time: fine when it matches (checked below).
        info = await jsm.streams.info(s.streamName).catch(() => {
          throw err;
        });
      }
    }
    if (info !== null && info.config.description !== description) {
      throw new InvalidArgumentError(`namespace "${s.namespace}" runs with a different partition count (stream says: ${info.config.description ?? "nothing"}); every process must use the same partitions`);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Helpers

  private checkRunning(): void {
    if (!this.running) throw new RuntimeStoppedError("the distributed runtime is not started; call start() first");
  }

  private checkTenant(tenant: string): TenantId {
    const id = parseTenantId(tenant);
    if (this.scope !== null && !this.scope.has(id)) {
      throw new CrossTenantError(`this process serves tenants ${[...this.scope].map((t) => `"${t}"`).join(", ")} only; tenant "${id}" is refused`);
    }
    return id;
  }

  /** The partition of an agent (`partitionOf`, a SHA-256 per call, remembered for the agents seen lately). */
  private partitionFor(tenant: TenantId, to: AgentId): number {
    const key = `${tenant}\u0000${to.type}\u0000${to.key}`;
    let p = this.partitionCache.get(key);
    if (p === undefined) {
      p = partitionOf(tenant, to.type, to.key, this.partitions);
      if (this.partitionCache.size >= 100_000) this.partitionCache.clear();
      this.partitionCache.set(key, p);
    }
    return p;
  }

  private token(tenant: TenantId): string {
    let t = this.tokens.get(tenant);
    if (t === undefined) {
      t = tenantToken(this.subjects.namespace, tenant);
      if (this.tokens.size >= 100_000) this.tokens.clear();
      this.tokens.set(tenant, t);
    }
    return t;
  }

  private noteError(err: unknown): void {
    if (this.backgroundErrors.length >= 100) this.backgroundErrors.shift();
    this.backgroundErrors.push(err);
  }
}

/** Deletes a namespace's stream and KV buckets (leases, attempts, in-flight shares, budgets, rates) (tests and teardown); missing ones are ignored. */
export async function deleteDistributedNamespace(nc: NatsConnection, namespace: string): Promise<void> {
  const s = new Subjects(parseNamespace(namespace));
  const jsm = await jetstreamManager(nc);
  await jsm.streams.delete(s.streamName).catch(() => false);
  await jsm.streams.delete(`KV_${s.leaseBucket}`).catch(() => false);
  await jsm.streams.delete(`KV_troupe_${s.namespace}_budgets`).catch(() => false);
  await jsm.streams.delete(`KV_${rateBucketName(s.namespace)}`).catch(() => false);
  await jsm.streams.delete(`KV_${s.attemptsBucket}`).catch(() => false);
  await jsm.streams.delete(`KV_${s.inFlightBucket}`).catch(() => false);
}

/** The lease bucket of a namespace, for tools that inspect placement (`readLeases`). */
export async function openLeaseBucket(nc: NatsConnection, namespace: string): Promise<KV> {
  const s = new Subjects(parseNamespace(namespace));
  return new Kvm(jetstream(nc)).open(s.leaseBucket);
}

/** The partition count a namespace's stream records in its description. */
export function partitionsIn(description: string | undefined): number | undefined {
  const m = /; partitions=(\d+)$/.exec(description ?? "");
  return m === null ? undefined : Number(m[1]);
}

function bodyOf(to: AgentId, message: unknown, sender: AgentId | undefined, topic: TopicId | undefined): MessageBody {
  const body: MessageBody = { t: to.type, k: to.key, m: message };
  if (sender !== undefined) body.s = { t: sender.type, k: sender.key };
  if (topic !== undefined) body.p = { t: topic.type, s: topic.source };
  return body;
}

function headersOf(carrier: Carrier, tenant: TenantId, route: Route): MsgHdrs {
  const h = natsHeaders();
  for (const k in carrier) h.append(k, carrier[k]!);
  h.append(HEADER.tenant, tenant);
  h.append(HEADER.route, encodeRoute(route));
  return h;
}

function outcomeOf(err: unknown): "timeout" | "quota_rejected" | "rate_limited" | "loop_dropped" | "dropped" | "error" {
  const code = err instanceof TroupeError ? err.code : "";
  if (code === "TIMEOUT") return "timeout";
  if (code === "QUEUE_FULL") return "quota_rejected";
  if (code === "RATE_LIMITED") return "rate_limited";
  if (code === "LOOP_DETECTED") return "loop_dropped";
  if (code === "ABORTED" || code === "RUNTIME_STOPPED" || code === "MESSAGE_DROPPED") return "dropped";
  return "error";
}

function checkSendOptions(options: SendOptions | undefined, defaultTimeoutMs: number): number {
  if (options === undefined) return defaultTimeoutMs;
  if (options === null || typeof options !== "object") throw new InvalidArgumentError("send options must be an object");
  const { timeoutMs, signal } = options;
  if (timeoutMs !== undefined && (typeof timeoutMs !== "number" || !(timeoutMs > 0) || timeoutMs > 2_147_483_647)) {
    throw new InvalidArgumentError(`timeoutMs must be a positive number of milliseconds; got ${String(timeoutMs)}`);
  }
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw new InvalidArgumentError("signal must be an AbortSignal");
  return timeoutMs ?? defaultTimeoutMs;
}

function toAgentIdOrNull(v: unknown): AgentId | null {
  return v instanceof AgentId ? v : null;
}

/** A quota config without message rates (those are enforced cluster-wide, at ingress). */
function withoutRates(quotas: QuotaConfig): QuotaConfig {
  const out: QuotaConfig = {};
  if (quotas.defaults !== undefined) out.defaults = withoutRate(quotas.defaults);
  if (quotas.tiers !== undefined) out.tiers = Object.fromEntries(Object.entries(quotas.tiers).map(([k, v]) => [k, withoutRate(v)]));
  if (quotas.tenants !== undefined) out.tenants = Object.fromEntries(Object.entries(quotas.tenants).map(([k, v]) => [k, withoutRate(v)]));
  return out;
}

function withoutRate<T extends { messagesPerSecond?: number; burst?: number }>(config: T): T {
  if (config === null || typeof config !== "object") return config;
  const { messagesPerSecond: _rate, burst: _burst, ...rest } = config;
  return rest as T;
}

function toAgentId(v: unknown): AgentId {
  if (v instanceof AgentId) return v;
  const o = v as { type?: unknown; key?: unknown } | null;
  if (o === null || typeof o !== "object" || typeof o.type !== "string" || typeof o.key !== "string") {
    throw new InvalidArgumentError("send target must be an AgentId (or { type, key })");
  }
  return new AgentId(o.type, o.key);
}

function toTopicId(v: unknown): TopicId {
  if (v instanceof TopicId) return v;
  const o = v as { type?: unknown; source?: unknown } | null;
  if (o === null || typeof o !== "object" || typeof o.type !== "string" || typeof o.source !== "string") {
    throw new InvalidArgumentError("publish target must be a TopicId (or { type, source })");
  }
  return new TopicId(o.type, o.source);
}

function checkSubscription(s: Subscription): void {
  if (s === null || typeof s !== "object" || typeof s.matches !== "function" || typeof s.mapToAgent !== "function" || typeof s.id !== "string") {
    throw new InvalidArgumentError("a subscription needs an id, matches(topic) and mapToAgent(topic); use typeSubscription() or prefixSubscription()");
  }
}

