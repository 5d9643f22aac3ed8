// A tenant's in-flight quota (maxInFlightTurns) holds across worker PROCESSES against the real
// nats-server: its turns running at once cluster-wide — counted by the handler itself, through the harness's running-turns counter over NATS —
// never exceed the quota, including a quota smaller than the number of workers, while a tenant
// without a small quota runs many turns at once.
import { AgentId, type DistributedRuntime } from "@troupe/runtime";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NATS, TestCluster, uniqueNamespace } from "./distributed-harness.js";

const P = 6;
const ns = uniqueNamespace("quota");
const ids = ["w1", "w2", "w3"];
let cluster: TestCluster | undefined;
let client: DistributedRuntime;

beforeAll(async () => {
  const quotas = { tenants: { two: { maxInFlightTurns: 2 }, five: { maxInFlightTurns: 5 } } };
  cluster = await TestCluster.start({ servers: NATS, namespace: ns, partitions: P, leaseTtlMs: 3000, ackWaitMs: 30_000, storage: "memory", quotas }, ids);
  client = await cluster.client();
}, 60_000);

afterAll(async () => {
  await cluster?.stop();
});

type Turn = { worker: string; seenRunning: number };

function burst(tenant: string, n: number, delayMs: number): Promise<Turn[]> {
  return Promise.all(Array.from({ length: n }, (_, i) => client.tenant(tenant).send(new AgentId("counted", `a${i}`), { delayMs }, { timeoutMs: 30_000 }) as Promise<Turn>));
}

describe("cluster-wide in-flight quota", () => {
  it("never runs more of a tenant's turns at once across workers than its quota, while another tenant is unaffected", async () => {
    const [two, five, free] = await Promise.all([burst("two", 48, 25), burst("five", 60, 25), burst("free", 60, 150)]);
    const peak = (turns: Turn[]): number => Math.max(...turns.map((t) => t.seenRunning));
    for (const t of [...two, ...five, ...free]) expect(Number.isInteger(t.seenRunning)).toBe(true);
    // Quota 2 on 3 workers (fewer turns than workers): at most 2 at once, and the agents of every worker ran.
    expect(peak(two)).toBeLessThanOrEqual(2);
    expect(new Set(two.map((t) => t.worker))).toEqual(new Set(ids));
    // Quota 5 on 3 workers (2 + 2 + 1, the extra one rotating).
    expect(peak(five)).toBeLessThanOrEqual(5);
    expect(peak(five)).toBeGreaterThanOrEqual(3);
    expect(new Set(five.map((t) => t.worker))).toEqual(new Set(ids));
    // The default quota (100000 in the test workers): its turns overlap freely.
    expect(peak(free)).toBeGreaterThan(20);
  }, 60_000);
});
