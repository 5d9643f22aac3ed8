// The distributed runtime in one process against the real nats-server (the multi-process tests are
// in test/distributed-*.test.ts): hand-off while traffic flows, loops across hops, typed errors,
// abort and stop, option validation.
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AgentId } from "../agents/ids.js";
import { AbortedError, HandlerError, InvalidArgumentError, QueueFullError, RateLimitedError, RuntimeStoppedError, TimeoutError, UnknownAgentTypeError } from "../errors.js";
import { UNSET_QUOTAS, type TenantId } from "@troupe/contract";
import type { AgentStateStore } from "../state/agent-state-store.js";
import { DistributedRuntime, deleteDistributedNamespace, type DistributedRuntimeOptions } from "./distributed-runtime.js";
import { rendezvousOwner } from "./partition-leases.js";
import { partitionOf, Subjects } from "./subjects.js";

const NATS = "127.0.0.1:4222";
const ns = `unit-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6).toString(36)}`;
const base: DistributedRuntimeOptions = { nats: { servers: NATS }, namespace: ns, partitions: 8, leaseTtlMs: 900, ackWaitMs: 2000, storage: "memory", maxHops: 4 };
let nc: NatsConnection;
const started: DistributedRuntime[] = [];

function worker(workerId: string, extra: Partial<DistributedRuntimeOptions> = {}): DistributedRuntime {
  const rt = new DistributedRuntime({ ...base, ...extra, workerId });
  rt.register("counter", () => {
    let n = 0;
    return {
      onMessage: () => ({ worker: workerId, n: ++n }),
      saveState: () => n,
      loadState: (state) => {
        n = Number(state);
      },
    };
  });
  rt.register("echo", () => ({ onMessage: (m, ctx) => ({ worker: workerId, m, deliveryId: ctx.deliveryId }) }));
  rt.register("fail", () => ({
    onMessage: () => {
      throw new RangeError("bad input");
    },
  }));
  rt.register("slow", () => ({ onMessage: () => new Promise((r) => setTimeout(() => r("late"), 3000)) }));
  // Forwards to the next key forever: the hop limit must stop it.
  rt.register("loop", () => ({ onMessage: (m, ctx) => ctx.send(new AgentId("loop", `${Number(ctx.agentId.key) + 1}`), m) }));
  started.push(rt);
  return rt;
}

async function waitUntil(cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not reached");
    await new Promise((r) => setTimeout(r, 20));
  }
}

beforeAll(async () => {
  nc = await connect({ servers: NATS });
});

afterAll(async () => {
  for (const rt of started) await rt.stop();
  await deleteDistributedNamespace(nc, ns);
  for (const suffix of ["state", "q", "nostream", "forge", "managed"]) await deleteDistributedNamespace(nc, `${ns}-${suffix}`);
  await nc.close();
});

describe("DistributedRuntime (one process, real broker)", () => {
  it("validates its options", () => {
    expect(() => new DistributedRuntime({ ...base, namespace: "Bad.Name" })).toThrow(InvalidArgumentError);
    expect(() => new DistributedRuntime({ ...base, workerId: "has space" })).toThrow(/workerId/);
    expect(() => new DistributedRuntime({ ...base, partitions: 0 })).toThrow(/partitions/);
    // One of a worker's two slice settings alone is taken as given, the other default yielding to it; both, when they contradict, are refused.
    expect(() => new DistributedRuntime({ ...base, runtime: { maxDispatchSliceMs: 5 } })).not.toThrow();
    expect(() => new DistributedRuntime({ ...base, runtime: { dispatchSliceMs: 100 } })).not.toThrow();
    expect(() => new DistributedRuntime({ ...base, runtime: { dispatchSliceMs: 20, maxDispatchSliceMs: 5 } })).toThrow(/maxDispatchSliceMs \(5\) must not be below dispatchSliceMs \(20\)/);
  });

  it("refuses sends before start", async () => {
    const rt = new DistributedRuntime({ ...base, serve: false });
    await expect(rt.tenant("acme").send(new AgentId("echo", "1"), 1)).rejects.toBeInstanceOf(RuntimeStoppedError);
  });

  it("answers across a hand-off: a worker joins and leaves while calls flow, none is lost", async () => {
    const w1 = worker("w1");
    await w1.start();
    expect(w1.ownedPartitions()).toHaveLength(8);
    const client = new DistributedRuntime({ ...base, serve: false });
    started.push(client);
    await client.start();
    let stop = false;
    const answers: Array<{ worker: string }> = [];
    const traffic = (async () => {
      for (let i = 0; !stop; i++) {
        const batch = Array.from({ length: 20 }, (_, j) => client.tenant("acme").send(new AgentId("echo", `k${(i * 20 + j) % 97}`), i, { timeoutMs: 10_000 }));
        answers.push(...((await Promise.all(batch)) as Array<{ worker: string }>));
      }
    })();
    const w2 = worker("w2");
    await w2.start();
    await waitUntil(() => w2.ownedPartitions().length > 0 && w1.ownedPartitions().length + w2.ownedPartitions().length === 8);
    await new Promise((r) => setTimeout(r, 300));
    await w2.stop();
    await waitUntil(() => w1.ownedPartitions().length === 8);
    await new Promise((r) => setTimeout(r, 200));
    stop = true;
    await traffic;
    expect(new Set(answers.map((a) => a.worker))).toEqual(new Set(["w1", "w2"]));
    expect(client.stats().timeouts).toBe(0);
  }, 30_000);

  it("returns handler failures and unknown types as typed errors", async () => {
    const client = new DistributedRuntime({ ...base, serve: false });
    started.push(client);
    await client.start();
    const err = await client
      .tenant("acme")
      .send(new AgentId("fail", "1"), {})
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HandlerError);
    expect((err as HandlerError).message).toMatch(/RangeError: bad input/);
    await expect(client.tenant("acme").send(new AgentId("ghost", "1"), {})).rejects.toBeInstanceOf(UnknownAgentTypeError);
    // An undefined payload (JSON drops the field) is a message like any other, not a malformed one.
    const echoed = (await client.tenant("acme").send(new AgentId("echo", "nothing"), undefined, { timeoutMs: 5000 })) as { worker: string; m?: unknown };
    expect(typeof echoed.worker).toBe("string");
    expect(echoed.m).toBeUndefined();
  });

  it("stops a loop of handler-to-handler sends across hops", async () => {
    const client = new DistributedRuntime({ ...base, serve: false });
    started.push(client);
    await client.start();
    const err = await client
      .tenant("looper")
      .send(new AgentId("loop", "0"), "go", { timeoutMs: 10_000 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HandlerError);
    expect(String((err as Error).message)).toMatch(/LoopDetectedError/);
    // Hops 0..4 run; the send of hop 5 is refused.
    const turns = started.reduce((n, rt) => n + (rt.metrics().looper?.turns ?? 0), 0);
    expect(turns).toBe(5);
  });

  it("settles a call when its caller aborts, and fails waiting calls when the runtime stops", async () => {
    const client = new DistributedRuntime({ ...base, serve: false });
    await client.start();
    const ac = new AbortController();
    const aborted = client.tenant("acme").send(new AgentId("slow", "1"), {}, { signal: ac.signal });
    ac.abort();
    await expect(aborted).rejects.toBeInstanceOf(AbortedError);
    const waiting = client
      .tenant("acme")
      .send(new AgentId("slow", "2"), {})
      .catch((e: unknown) => e);
    await client.stop();
    expect(await waiting).toBeInstanceOf(RuntimeStoppedError);
  });

  it("hands an agent's state to the next holder, and rebuilds it from the store when its partition comes back", async () => {
    const saved = new Map<string, unknown>();
    const store: AgentStateStore = {
      load: async (t, a) => saved.get(`${t}/${a.toString()}`),
      save: async (t, a, s) => void saved.set(`${t}/${a.toString()}`, s),
      delete: async (t, a) => void saved.delete(`${t}/${a.toString()}`),
    };
    const extra = { namespace: `${ns}-state`, runtime: { stateStore: store } };
    let key = "c0";
    for (let i = 0; rendezvousOwner(partitionOf("acme" as TenantId, "counter", key, 8), ["s1", "s2"], 8) !== "s2"; i++) key = `c${i}`;
    const s1 = worker("s1", extra);
    await s1.start();
    const client = new DistributedRuntime({ ...base, namespace: `${ns}-state`, serve: false });
    started.push(client);
    await client.start();
    const inc = (): Promise<unknown> => client.tenant("acme").send(new AgentId("counter", key), {}, { timeoutMs: 10_000 });
    for (let i = 1; i <= 3; i++) expect(await inc()).toEqual({ worker: "s1", n: i });
    const s2 = worker("s2", extra);
    await s2.start();
    await waitUntil(() => s1.ownedPartitions().length + s2.ownedPartitions().length === 8 && s2.ownedPartitions().length > 0);
    expect(await inc()).toEqual({ worker: "s2", n: 4 });
    await s2.stop();
    await waitUntil(() => s1.ownedPartitions().length === 8);
    // s1 still holds the agent in memory at n=3: it must start from the store (4), not from its memory.
    expect(await inc()).toEqual({ worker: "s1", n: 5 });
  }, 30_000);

  it("bounds a tenant's messages queued in the broker per partition (QueueFullError), cluster-wide", async () => {
    const extra = { namespace: `${ns}-q`, partitions: 1, maxQueuedPerTenantPartition: 3 };
    const q = worker("q1", extra);
    await q.start();
    const client = new DistributedRuntime({ ...base, ...extra, serve: false });
    started.push(client);
    await client.start();
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        client
          .tenant("acme")
          .send(new AgentId("slow", `q${i}`), {}, { timeoutMs: 500 })
          .catch((e: unknown) => e),
      ),
    );
    expect(results.filter((r) => r instanceof QueueFullError)).toHaveLength(3);
    expect(results.filter((r) => r instanceof TimeoutError)).toHaveLength(3);
    // Another tenant has its own bound.
    await expect(client.tenant("globex").send(new AgentId("echo", "g"), 1, { timeoutMs: 5000 })).resolves.toMatchObject({ worker: "q1" });
  }, 20_000);

  it("fails a send at once when no stream takes the namespace's messages, instead of waiting for its timeout", async () => {
    // A client given its partition count starts without the stream (no worker ever ran here).
    const client = new DistributedRuntime({ ...base, namespace: `${ns}-nostream`, serve: false });
    started.push(client);
    await client.start();
    const t0 = Date.now();
    const err = (await client
      .tenant("acme")
      .send(new AgentId("echo", "x"), 1, { timeoutMs: 20_000 })
      .catch((e: unknown) => e)) as { code?: string; message?: string };
    expect(err.code).toBe("BROKER_UNAVAILABLE");
    expect(err.message).toMatch(/no stream takes the messages of namespace/);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(client.stats().pendingCalls).toBe(0);
  });

  it("ignores replies and broker answers on subjects that name no waiting call of their tenant", async () => {
    const extra = { namespace: `${ns}-forge` };
    const w = worker("r1", extra);
    await w.start();
    await waitUntil(() => w.ownedPartitions().length === 8);
    const client = new DistributedRuntime({ ...base, ...extra, serve: false });
    started.push(client);
    await client.start();
    // The caller's id, as anyone on the broker sees it: in the reply subject of the call's message.
    const sent = nc.subscribe(new Subjects(extra.namespace).allMessages, { max: 1 });
    await nc.flush();
    const pending = client.tenant("acme").send(new AgentId("slow", "r"), 1, { timeoutMs: 10_000 });
    let callerId = "";
    for await (const m of sent) callerId = m.reply?.split(".")[4] ?? "";
    expect(callerId).toMatch(/^[0-9a-f]{16}$/);
    // Forged answers for every call number the client may have given out, on another tenant's token
    // and on malformed subjects: none settles the call.
    for (let call = 0; call < 64; call++) {
      const c = call.toString(36);
      for (const subject of [`troupe.${extra.namespace}.r.0000000000000000beef.${callerId}.${c}`, `troupe.${extra.namespace}.r.0000000000000000beef.${callerId}.${c}.a`, `troupe.${extra.namespace}.r.x.${callerId}`]) {
        nc.publish(subject, JSON.stringify({ ok: true, v: "forged" }));
        nc.publish(subject, JSON.stringify({ error: { code: 503, description: "maximum messages per subject exceeded" } }));
      }
    }
    await nc.flush();
    await expect(pending).resolves.toBe("late");
    expect(client.stats().pendingCalls).toBe(0);
    await w.stop();
  }, 20_000);
  it("applies managed settings above code options: the rate at ingress, removed again with undefined; other tenants' ignored", async () => {
    const extra = { namespace: `${ns}-managed`, tenants: ["acme"] };
    const w = worker("m1", extra);
    await w.start();
    await waitUntil(() => w.ownedPartitions().length === 8);
    const burst = async (): Promise<number> => {
      const results = await Promise.allSettled([0, 1, 2, 3].map((i) => w.tenant("acme").send(new AgentId("echo", `k${i}`), i)));
      return results.filter((r) => r.status === "rejected" && r.reason instanceof RateLimitedError).length;
    };
    expect(await burst()).toBe(0);
    expect(w.setManagedTenantConfig("acme", { tier: "process", quotas: { ...UNSET_QUOTAS, messagesPerSecond: 1 } })).toBeUndefined();
    expect(await burst()).toBe(3);
    w.setManagedTenantConfig("acme", undefined);
    expect(await burst()).toBe(0);
    // A tenant this process does not serve: nothing to apply, nothing thrown.
    expect(w.setManagedTenantConfig("globex", { tier: "worker", quotas: UNSET_QUOTAS })).toBeUndefined();
    await w.stop();
  }, 20_000);
});
