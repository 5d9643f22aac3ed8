// What an operator sees of a distributed namespace, against the real nats-server with two worker
// processes: inspectCluster() and `troupe cluster` (table, --json, and its errors).
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { AgentId, TimeoutError, inspectCluster, type ClusterStatus, type DistributedRuntime, type TenantId } from "@troupe/runtime";
import { partitionOf, rendezvousOwner } from "@troupe/runtime/distributed";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NATS, TestCluster, uniqueNamespace, type WorkerConfig } from "./distributed-harness.js";

const root = join(import.meta.dirname, "..");
const P = 4;
const ns = uniqueNamespace("status");
const base: Omit<WorkerConfig, "workerId"> = { servers: NATS, namespace: ns, partitions: P, leaseTtlMs: 3000, ackWaitMs: 10_000, storage: "memory" };
const members = ["w1", "w2"];
const TURNS = 12;
let cluster: TestCluster | undefined;
let client: DistributedRuntime;
let running: Array<Promise<unknown>> = [];

function troupe(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [join(root, "bin/troupe.mjs"), ...args], { cwd: root, encoding: "utf8", timeout: 60_000 });
}

/** Polls until every running turn has been delivered to its worker (none waits in the stream). */
async function allInFlight(): Promise<ClusterStatus> {
  for (let i = 0; ; i++) {
    const status = await inspectCluster(cluster!.nc, ns);
    if (status.partitionStatus.reduce((sum, p) => sum + (p.inFlight ?? 0), 0) === TURNS) return status;
    if (i > 100) throw new Error(`turns not all in flight: ${JSON.stringify(status.partitionStatus)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  cluster = await TestCluster.start(base, members);
  client = await cluster.client();
  // Turns that take a while, so the status is read while they run.
  running = Array.from({ length: TURNS }, (_, i) => client.tenant("acme").send(new AgentId("probe", `slow-${i}`), { delayMs: 10_000 }, { timeoutMs: 30_000 }).catch((err: unknown) => err));
}, 60_000);

afterAll(async () => {
  // Stopping the cluster ends the turns still running (their callers get RuntimeStoppedError).
  await cluster?.stop();
  await Promise.all(running);
});

describe("cluster status", () => {
  it("inspectCluster shows the live workers, who holds each partition and the turns in flight", async () => {
    const status = await allInFlight();
    expect(status).toMatchObject({ namespace: ns, storage: "memory", partitions: P, messages: TURNS });
    expect(status.workers.map((w) => w.id)).toEqual(members);
    for (const p of status.partitionStatus) expect(p.holder).toBe(rendezvousOwner(p.partition, members, P));
    for (const w of status.workers) expect(w.partitions).toEqual(status.partitionStatus.filter((p) => p.holder === w.id).map((p) => p.partition));
    // Each turn is in flight on the partition its agent hashes to.
    const expected = new Array<number>(P).fill(0);
    for (let i = 0; i < TURNS; i++) expected[partitionOf("acme" as TenantId, "probe", `slow-${i}`, P)]!++;
    expect(status.partitionStatus.map((p) => p.inFlight)).toEqual(expected);
    expect(status.partitionStatus.every((p) => p.waiting === 0 && p.redelivered === 0)).toBe(true);
    // Metadata only: no tenant name in what an operator reads.
    expect(JSON.stringify(status)).not.toContain("acme");
  });

  it("troupe cluster prints the same as a table and as JSON", () => {
    const json = troupe("cluster", "--nats", NATS, "--namespace", ns, "--json");
    expect(json.status, json.stderr).toBe(0);
    const status = JSON.parse(json.stdout) as ClusterStatus;
    expect(status.workers.map((w) => w.id)).toEqual(members);
    expect(status.partitionStatus.map((p) => p.holder)).toEqual(Array.from({ length: P }, (_, p) => rendezvousOwner(p, members, P)));

    const text = troupe("cluster", "--nats", NATS, "--namespace", ns);
    expect(text.status, text.stderr).toBe(0);
    expect(text.stdout).toContain(`namespace ${ns} on ${NATS}: stream ${status.stream} (memory), ${P} partitions, 2 workers`);
    expect(text.stdout).toMatch(/WORKER\s+PARTITIONS\s+HELD/);
    expect(text.stdout).toMatch(/PARTITION\s+HOLDER\s+WAITING\s+IN FLIGHT\s+REDELIVERED/);
    for (const w of status.workers) expect(text.stdout).toContain(`${w.id}  `);
  });

  it("with no live worker, still shows how many messages wait on each partition", async () => {
    // A namespace whose only worker has left (hand-off: its consumers are gone), then a call that no
    // worker answers: the message waits in the stream for the next worker.
    const idle = await TestCluster.start({ ...base, namespace: uniqueNamespace("status-idle") }, ["w1"]);
    try {
      const sender = await idle.client();
      await idle.worker("w1").stop();
      const agent = new AgentId("probe", "unanswered");
      await expect(sender.tenant("acme").send(agent, {}, { timeoutMs: 300 })).rejects.toBeInstanceOf(TimeoutError);
      const status = await inspectCluster(idle.nc, idle.namespace);
      expect(status.workers).toEqual([]);
      expect(status.messages).toBe(1);
      const partition = partitionOf("acme" as TenantId, "probe", "unanswered", P);
      expect(status.partitionStatus.map((p) => p.waiting)).toEqual(Array.from({ length: P }, (_, p) => (p === partition ? 1 : 0)));
      expect(status.partitionStatus.every((p) => p.holder === null && p.inFlight === null)).toBe(true);

      const text = troupe("cluster", "--nats", NATS, "--namespace", idle.namespace);
      expect(text.status, text.stderr).toBe(0);
      expect(text.stdout).toContain("0 workers, 1 message not yet acknowledged");
      expect(text.stdout).toContain("no live worker: messages wait in the stream until one starts");
      expect(text.stdout).toMatch(new RegExp(`^\\s*${partition}\\s+\\(none\\)\\s+1\\s+-\\s+-\\s*$`, "m"));
    } finally {
      await idle.stop();
    }
  });

  it("troupe cluster names the problem: an unknown namespace, a malformed one, an unreachable server", () => {
    const missing = troupe("cluster", "--nats", NATS, "--namespace", "no-such-namespace");
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain('no Troupe namespace "no-such-namespace" on this server');

    const malformed = troupe("cluster", "--namespace", "Not Valid");
    expect(malformed.status).toBe(2);
    expect(malformed.stderr).toContain("namespace must be 1-32 lowercase letters");

    const unreachable = troupe("cluster", "--nats", "127.0.0.1:1");
    expect(unreachable.status).toBe(1);
    expect(unreachable.stderr).toContain("cannot reach NATS at 127.0.0.1:1");

    const empty = troupe("cluster", "--nats", " , ");
    expect(empty.status).toBe(2);
    expect(empty.stderr).toContain("--nats needs at least one server");
  });
});
