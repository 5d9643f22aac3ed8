// Faults of worker PROCESSES against the real nats-server: a poison message that kills every worker
// running it is given up after maxDeliver deliveries counted across failovers (its caller gets
// PoisonMessageError, not a timeout), and a worker frozen past its lease TTL does not answer or
// acknowledge the turn it was running once it resumes (the new holder's answer stands).
import { AgentId, PoisonMessageError, type DistributedRuntime } from "@troupe/runtime";
import { afterEach, describe, expect, it } from "vitest";
import { NATS, TestCluster, keyOn as keyAmong, uniqueNamespace, type WorkerConfig, type WorkerProc } from "./distributed-harness.js";

const P = 4;
let current: TestCluster | undefined;
let nc: TestCluster["nc"] | undefined;
let workers: WorkerProc[] = [];
let client: DistributedRuntime | undefined;
let ns = "";

function keyOn(worker: string, members: string[], tenant: string, type: string): string {
  return keyAmong(worker, members, tenant, type, P);
}

async function cluster(prefix: string, ids: string[], extra: Partial<WorkerConfig>): Promise<void> {
  ns = uniqueNamespace(prefix);
  current = await TestCluster.start({ servers: NATS, namespace: ns, partitions: P, leaseTtlMs: 1500, ackWaitMs: 30_000, storage: "memory", ...extra }, ids);
  nc = current.nc;
  workers = current.workers;
  client = await current.client();
}

afterEach(async () => {
  await current?.stop();
  current = undefined;
  nc = undefined;
  client = undefined;
  workers = [];
});

describe("distributed runtime under worker faults", () => {
  it("gives up a message that kills every worker running it after maxDeliver deliveries, across failovers", async () => {
    const ids = ["w1", "w2", "w3"];
    await cluster("poison", ids, { maxDeliver: 2 });
    const deadLetters: Array<{ attempts: string | undefined; tenantHeader: string | undefined }> = [];
    const sub = nc!.subscribe(`troupe.${ns}.d.>`, { callback: (_e, m) => void deadLetters.push({ attempts: m.headers?.get("Troupe-Attempts"), tenantHeader: m.headers?.get("Troupe-Tenant") }) });
    const key = keyOn("w1", ids, "acme", "poison");
    const t0 = Date.now();
    const outcome = client!
      .tenant("acme")
      .send(new AgentId("poison", key), {}, { timeoutMs: 25_000 })
      .then(
        () => null,
        (err: unknown) => err,
      );
    // Each failover waits for the dead worker's lease to expire (ackWaitMs is 30 s: redelivery here
    // comes only from the next holder taking the partition over).
    await workers[0]!.waitEvent((e) => e.event === "turn-started");
    const err = await outcome;
    const elapsedMs = Date.now() - t0;
    console.log(`poison message given up after ${elapsedMs} ms (two failovers with a 1500 ms lease TTL)`);
    expect(err).toBeInstanceOf(PoisonMessageError);
    expect((err as PoisonMessageError).code).toBe("POISON_MESSAGE");
    expect(elapsedMs).toBeLessThan(20_000);
    // Two workers ran it and died; the third gave it up without running it.
    const dead = workers.filter((w) => w.exited);
    const alive = workers.filter((w) => !w.exited);
    expect(dead).toHaveLength(2);
    expect(alive).toHaveLength(1);
    expect(alive[0]!.events.some((e) => e.event === "turn-started" && e.agentKey === key)).toBe(false);
    const stats = (await alive[0]!.request("stats")) as { deadLettered: number };
    expect(stats.deadLettered).toBe(1);
    await nc!.flush();
    expect(deadLetters).toEqual([{ attempts: "2", tenantHeader: "acme" }]);
    sub.unsubscribe();
    // The partition still serves, and the poison never runs again.
    const echo = (await client!.tenant("acme").send(new AgentId("slow", key), { delayMs: 1 }, { timeoutMs: 10_000 })) as { worker: string };
    expect(echo.worker).toBe(alive[0]!.workerId);
    await new Promise((r) => setTimeout(r, 300));
    expect(alive[0]!.exited).toBe(false);
  }, 40_000);

  it("discards the result of a worker frozen past its lease: the new holder's answer stands, with a larger fencing token", async () => {
    const ids = ["w1", "w2"];
    await cluster("fence", ids, {});
    const [w1, w2] = workers as [WorkerProc, WorkerProc];
    const key = keyOn("w1", ids, "acme", "slow");
    const answer = client!.tenant("acme").send(new AgentId("slow", key), { delayMs: 1000 }, { timeoutMs: 25_000 });
    const first = await w1.waitEvent((e) => e.event === "turn-started" && e.agentKey === key);
    // Frozen mid-turn: its lease expires and w2 takes the partition and the message over.
    w1.freeze();
    const second = await w2.waitEvent((e) => e.event === "turn-started" && e.agentKey === key, 15_000);
    expect(second.deliveryId).toBe(first.deliveryId);
    expect(second.fencingToken as number).toBeGreaterThan(first.fencingToken as number);
    // Resumed while w2 still runs the turn: w1's sleep is long over, so its turn ends at once — and
    // must neither answer nor acknowledge.
    w1.resume();
    const out = (await answer) as { worker: string; fencingToken: number };
    expect(out.worker).toBe("w2");
    expect(out.fencingToken).toBe(second.fencingToken);
    await new Promise((r) => setTimeout(r, 300));
    expect(client!.stats().lateReplies).toBe(0);
    const s1 = (await w1.request("stats")) as { fenced: number; handled: number };
    expect(s1.fenced).toBe(1);
  }, 40_000);
});
