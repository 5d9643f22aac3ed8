import { afterEach, describe, expect, it } from "vitest";
import { Runtime, type RuntimeOptions } from "./runtime.js";
import { AgentId } from "./agents/ids.js";
import type { AgentStateStore } from "./state/agent-state-store.js";
import type { TenantId } from "@troupe/contract";

const runtimes: Runtime[] = [];
function make(options: RuntimeOptions = {}): Runtime {
  const rt = new Runtime(options);
  runtimes.push(rt);
  return rt;
}
afterEach(async () => {
  await Promise.all(runtimes.splice(0).map((r) => r.stop()));
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** An in-memory store keyed by a structured (tenant, type, key) path — never a concatenated string. */
class MemoryStateStore implements AgentStateStore {
  readonly data = new Map<TenantId, Map<string, Map<string, unknown>>>();
  saves = 0;
  async load(tenant: TenantId, agent: AgentId): Promise<unknown> {
    return structuredClone(this.data.get(tenant)?.get(agent.type)?.get(agent.key));
  }
  async save(tenant: TenantId, agent: AgentId, state: unknown): Promise<void> {
    await sleep(1);
    this.saves++;
    let t = this.data.get(tenant);
    if (!t) this.data.set(tenant, (t = new Map()));
    let ty = t.get(agent.type);
    if (!ty) t.set(agent.type, (ty = new Map()));
    ty.set(agent.key, structuredClone(state));
  }
  async delete(tenant: TenantId, agent: AgentId): Promise<void> {
    this.data.get(tenant)?.get(agent.type)?.delete(agent.key);
  }
}

function counterType(rt: Runtime, log: string[]) {
  rt.register("counter", (ctx) => {
    let n = 0;
    log.push(`create ${ctx.tenant}/${ctx.agentId.key}`);
    return {
      onMessage: () => ++n,
      saveState: () => ({ n }),
      loadState: (s) => {
        n = (s as { n: number }).n;
      },
      onDeactivate: () => {
        log.push(`deactivate ${ctx.tenant}/${ctx.agentId.key}`);
      },
    };
  });
}

describe("passivation", () => {
  it("evicts idle agents after idleMs, saving state, and restores it on the next message", async () => {
    const store = new MemoryStateStore();
    const rt = make({ passivation: { idleMs: 30, sweepIntervalMs: 5 }, stateStore: store });
    const log: string[] = [];
    counterType(rt, log);
    await rt.start();
    const acme = rt.tenant("acme");
    const id = new AgentId("counter", "k");
    expect(await acme.send(id, 0)).toBe(1);
    expect(await acme.send(id, 0)).toBe(2);
    expect(await rt.tenant("globex").send(id, 0)).toBe(1);
    await sleep(120);
    expect(rt.stats().activeAgents).toBe(0);
    expect(log).toContain("deactivate acme/k");
    expect(store.data.get("acme" as TenantId)?.get("counter")?.get("k")).toEqual({ n: 2 });
    expect(await acme.send(id, 0)).toBe(3);
    expect(await rt.tenant("globex").send(id, 0)).toBe(2);
    expect(log.filter((l) => l === "create acme/k").length).toBe(2);
    const m = rt.metrics().acme!;
    expect(m.passivations).toBe(1);
    expect(m.activations).toBe(2);
  });

  it("evicts the least recently used idle agents beyond maxActiveAgents", async () => {
    const rt = make({ passivation: { idleMs: 60_000, maxActiveAgents: 10 } });
    rt.register("e", () => ({ onMessage: () => 1 }));
    await rt.start();
    for (let i = 0; i < 100; i++) await rt.tenant("acme").send(new AgentId("e", `k${i}`), i);
    expect(rt.stats().activeAgents).toBeLessThanOrEqual(10);
    expect(rt.metrics().acme!.passivations).toBe(90);
  });

  it("keeps an agent whose message arrives during its state save (no lost update)", async () => {
    const store = new MemoryStateStore();
    const rt = make({ passivation: { idleMs: 60_000, maxActiveAgents: 1 }, stateStore: store });
    const log: string[] = [];
    counterType(rt, log);
    await rt.start();
    const acme = rt.tenant("acme");
    await acme.send(new AgentId("counter", "a"), 0); // a: 1
    const pb = acme.send(new AgentId("counter", "b"), 0); // evicts a (save in progress)
    const pa = acme.send(new AgentId("counter", "a"), 0); // arrives while a is saving
    expect(await pa).toBe(2);
    await pb;
    expect(log.filter((l) => l === "create acme/a").length).toBe(1);
    expect(log).not.toContain("deactivate acme/a");
    expect(store.saves).toBe(1); // a's eviction started (and saved) while its message arrived
    await rt.stopWhenIdle();
    expect(store.data.get("acme" as TenantId)?.get("counter")?.get("a")).toEqual({ n: 2 });
  });

  it("saves active agents' state on stop", async () => {
    const store = new MemoryStateStore();
    const rt = make({ stateStore: store });
    counterType(rt, []);
    await rt.start();
    await rt.tenant("acme").send(new AgentId("counter", "x"), 0);
    await rt.stop();
    expect(store.data.get("acme" as TenantId)?.get("counter")?.get("x")).toEqual({ n: 1 });
  });

  it("keeps memory bounded over 200,000 distinct keys", async () => {
    const rt = make({ passivation: { idleMs: 60_000, maxActiveAgents: 1000 }, quotas: { defaults: { maxQueuedMessages: 1_000_000 } } });
    rt.register("e", () => ({ onMessage: (m) => m }));
    await rt.start();
    const acme = rt.tenant("acme");
    for (let batch = 0; batch < 200; batch++) {
      const ps: Promise<unknown>[] = [];
      for (let i = 0; i < 1000; i++) ps.push(acme.send(new AgentId("e", `k${batch * 1000 + i}`), i));
      await Promise.all(ps);
    }
    expect(rt.stats().activeAgents).toBeLessThanOrEqual(1000);
    expect(rt.metrics().acme!.passivations).toBeGreaterThanOrEqual(199_000);
  });
});
