import type { TracerProvider } from "@opentelemetry/api";
import type { NatsConnection } from "@nats-io/transport-node";
import { z } from "zod";
import { InvalidArgumentError } from "../errors.js";
import type { RuntimeOptions } from "../runtime/runtime-options.js";
import type { QuotaConfig } from "../tenancy/tenant-quota.js";

/** The options of a DistributedRuntime, validated at construction; the exported type is derived from it. */
const optionsSchema = z.object({
  /** An open connection (the caller owns and closes it), or where to connect (the runtime owns it). */
  nats: z.union([
    z.object({ connection: z.custom<NatsConnection>((v) => v !== null && typeof v === "object", "an open NatsConnection") }),
    z.object({
      servers: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
      user: z.string().optional(),
      pass: z.string().optional(),
      token: z.string().optional(),
    }),
  ]),
  /** Names the stream, buckets and subjects of the cluster. Default "default". */
  namespace: z.string().default("default"),
  /** This process's id in the cluster (leases, logs). Default: random. */
  workerId: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/, 'workerId must be 1-64 letters, digits, "_" or "-"')
    .optional(),
  /** Host agents (take partitions) — true for workers; false for a process that only sends. Default true. */
  serve: z.boolean().default(true),
  /**
   * Restricts this process to these tenants (others are refused with CrossTenantError). With exactly
   * one tenant and `nats.servers`, the connection uses that tenant's inbox prefix, so it can run under
   * the broker permissions of `tenantPermissions()`.
   */
  tenants: z.array(z.string()).min(1).optional(),
  /**
   * Partition count; fixed for the life of the namespace (checked at start). Default: the namespace's
   * (read from its stream), else 16. A client without JetStream API permissions must set it.
   */
  partitions: z.number().int().min(1).max(4096).optional(),
  /** A dead worker's partitions move after this long. Default 10000. */
  leaseTtlMs: z.number().int().min(300).default(10_000),
  /**
   * A taken message not acknowledged within this long is delivered again (running turns extend it).
   * A dead worker's messages move sooner: the next holder of the partition takes them at once. Default 30000.
   */
  ackWaitMs: z.number().int().min(200).default(30_000),
  /**
   * Deliveries of one message that may go without completing (its worker died, stalled past its
   * lease, or handed it back) before it is given up, counted across changes of the partition's holder:
   * the next delivery terminates it, answers its caller with PoisonMessageError, counts it
   * (`stats().deadLettered`) and announces it on the namespace's dead-letter subject. Default 5.
   */
  maxDeliver: z.number().int().min(1).default(5),
  /** Messages of one partition in flight on its worker at once. Default 256. */
  maxInFlightPerPartition: z.number().int().min(1).max(100_000).default(256),
  /** Messages of one tenant queued in the broker per partition; beyond it sends fail with QueueFullError. Default 100000. */
  maxQueuedPerTenantPartition: z.number().int().min(1).default(100_000),
  /** Timeout of a send that sets none: a missing worker never hangs a caller. Default 30000. */
  defaultTimeoutMs: z.number().positive().max(2_147_483_647).default(30_000),
  /** Calls this process may await at once; beyond it sends fail with QueueFullError. Default 100000. */
  maxPendingCalls: z.number().int().min(1).default(100_000),
  /** Handler-to-handler hops across workers before a message is dropped (LoopDetectedError). Default 32. */
  maxHops: z.number().int().min(1).default(32),
  /** Storage of the message stream. Default "file". */
  storage: z.enum(["file", "memory"]).default("file"),
  /**
   * How long tokens of the cluster-wide rate limit, taken ahead in a batch, stay usable in this
   * process: the bound on the limit's overshoot (see KvRateLimiter). Default 100.
   */
  rateLimitLeaseMs: z.number().positive().max(60_000).default(100),
  /**
   * Options of this worker's local runtime (passivation, state store, watchdog; `dispatchSliceMs`
   * defaults to 10 here and `maxDispatchSliceMs` to 50, so the results of CPU-heavy turns leave in
   * batches, larger under a backlog) and the tenants' quotas. `messagesPerSecond`/`burst` hold across
   * the cluster: they are enforced where a message enters (before it is published, on whichever
   * process sends it) against a token bucket shared in JetStream KV, not per worker.
   * `maxInFlightTurns` also holds across the cluster: each worker runs at most its share of it
   * (InFlightShares: the quota split among the workers that have the tenant's messages, recorded in
   * JetStream KV). Queued messages, turn time and fair scheduling apply on each worker to the turns
   * it runs. Checked by the local Runtime.
   */
  runtime: z.custom<Omit<RuntimeOptions, "tracerProvider">>().optional(),
  /** Where spans go (the local runtime's too). Default: the global provider. */
  tracerProvider: z.custom<TracerProvider>().optional(),
});

/** Options of a DistributedRuntime. Processes of one cluster share `namespace` and `partitions`. */
export type DistributedRuntimeOptions = z.input<typeof optionsSchema>;

/** DistributedRuntimeOptions validated, with their defaults applied. */
export type ParsedDistributedOptions = z.output<typeof optionsSchema>;

/** Validates the options; InvalidArgumentError names the first bad one ("distributed runtime option <path>: <problem>"). */
export function parseDistributedOptions(options: DistributedRuntimeOptions): ParsedDistributedOptions {
  const parsed = optionsSchema.safeParse(options);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new InvalidArgumentError(`distributed runtime option ${issue.path.join(".") || "(root)"}: ${issue.message}`);
  }
  return parsed.data;
}

/** The local runtime's dispatch slice on a distributed worker, unless `runtime.dispatchSliceMs` says otherwise. */
const WORKER_DISPATCH_SLICE_MS = 10;
/** How far a worker's dispatch slice may grow under a backlog, unless `runtime.maxDispatchSliceMs` says otherwise. */
const WORKER_MAX_DISPATCH_SLICE_MS = 50;

/**
 * The options of a worker's local Runtime: the user's `runtime` options with the worker's dispatch
 * slice defaults, its tracer provider, and quotas without message rates (those are enforced across
 * the cluster, at ingress; the local runtime must not limit them a second time per worker).
 */
export function localRuntimeOptions(options: DistributedRuntimeOptions): RuntimeOptions {
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
  return runtimeOptions;
}

/** A quota config without message rates (those are enforced cluster-wide, at ingress). */
function withoutRates(quotas: QuotaConfig): QuotaConfig {
  const out: QuotaConfig = {};
  if (quotas.defaults !== undefined) out.defaults = withoutRate(quotas.defaults);
  if (quotas.tiers !== undefined) out.tiers = Object.fromEntries(Object.entries(quotas.tiers).map(([k, v]) => [k, withoutRate(v)]));
  if (quotas.tenants !== undefined) out.tenants = Object.fromEntries(Object.entries(quotas.tenants).map(([k, v]) => [k, withoutRate(v)]));
  return out;
}

/** A tenant's or tier's quotas without `messagesPerSecond` and `burst` (a non-object is returned as is, for the local runtime to refuse). */
export function withoutRate<T extends { messagesPerSecond?: number; burst?: number }>(config: T): T {
  if (config === null || typeof config !== "object") return config;
  const { messagesPerSecond: _rate, burst: _burst, ...rest } = config;
  return rest as T;
}
