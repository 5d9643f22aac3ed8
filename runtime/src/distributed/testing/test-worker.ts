// A worker process for the distributed tests and benchmark: a DistributedRuntime hosting a few
// test agent types, driven over IPC. Started with child_process.fork and the configuration as JSON
// in argv[2]. Not part of the library API.
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { NodeTracerProvider } from "@opentelemetry/sdk-trace-node";
import { connect } from "@nats-io/transport-node";
import { AgentId } from "../../agents/ids.js";
import { typeSubscription } from "../../agents/subscription.js";
import { DistributedRuntime, type DistributedRuntimeOptions } from "../distributed-runtime.js";
import { KvBudgetLedger } from "../kv-budget-ledger.js";
import { cpuWork } from "./cpu-work.js";
import type { QuotaConfig } from "../../tenancy/tenant-quota.js";

/** Configuration of a test worker (argv[2], JSON). */
export interface TestWorkerConfig {
  servers: string;
  namespace: string;
  workerId: string;
  partitions: number;
  leaseTtlMs: number;
  ackWaitMs: number;
  trace?: boolean;
  storage?: "file" | "memory";
  maxInFlightPerPartition?: number;
  /** Tenant quotas (e.g. a cluster-wide `messagesPerSecond`). */
  quotas?: QuotaConfig;
  rateLimitLeaseMs?: number;
  maxDeliver?: number;
  /**
   * The NATS subject of the running-turns counter that `counted` turns report to (served by the
   * test harness, one per cluster). Only `counted` turns need it.
   */
  runningTurnsSubject?: string;
}

/** Messages a test worker sends to its parent. */
export type TestWorkerEvent =
  | { event: "ready"; workerId: string; partitions: number[] }
  | { event: "turn-started"; workerId: string; agentKey: string; deliveryId: string; fencingToken: number | undefined }
  | { event: "reply"; id: number; value: unknown };

const config = JSON.parse(process.argv[2] ?? "{}") as TestWorkerConfig;
const exporter = new InMemorySpanExporter();
let tracerProvider: NodeTracerProvider | undefined;
if (config.trace === true) {
  // register(): the async context manager, so a handler's spans and sends after an await keep their parent.
  tracerProvider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  tracerProvider.register();
}

const options: DistributedRuntimeOptions = {
  nats: { servers: config.servers },
  namespace: config.namespace,
  workerId: config.workerId,
  partitions: config.partitions,
  leaseTtlMs: config.leaseTtlMs,
  ackWaitMs: config.ackWaitMs,
  storage: config.storage ?? "file",
  ...(config.maxInFlightPerPartition === undefined ? {} : { maxInFlightPerPartition: config.maxInFlightPerPartition }),
  ...(tracerProvider === undefined ? {} : { tracerProvider }),
  ...(config.rateLimitLeaseMs === undefined ? {} : { rateLimitLeaseMs: config.rateLimitLeaseMs }),
  ...(config.maxDeliver === undefined ? {} : { maxDeliver: config.maxDeliver }),
  runtime: { asyncTenantGuard: false, quotas: { ...config.quotas, defaults: { maxInFlightTurns: 100_000, maxQueuedMessages: 1_000_000, ...config.quotas?.defaults } } },
};
const rt = new DistributedRuntime(options);
const budgetConn = await connect({ servers: config.servers });
const ledger = await KvBudgetLedger.open(budgetConn, config.namespace);
const me = config.workerId;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const seen = new Map<string, number>();

rt.register("echo", () => ({
  onMessage: (m, ctx) => ({ worker: me, deliveryId: ctx.deliveryId, message: m, hopCount: ctx.hopCount, sender: ctx.sender?.toString() ?? null, topic: ctx.topic?.toString() ?? null }),
}));
rt.register("noop", () => ({ onMessage: () => 1 }));
// A turn with a fixed CPU cost (the benchmark's stand-in for an agent's own work): `iterations` rounds of cpuWork.
rt.register("burn", () => ({
  onMessage(m) {
    const iterations = (m as { iterations?: unknown }).iterations;
    if (typeof iterations !== "number" || !(iterations >= 0)) throw new TypeError("burn needs { iterations: number }");
    cpuWork(iterations);
    return 1;
  },
}));
// Records its turns' times, to check that one agent never runs two turns at once.
rt.register("probe", () => ({
  async onMessage(m, ctx) {
    const start = Date.now();
    await sleep(Number((m as { delayMs?: number }).delayMs ?? 5));
    return { worker: me, key: ctx.agentId.key, start, end: Date.now() };
  },
}));
// Tells the parent when a turn starts, then takes a while: the parent kills the worker mid-turn.
rt.register("slow", () => ({
  async onMessage(m, ctx) {
    seen.set(ctx.deliveryId, (seen.get(ctx.deliveryId) ?? 0) + 1);
    process.send?.({ event: "turn-started", workerId: me, agentKey: ctx.agentId.key, deliveryId: ctx.deliveryId, fencingToken: ctx.fencingToken } satisfies TestWorkerEvent);
    await sleep(Number((m as { delayMs?: number }).delayMs ?? 2000));
    return { worker: me, deliveryId: ctx.deliveryId, timesSeenHere: seen.get(ctx.deliveryId), fencingToken: ctx.fencingToken };
  },
}));
// A poison message: every worker that runs it dies (SIGKILL, as a native crash or an OOM kill would).
rt.register("poison", () => ({
  async onMessage(_m, ctx) {
    process.send?.({ event: "turn-started", workerId: me, agentKey: ctx.agentId.key, deliveryId: ctx.deliveryId, fencingToken: ctx.fencingToken } satisfies TestWorkerEvent);
    // Let the IPC message leave first.
    await sleep(30);
    process.kill(process.pid, "SIGKILL");
    return null;
  },
}));
// Forwards to another agent (possibly on another worker) and returns both answers.
rt.register("relay", () => ({
  async onMessage(m, ctx) {
    const { to } = m as { to: { type: string; key: string } };
    const answer = await ctx.send(new AgentId(to.type, to.key), { from: me });
    return { worker: me, answer };
  },
}));
// Spends from the tenant's shared token budget.
rt.register("spender", () => ({
  async onMessage(m, ctx) {
    const { tokens, limit } = m as { tokens: number; limit: number };
    try {
      await ledger.reserve(ctx.tenant, { tokens, costUsd: 0 }, { tokensPerDay: limit });
      return { worker: me, ok: true };
    } catch (err) {
      return { worker: me, ok: false, code: (err as { code?: string }).code };
    }
  },
}));
// Counts the tenant's turns running at this moment across every worker process, with the harness's
// running-turns counter (one NATS responder per cluster, which applies +1 on entry and -1 on exit in
// the order they reach it), and returns the count it saw on entry. A turn's +1 is answered after it
// started and its -1 before it ends, so the count never exceeds the turns actually running.
rt.register("counted", () => ({
  async onMessage(m, ctx) {
    const seenRunning = await countRunning(ctx.tenant, 1);
    try {
      await sleep(Number((m as { delayMs?: number }).delayMs ?? 20));
    } finally {
      await countRunning(ctx.tenant, -1);
    }
    return { worker: me, seenRunning };
  },
}));
rt.subscribe(typeSubscription("news", "echo"));

/** Adds `delta` to the tenant's count of running turns and resolves with the count after it. */
async function countRunning(tenant: string, delta: 1 | -1): Promise<number> {
  const subject = config.runningTurnsSubject;
  if (subject === undefined) throw new Error("counted turns need runningTurnsSubject: start the worker through the test harness's TestCluster");
  const answer = await budgetConn.request(subject, JSON.stringify({ tenant, delta }), { timeout: 10_000 });
  return (answer.json() as { running: number }).running;
}

/**
 * Sends to `type` agents of `tenant` from this process for `durationMs`, `concurrency` at a time, and
 * counts what was admitted and what the rate limit refused (each lane pauses `retryAfterMs` after a refusal).
 */
async function blast(args: { tenant: string; type: string; durationMs: number; concurrency: number }): Promise<unknown> {
  const h = rt.tenant(args.tenant);
  let accepted = 0;
  let rateLimited = 0;
  let otherErrors = 0;
  let minRetryAfterMs = Number.POSITIVE_INFINITY;
  let i = 0;
  const startMs = Date.now();
  const end = startMs + args.durationMs;
  const lane = async (): Promise<void> => {
    while (Date.now() < end) {
      try {
        await h.send(new AgentId(args.type, `k${i++ % 50}`), {}, { timeoutMs: 10_000 });
        accepted++;
      } catch (err) {
        const e = err as { code?: string; retryAfterMs?: number };
        if (e.code !== "RATE_LIMITED") {
          otherErrors++;
          continue;
        }
        rateLimited++;
        const wait = Number(e.retryAfterMs);
        if (!(wait > 0)) otherErrors++;
        minRetryAfterMs = Math.min(minRetryAfterMs, wait);
        await sleep(Math.min(Math.max(1, wait), 50));
      }
    }
  };
  await Promise.all(Array.from({ length: args.concurrency }, lane));
  return { workerId: me, accepted, rateLimited, otherErrors, minRetryAfterMs, startMs, endMs: Date.now(), stats: rt.stats() };
}

process.on("message", (raw: unknown) => {
  const msg = raw as { cmd: string; id: number; args?: unknown };
  const reply = (value: unknown): void => void process.send?.({ event: "reply", id: msg.id, value } satisfies TestWorkerEvent);
  if (msg.cmd === "spans") {
    void tracerProvider?.forceFlush().then(() =>
      reply(
        exporter.getFinishedSpans().map((s) => ({
          name: s.name,
          traceId: s.spanContext().traceId,
          spanId: s.spanContext().spanId,
          parentSpanId: s.parentSpanContext?.spanId,
          kind: s.kind,
          attributes: s.attributes,
        })),
      ),
    );
    if (tracerProvider === undefined) reply([]);
  } else if (msg.cmd === "blast") void blast(msg.args as Parameters<typeof blast>[0]).then(reply, (err: unknown) => reply({ error: String(err) }));
  else if (msg.cmd === "stats") reply({ ...rt.stats(), metrics: rt.metrics(), cpuUs: process.cpuUsage() });
  else if (msg.cmd === "stop") {
    void rt
      .stop()
      .then(() => budgetConn.close())
      .then(() => {
        reply(true);
        process.exit(0);
      });
  }
});

await rt.start();
process.send?.({ event: "ready", workerId: me, partitions: rt.ownedPartitions() } satisfies TestWorkerEvent);
