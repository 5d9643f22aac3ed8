// Test support for the distributed runtime: forks worker processes (runtime/src/distributed/testing/
// test-worker.ts), waits for the cluster's placement to settle, and tears a test cluster down.
import { fork, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { DistributedRuntime, deleteDistributedNamespace, type DistributedRuntimeOptions, type TenantId } from "@troupe/runtime";
import { openLeaseBucket, partitionOf, readLeases, rendezvousOwner } from "@troupe/runtime/distributed";
import { serveRunningTurns } from "./support/running-turns-counter.js";

export const WORKER_SCRIPT = fileURLToPath(new URL("../runtime/src/distributed/testing/test-worker.ts", import.meta.url));
export const NATS = "127.0.0.1:4222";

export interface WorkerConfig {
  servers: string;
  namespace: string;
  workerId: string;
  partitions: number;
  leaseTtlMs: number;
  ackWaitMs: number;
  trace?: boolean;
  storage?: "file" | "memory";
  maxInFlightPerPartition?: number;
  /** Tenant quotas of the worker (e.g. a cluster-wide `messagesPerSecond`). */
  quotas?: Record<string, unknown>;
  rateLimitLeaseMs?: number;
  maxDeliver?: number;
  /** The subject of the cluster's running-turns counter, which `counted` turns report to (TestCluster sets it). */
  runningTurnsSubject?: string;
}

type Event = { event: string; id?: number; value?: unknown; [k: string]: unknown };

/** One forked worker process. */
export class WorkerProc {
  #nextId = 0;
  readonly #waiting = new Map<number, (v: unknown) => void>();
  readonly events: Event[] = [];
  readonly #listeners: Array<(e: Event) => void> = [];
  exited = false;
  /** The last few KB the worker wrote to stderr, to say why it exited. */
  #stderrTail = "";

  private constructor(
    readonly child: ChildProcess,
    readonly workerId: string,
  ) {
    child.on("message", (raw) => {
      const e = raw as Event;
      if (e.event === "reply" && e.id !== undefined) {
        this.#waiting.get(e.id)?.(e.value);
        this.#waiting.delete(e.id);
        return;
      }
      this.events.push(e);
      for (const l of this.#listeners) l(e);
    });
    child.on("exit", () => {
      this.exited = true;
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      process.stderr.write(chunk);
      this.#stderrTail = (this.#stderrTail + chunk.toString("utf8")).slice(-4096);
    });
  }

  #exitReason(): string {
    const { exitCode, signalCode } = this.child;
    const how = signalCode !== null ? `signal ${signalCode}` : `code ${String(exitCode)}`;
    return `worker ${this.workerId} exited (${how})${this.#stderrTail === "" ? "" : `; its stderr ended with:\n${this.#stderrTail}`}`;
  }

  static async start(config: WorkerConfig, timeoutMs = 20_000): Promise<WorkerProc> {
    const child = fork(WORKER_SCRIPT, [JSON.stringify(config)], {
      execArgv: ["--conditions=source", "--import", "tsx"],
      stdio: ["ignore", "inherit", "pipe", "ipc"],
    });
    const w = new WorkerProc(child, config.workerId);
    await w.waitEvent((e) => e.event === "ready", timeoutMs);
    return w;
  }

  /** Resolves with the first event (past or future) that matches. */
  waitEvent(match: (e: Event) => boolean, timeoutMs = 20_000): Promise<Event> {
    const past = this.events.find(match);
    if (past !== undefined) return Promise.resolve(past);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`worker ${this.workerId}: no matching event within ${timeoutMs} ms`)), timeoutMs);
      const onExit = (): void => {
        clearTimeout(timer);
        reject(new Error(this.#exitReason()));
      };
      this.child.once("exit", onExit);
      this.#listeners.push((e) => {
        if (!match(e)) return;
        clearTimeout(timer);
        this.child.off("exit", onExit);
        resolve(e);
      });
    });
  }

  request(cmd: string, timeoutMs = 10_000, args?: unknown): Promise<unknown> {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`worker ${this.workerId}: no answer to ${cmd}`)), timeoutMs);
      this.#waiting.set(id, (v) => {
        clearTimeout(timer);
        resolve(v);
      });
      this.child.send({ cmd, id, ...(args === undefined ? {} : { args }) });
    });
  }

  /** SIGKILL: the process dies without releasing anything. */
  kill(): void {
    if (!this.exited) this.child.kill("SIGKILL");
  }

  /** SIGSTOP / SIGCONT: freezes the whole process (timers, renewals, handlers) and resumes it, as a long GC pause would. */
  freeze(): void {
    this.child.kill("SIGSTOP");
  }

  resume(): void {
    this.child.kill("SIGCONT");
  }

  /** Graceful stop (hand-off), or a kill when it does not answer. */
  async stop(): Promise<void> {
    if (this.exited) return;
    await this.request("stop", 15_000).catch(() => this.kill());
    if (!this.exited) await new Promise((r) => this.child.once("exit", r));
  }
}

/** Waits until every partition is held by its owner in the placement among `workerIds`. */
export async function waitForPlacement(nc: NatsConnection, namespace: string, workerIds: string[], partitions: number, timeoutMs = 20_000): Promise<Map<number, string>> {
  const kv = await openLeaseBucket(nc, namespace);
  const members = [...workerIds].sort();
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { owners } = await readLeases(kv);
    let settled = owners.size === partitions;
    for (let p = 0; p < partitions && settled; p++) settled = owners.get(p) === rendezvousOwner(p, members, partitions);
    if (settled) return owners;
    if (Date.now() > deadline) throw new Error(`placement did not settle: ${JSON.stringify([...owners])}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Worker processes of one namespace, started together and placed, with a connection to the broker
 * and the sending clients a test opens; `stop()` kills the workers (frozen ones too), stops the
 * clients and deletes the namespace.
 */
export class TestCluster {
  readonly #clients: DistributedRuntime[] = [];

  private constructor(
    readonly nc: NatsConnection,
    readonly namespace: string,
    readonly workerIds: string[],
    readonly workers: WorkerProc[],
  ) {}

  /** Starts one worker per id with `base` and waits until every partition is held by its owner. */
  static async start(base: Omit<WorkerConfig, "workerId">, workerIds: string[]): Promise<TestCluster> {
    const nc = await connect({ servers: base.servers });
    // Answers the workers' `counted` turns; it stops when `nc` closes.
    const { subject: runningTurnsSubject } = serveRunningTurns(nc, base.namespace);
    // The first worker creates the stream; the others join (started together to save time).
    const cluster = new TestCluster(nc, base.namespace, workerIds, await Promise.all(workerIds.map((workerId) => WorkerProc.start({ ...base, runningTurnsSubject, workerId }))));
    try {
      await waitForPlacement(nc, base.namespace, workerIds, base.partitions);
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  /** The worker process with this id. */
  worker(id: string): WorkerProc {
    const w = this.workers[this.workerIds.indexOf(id)];
    if (w === undefined) throw new Error(`no worker ${id} in this cluster`);
    return w;
  }

  /** A started client of the cluster that only sends (stopped with it). */
  async client(options: Partial<DistributedRuntimeOptions> = {}): Promise<DistributedRuntime> {
    const client = new DistributedRuntime({ nats: { servers: NATS }, namespace: this.namespace, serve: false, ...options });
    this.#clients.push(client);
    await client.start();
    return client;
  }

  async stop(): Promise<void> {
    for (const c of this.#clients) await c.stop();
    for (const w of this.workers) {
      w.resume();
      w.kill();
    }
    await deleteDistributedNamespace(this.nc, this.namespace);
    await this.nc.close();
  }
}

/** A key of `type` whose partition `worker` holds in the placement among `members`. */
export function keyOn(worker: string, members: string[], tenant: string, type: string, partitions: number): string {
  for (let i = 0; ; i++) {
    const key = `k${i}`;
    if (rendezvousOwner(partitionOf(tenant as TenantId, type, key, partitions), [...members].sort(), partitions) === worker) return key;
  }
}

export function uniqueNamespace(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6).toString(36)}`;
}
