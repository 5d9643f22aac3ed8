// Test support for the distributed runtime: forks worker processes (runtime/src/distributed/testing/
// test-worker.ts) and waits for the cluster's placement to settle.
import { fork, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { NatsConnection } from "@nats-io/transport-node";
import { openLeaseBucket, readLeases, rendezvousOwner } from "@troupe/runtime";

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
}

type Event = { event: string; id?: number; value?: unknown; [k: string]: unknown };

/** One forked worker process. */
export class WorkerProc {
  private nextId = 0;
  private readonly waiting = new Map<number, (v: unknown) => void>();
  readonly events: Event[] = [];
  private readonly listeners: Array<(e: Event) => void> = [];
  exited = false;

  private constructor(
    readonly child: ChildProcess,
    readonly workerId: string,
  ) {
    child.on("message", (raw) => {
      const e = raw as Event;
      if (e.event === "reply" && e.id !== undefined) {
        this.waiting.get(e.id)?.(e.value);
        this.waiting.delete(e.id);
        return;
      }
      this.events.push(e);
      for (const l of this.listeners) l(e);
    });
    child.on("exit", () => {
      this.exited = true;
    });
  }

  static async start(config: WorkerConfig, timeoutMs = 20_000): Promise<WorkerProc> {
    const child = fork(WORKER_SCRIPT, [JSON.stringify(config)], {
      execArgv: ["--conditions=source", "--import", "tsx"],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
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
        reject(new Error(`worker ${this.workerId} exited`));
      };
      this.child.once("exit", onExit);
      this.listeners.push((e) => {
        if (!match(e)) return;
        clearTimeout(timer);
        this.child.off("exit", onExit);
        resolve(e);
      });
    });
  }

  request(cmd: string, timeoutMs = 10_000, args?: unknown): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`worker ${this.workerId}: no answer to ${cmd}`)), timeoutMs);
      this.waiting.set(id, (v) => {
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

export function uniqueNamespace(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6).toString(36)}`;
}
