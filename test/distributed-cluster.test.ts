// The distributed runtime against the real nats-server with several worker PROCESSES: routing,
// single activation, fan-out, trace continuity, shared budgets, failover after SIGKILL mid-turn,
// and a caller to a dead cluster getting a timeout.
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { AgentId, KvBudgetLedger, TimeoutError, TopicId, typeSubscription, type DistributedRuntime, type TenantId } from "@troupe/runtime";
import { partitionOf, rendezvousOwner } from "@troupe/runtime/distributed";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NATS, TestCluster, keyOn as keyAmong, uniqueNamespace, type WorkerConfig, type WorkerProc } from "./distributed-harness.js";

const P = 8;
const ns = uniqueNamespace("cluster");
const base: Omit<WorkerConfig, "workerId"> = { servers: NATS, namespace: ns, partitions: P, leaseTtlMs: 1500, ackWaitMs: 2000, trace: true, storage: "memory" };
const members = ["w1", "w2"];
let cluster: TestCluster | undefined;
let workers: Record<string, WorkerProc> = {};
let client: DistributedRuntime;
let client2: DistributedRuntime;
const exporter = new InMemorySpanExporter();
const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });

/** A key of `type` whose partition the given worker holds (among `members`). */
function keyOn(worker: string, tenant: string, type: string, among = members): string {
  return keyAmong(worker, among, tenant, type, P);
}

beforeAll(async () => {
  cluster = await TestCluster.start(base, members);
  workers = { w1: cluster.worker("w1"), w2: cluster.worker("w2") };
  client = await cluster.client({ tracerProvider });
  client2 = await cluster.client();
  client.subscribe(typeSubscription("news", "echo"));
}, 60_000);

afterAll(async () => {
  await cluster?.stop();
});

describe("distributed runtime across worker processes", () => {
  it("routes each agent to the worker holding its partition, and both workers serve", async () => {
    const keys = Array.from({ length: 24 }, (_, i) => `user-${i}`);
    const replies = (await Promise.all(keys.map((k) => client.tenant("acme").send(new AgentId("echo", k), { n: k })))) as Array<{ worker: string; deliveryId: string; message: unknown }>;
    keys.forEach((k, i) => {
      expect(replies[i]!.worker).toBe(rendezvousOwner(partitionOf("acme" as TenantId, "echo", k, P), members, P));
      expect(replies[i]!.message).toEqual({ n: k });
    });
    expect(new Set(replies.map((r) => r.worker))).toEqual(new Set(members));
    expect(new Set(replies.map((r) => r.deliveryId)).size).toBe(keys.length);
  });

  it("keeps one activation per agent under concurrent messages from several callers", async () => {
    const to = new AgentId("probe", "hot-key");
    const calls = Array.from({ length: 30 }, (_, i) => (i % 2 === 0 ? client : client2).tenant("acme").send(to, { delayMs: 4 }));
    const turns = (await Promise.all(calls)) as Array<{ worker: string; start: number; end: number }>;
    expect(new Set(turns.map((t) => t.worker)).size).toBe(1);
    turns.sort((a, b) => a.start - b.start);
    for (let i = 1; i < turns.length; i++) expect(turns[i]!.start).toBeGreaterThanOrEqual(turns[i - 1]!.end);
  });

  it("fans a publish out to subscribers on their workers", async () => {
    const sources = ["s1", "s2", "s3", "s4", "s5", "s6"];
    for (const s of sources) await client.tenant("pubs").publish(new TopicId("news", s), { headline: s });
    const turns = async (): Promise<number> => {
      let n = 0;
      for (const w of Object.values(workers)) {
        const st = (await w.request("stats")) as { metrics: Record<string, { turns: number }> };
        n += st.metrics.pubs?.turns ?? 0;
      }
      return n;
    };
    const deadline = Date.now() + 5000;
    while ((await turns()) < sources.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(await turns()).toBe(sources.length);
  });

  it("continues a trace across the caller and two workers with correct parent/child links", async () => {
    const relayKey = keyOn("w1", "acme", "relay");
    const echoKey = keyOn("w2", "acme", "echo");
    const out = (await client.tenant("acme").send(new AgentId("relay", relayKey), { to: { type: "echo", key: echoKey } })) as { worker: string; answer: { worker: string; hopCount: number; sender: string } };
    expect(out.worker).toBe("w1");
    expect(out.answer.worker).toBe("w2");
    expect(out.answer.hopCount).toBe(1);
    expect(out.answer.sender).toBe(`relay/${relayKey}`);

    type S = { name: string; traceId: string; spanId: string; parentSpanId?: string; attributes: Record<string, unknown> };
    const callerSend = exporter.getFinishedSpans().find((s) => s.name === "send relay")!;
    expect(callerSend).toBeDefined();
    const traceId = callerSend.spanContext().traceId;
    const s1 = ((await workers.w1!.request("spans")) as S[]).filter((s) => s.traceId === traceId);
    const s2 = ((await workers.w2!.request("spans")) as S[]).filter((s) => s.traceId === traceId);
    const one = (spans: S[], name: string): S => {
      const found = spans.filter((s) => s.name === name);
      expect(found, name).toHaveLength(1);
      return found[0]!;
    };
    // Worker 1: its local send is the child of the caller's send; process → invoke_agent; its own send echo under invoke_agent.
    const w1Send = one(s1, "send relay");
    expect(w1Send.parentSpanId).toBe(callerSend.spanContext().spanId);
    const w1Process = one(s1, "process relay");
    expect(w1Process.parentSpanId).toBe(w1Send.spanId);
    const w1Invoke = one(s1, "invoke_agent relay");
    expect(w1Invoke.parentSpanId).toBe(w1Process.spanId);
    const w1SendEcho = one(s1, "send echo");
    expect(w1SendEcho.parentSpanId).toBe(w1Invoke.spanId);
    // Worker 2: continues from worker 1's send.
    const w2Send = one(s2, "send echo");
    expect(w2Send.parentSpanId).toBe(w1SendEcho.spanId);
    const w2Process = one(s2, "process echo");
    expect(w2Process.parentSpanId).toBe(w2Send.spanId);
    expect(one(s2, "invoke_agent echo").parentSpanId).toBe(w2Process.spanId);
    for (const s of [...s1, ...s2]) expect(s.attributes["troupe.tenant.id"]).toBe("acme");
  });

  it("shares a tenant's token budget across workers without overspending", async () => {
    const limit = 1000;
    const calls = Array.from({ length: 40 }, (_, i) => client.tenant("budgeted").send(new AgentId("spender", `agent-${i}`), { tokens: 100, limit }));
    const results = (await Promise.all(calls)) as Array<{ worker: string; ok: boolean; code?: string }>;
    expect(new Set(results.map((r) => r.worker))).toEqual(new Set(members));
    expect(results.filter((r) => r.ok)).toHaveLength(10);
    expect(results.filter((r) => !r.ok).every((r) => r.code === "BUDGET_EXCEEDED")).toBe(true);
    const ledger = await KvBudgetLedger.open(cluster!.nc, ns);
    expect((await ledger.usage("budgeted")).tokensToday).toBe(limit);
  });

  it("redelivers a message whose worker is killed mid-turn, and another worker answers it", async () => {
    const key = keyOn("w1", "acme", "slow");
    const t0 = Date.now();
    const answer = client.tenant("acme").send(new AgentId("slow", key), { delayMs: 1500 }, { timeoutMs: 25_000 });
    const started = await workers.w1!.waitEvent((e) => e.event === "turn-started" && e.agentKey === key);
    workers.w1!.kill();
    const out = (await answer) as { worker: string; deliveryId: string };
    expect(out.worker).toBe("w2");
    expect(out.deliveryId).toBe(started.deliveryId);
    expect(Date.now() - t0).toBeLessThan(20_000);
  }, 30_000);

  it("gives a caller a TimeoutError when the worker is dead, without hanging", async () => {
    workers.w2!.kill();
    await new Promise((r) => setTimeout(r, 200));
    const t0 = Date.now();
    await expect(client.tenant("acme").send(new AgentId("echo", "anyone"), {}, { timeoutMs: 800 })).rejects.toBeInstanceOf(TimeoutError);
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(client.stats().pendingCalls).toBe(0);
  });
});
