import { afterEach, describe, expect, it } from "vitest";
import { Runtime, type RuntimeOptions } from "./runtime.js";
import { AgentId } from "./agents/ids.js";
import { HandlerError, InvalidArgumentError, TimeoutError, WorkerCrashedError, WorkerTierFullError } from "./errors.js";
import { WorkerThreadTurnHost } from "./isolation/worker-thread-turn-host.js";
import type { WorkerThreadTurnHostOptions } from "./isolation/worker-thread-turn-host.js";
import type { AgentStateStore } from "./state/agent-state-store.js";
import type { TenantId } from "@troupe/contract";

const OPS = { module: new URL("./isolation/test-agents/ops-agent.ts", import.meta.url), exportName: "createOpsAgent" };
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function make(extra: RuntimeOptions = {}, hostOptions: Partial<WorkerThreadTurnHostOptions> = {}): { rt: Runtime; host: WorkerThreadTurnHost } {
  const ref: { rt?: Runtime } = {};
  const host = new WorkerThreadTurnHost({ onOutbound: (o) => ref.rt!.handleHostedOutbound(o), abortGraceMs: 200, restartBackoff: { initialMs: 0, maxMs: 50 }, ...hostOptions });
  const rt = new Runtime({
    turnHost: host,
    watchdogIntervalMs: 5,
    quotas: { tiers: { heavy: { isolation: "worker", turnTimeoutMs: 5000 } }, tenants: { heavyco: { tier: "heavy" }, otherheavy: { tier: "heavy" } } },
    ...extra,
  });
  ref.rt = rt;
  cleanups.push(() => host.close(), () => rt.stop());
  rt.registerModule("ops", OPS);
  rt.register("inline", () => ({ onMessage: (m) => m }));
  return { rt, host };
}

describe("worker isolation tier", () => {
  it("runs a worker-tier tenant's turns in the TurnHost and inline tenants on the main loop", async () => {
    const { rt } = make();
    await rt.start();
    const r = (await rt.tenant("heavyco").send(new AgentId("ops", "a"), { op: "echo", value: 42 })) as Record<string, unknown>;
    expect(r.value).toBe(42);
    expect(r.ctxTenant).toBe("heavyco");
    expect(r.hopCount).toBe(0);
    // The same module type runs inline for an inline tenant.
    const inline = (await rt.tenant("acme").send(new AgentId("ops", "a"), { op: "echo", value: 1 })) as Record<string, unknown>;
    expect(inline.ctxTenant).toBe("acme");
    expect(await rt.tenant("acme").send(new AgentId("inline", "a"), "x")).toBe("x");
    // A factory-registered type cannot run in a worker: a clear error, at once.
    const err = await rt.tenant("heavyco").send(new AgentId("inline", "a"), "x").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect((err as Error).message).toMatch(/registerModule/);
  });

  it("routes a hosted handler's send through the tenant's path with hopCount + 1", async () => {
    const { rt } = make();
    await rt.start();
    const r = (await rt.tenant("heavyco").send(new AgentId("ops", "a"), { op: "send", to: { type: "ops", key: "b" }, message: { op: "echo", value: "hi" } })) as Record<string, unknown>;
    expect(r.value).toBe("hi");
    expect(r.hopCount).toBe(1);
    expect(r.ctxTenant).toBe("heavyco");
    expect(rt.metrics().heavyco!.turns).toBe(2);
  });

  it("a crashing handler fails only that tenant's turn; other tenants keep working and the worker restarts", async () => {
    const { rt } = make();
    await rt.start();
    const crash = await rt.tenant("heavyco").send(new AgentId("ops", "boom"), { op: "exit" }).catch((e: unknown) => e);
    expect(crash).toBeInstanceOf(WorkerCrashedError);
    expect(await rt.tenant("acme").send(new AgentId("inline", "k"), "still here")).toBe("still here");
    const again = (await rt.tenant("heavyco").send(new AgentId("ops", "a"), { op: "echo", value: 2 })) as Record<string, unknown>;
    expect(again.value).toBe(2);
    const thrown = await rt.tenant("heavyco").send(new AgentId("ops", "t"), { op: "throw", name: "TypeError", message: "bad" }).catch((e: unknown) => e);
    expect(thrown).toBeInstanceOf(HandlerError);
    expect((thrown as Error).message).toMatch(/TypeError: bad/);
  });

  it("a crash in one worker-tier tenant's worker never fails the turn another worker-tier tenant has in flight", async () => {
    const { rt, host } = make();
    await rt.start();
    await Promise.all([rt.tenant("heavyco").send(new AgentId("ops", "a"), { op: "count" }), rt.tenant("otherheavy").send(new AgentId("ops", "a"), { op: "count" })]);
    const inFlight = rt.tenant("otherheavy").send(new AgentId("ops", "slow"), { op: "burn", ms: 300 });
    await new Promise((r) => setTimeout(r, 50));
    await expect(rt.tenant("heavyco").send(new AgentId("ops", "boom"), { op: "exit" })).rejects.toBeInstanceOf(WorkerCrashedError);
    expect(await inFlight).toBe(true);
    // otherheavy's agent kept its in-memory state: its worker never restarted.
    expect(await rt.tenant("otherheavy").send(new AgentId("ops", "a"), { op: "count" })).toBe(2);
    const m = host.metrics();
    expect(m.tenants.map((t) => [t.tenant, t.crashes])).toEqual([
      ["heavyco", 1],
      ["otherheavy", 0],
    ]);
  });

  it("a worker-tier tenant that finds the tier full gets WorkerTierFullError at once; passivation frees a tenant's room", async () => {
    const saved = new Map<string, unknown>();
    const store: AgentStateStore = {
      load: async (t: TenantId, a: AgentId) => saved.get(JSON.stringify([t, a.type, a.key])),
      save: async (t: TenantId, a: AgentId, s: unknown) => void saved.set(JSON.stringify([t, a.type, a.key]), s),
      delete: async (t: TenantId, a: AgentId) => void saved.delete(JSON.stringify([t, a.type, a.key])),
    };
    const { rt, host } = make({ stateStore: store, passivation: { idleMs: 100, sweepIntervalMs: 10 } }, { maxTenants: 1 });
    await rt.start();
    expect(await rt.tenant("heavyco").send(new AgentId("ops", "c"), { op: "count" })).toBe(1);
    expect(await rt.tenant("heavyco").send(new AgentId("ops", "c"), { op: "count" })).toBe(2);
    // heavyco's worker still holds its agent: no room for otherheavy.
    const full = await rt.tenant("otherheavy").send(new AgentId("ops", "o"), { op: "count" }).catch((e: unknown) => e);
    expect(full).toBeInstanceOf(WorkerTierFullError);
    expect((full as WorkerTierFullError).code).toBe("WORKER_TIER_FULL");
    // Inline tenants are not affected by the worker tier's bound.
    expect(await rt.tenant("acme").send(new AgentId("inline", "k"), "ok")).toBe("ok");
    // Once heavyco's agent is passivated (state saved), its worker holds nothing and is retired.
    await new Promise((r) => setTimeout(r, 250));
    expect(saved.get(JSON.stringify(["heavyco", "ops", "c"]))).toEqual({ count: 2 });
    expect(await rt.tenant("otherheavy").send(new AgentId("ops", "o"), { op: "count" })).toBe(1);
    expect(host.tenantsWithWorkers()).toEqual(["otherheavy"]);
    await new Promise((r) => setTimeout(r, 250));
    expect(await rt.tenant("heavyco").send(new AgentId("ops", "c"), { op: "count" })).toBe(3);
    expect(host.tenantsWithWorkers()).toEqual(["heavyco"]);
    expect(host.metrics().retirements).toBe(2);
  });

  it("keeps the main loop free while a worker-tier handler burns CPU, and the watchdog still bounds it", async () => {
    const { rt } = make();
    await rt.start();
    // The warm-up turn starts the worker and loads the module (slow on a loaded machine): under the
    // tier's 5 s budget, before the 300 ms one this test is about.
    await rt.tenant("heavyco").send(new AgentId("ops", "warm"), { op: "echo", value: 0 });
    rt.setTierConfig("heavy", { isolation: "worker", turnTimeoutMs: 300 });
    const loop = rt.tenant("heavyco").send(new AgentId("ops", "spin"), { op: "loop" }).catch((e: unknown) => e);
    const t0 = performance.now();
    for (let i = 0; i < 50; i++) await rt.tenant("acme").send(new AgentId("inline", `k${i}`), i);
    const inlineMs = performance.now() - t0;
    expect(inlineMs).toBeLessThan(250);
    expect(await loop).toBeInstanceOf(TimeoutError);
  });

  it("passivates hosted agents through the host and restores their state on re-activation", async () => {
    const saved = new Map<string, unknown>();
    const store: AgentStateStore = {
      load: async (t: TenantId, a: AgentId) => saved.get(JSON.stringify([t, a.type, a.key])),
      save: async (t: TenantId, a: AgentId, s: unknown) => void saved.set(JSON.stringify([t, a.type, a.key]), s),
      delete: async (t: TenantId, a: AgentId) => void saved.delete(JSON.stringify([t, a.type, a.key])),
    };
    const { rt } = make({ stateStore: store, passivation: { idleMs: 30, sweepIntervalMs: 5 } });
    await rt.start();
    const heavy = rt.tenant("heavyco");
    expect(await heavy.send(new AgentId("ops", "c"), { op: "count" })).toBe(1);
    expect(await heavy.send(new AgentId("ops", "c"), { op: "count" })).toBe(2);
    await new Promise((r) => setTimeout(r, 150));
    expect(saved.get(JSON.stringify(["heavyco", "ops", "c"]))).toEqual({ count: 2 });
    expect(rt.metrics().heavyco!.passivations).toBe(1);
    expect(await heavy.send(new AgentId("ops", "c"), { op: "count" })).toBe(3);
  });
});
