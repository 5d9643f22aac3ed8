import { afterEach, describe, expect, it } from "vitest";
import { InvalidArgumentError, RuntimeStoppedError, TimeoutError, UnknownAgentTypeError, WorkerCrashedError, WorkerTierFullError } from "../errors.js";
import type { TenantId } from "@troupe/contract";
import { parseTenantId } from "../tenancy/parse-tenant-id.js";
import type { HostedOutbound, HostedTurn } from "./turn-host.js";
import { WorkerThreadTurnHost } from "./worker-thread-turn-host.js";
import type { WorkerThreadTurnHostOptions } from "./worker-thread-turn-host.js";
import type { WorkerCrashEvent } from "./worker-slot.js";

const OPS_MODULE = new URL("./test-agents/ops-agent.ts", import.meta.url).href;
const acme = parseTenantId("acme");
const globex = parseTenantId("globex");
const initech = parseTenantId("initech");

let deliveries = 0;
function turn(tenant: TenantId, key: string, message: unknown, extra: Partial<HostedTurn> = {}): HostedTurn {
  return { tenant, agentType: "ops", agentKey: key, message, deliveryId: `d${deliveries++}`, hopCount: 0, signal: new AbortController().signal, ...extra };
}

describe("WorkerThreadTurnHost", () => {
  const hosts: WorkerThreadTurnHost[] = [];
  afterEach(async () => {
    await Promise.all(hosts.splice(0).map((h) => h.close()));
  });
  function host(options: Partial<WorkerThreadTurnHostOptions> = {}): WorkerThreadTurnHost {
    const h = new WorkerThreadTurnHost({
      agentTypes: [{ type: "ops", module: OPS_MODULE, exportName: "createOpsAgent" }],
      onOutbound: () => Promise.reject(new Error("no outbound expected")),
      ...options,
    });
    hosts.push(h);
    return h;
  }

  it("runs a turn in a worker with the tenant, agent id, hop count and traceparent in its context", async () => {
    const h = host();
    const traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    const result = (await h.runTurn(turn(acme, "k1", { op: "echo", value: { n: 1 } }, { hopCount: 3, deliveryId: "dx", traceparent }))) as Record<string, unknown>;
    expect(result).toEqual({ value: { n: 1 }, tenant: "acme", ctxTenant: "acme", agentId: { type: "ops", key: "k1" }, hopCount: 3, deliveryId: "dx", traceparent });
    expect(h.metrics().turnsStarted).toBe(1);
  });

  it("keeps the main event loop free while a handler burns CPU", async () => {
    const h = host();
    await h.runTurn(turn(acme, "warm", { op: "echo", value: 0 })); // worker started and tsx warm
    let maxLagMs = 0;
    let last = performance.now();
    const timer = setInterval(() => {
      const now = performance.now();
      maxLagMs = Math.max(maxLagMs, now - last - 10);
      last = now;
    }, 10);
    const started = performance.now();
    await h.runTurn(turn(acme, "cpu", { op: "burn", ms: 600 }));
    const elapsed = performance.now() - started;
    clearInterval(timer);
    expect(elapsed).toBeGreaterThanOrEqual(550);
    // Inline, the loop would stall for the full 600 ms; generous bound for a busy 2-core machine.
    expect(maxLagMs).toBeLessThan(300);
  });

  it("rehydrates handler errors with their name and message", async () => {
    const h = host();
    const error = await h.runTurn(turn(acme, "k", { op: "throw", name: "PaymentDeclined", message: "card declined" })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).name).toBe("PaymentDeclined");
    expect((error as Error).message).toBe("card declined");
    const unclonable = await h.runTurn(turn(acme, "k", { op: "unclonable" })).catch((e: unknown) => e);
    expect((unclonable as Error).name).toBe("DataCloneError");
    // The worker survived both.
    expect(await h.runTurn(turn(acme, "k", { op: "count" }))).toBe(1);
  });

  for (const op of ["exit", "throw-async", "reject-later"] as const) {
    it(`a handler that crashes its worker (${op}) fails its turn with WorkerCrashedError; the next turn runs on a replacement`, async () => {
      const crashes: WorkerCrashEvent[] = [];
      const h = host({ onWorkerCrash: (e) => crashes.push(e) });
      await h.runTurn(turn(acme, "a", { op: "count" }));
      const error = await h.runTurn(turn(acme, "a", { op })).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(WorkerCrashedError);
      expect((error as WorkerCrashedError).code).toBe("WORKER_CRASHED");
      expect(crashes).toHaveLength(1);
      expect(crashes[0]!.failedTurns).toBe(1);
      expect(crashes[0]!.tenant).toBe("acme");
      // A fresh worker: the agent starts over (its count is 1 again).
      expect(await h.runTurn(turn(acme, "a", { op: "count" }))).toBe(1);
      const m = h.metrics();
      expect(m.crashes).toBe(1);
      expect(m.restarts).toBe(1);
    });
  }

  it("backs off when workers crash in a loop, and starts over once a turn completes", async () => {
    const crashes: WorkerCrashEvent[] = [];
    const h = host({ restartBackoff: { initialMs: 50, maxMs: 1000 }, onWorkerCrash: (e) => crashes.push(e) });
    for (let i = 0; i < 3; i++) await expect(h.runTurn(turn(acme, "a", { op: "exit" }))).rejects.toBeInstanceOf(WorkerCrashedError);
    expect(crashes.map((c) => c.restartInMs)).toEqual([0, 50, 100]);
    expect(await h.runTurn(turn(acme, "a", { op: "count" }))).toBe(1);
    await expect(h.runTurn(turn(acme, "a", { op: "exit" }))).rejects.toBeInstanceOf(WorkerCrashedError);
    expect(crashes[3]!.restartInMs).toBe(0);
  });

  it("a crash fails every turn in that worker at once, and leaves the tenant's other worker and other tenants alone", async () => {
    const h = host({ size: 2 });
    // Agents are spread over a tenant's own workers by (type, key).
    const keys = Array.from({ length: 64 }, (_, i) => `k${i}`);
    const onZero = keys.filter((k) => h.workerIndexOf(acme, "ops", k) === 0);
    const onOne = keys.find((k) => h.workerIndexOf(acme, "ops", k) === 1)!;
    await Promise.all([h.runTurn(turn(acme, onZero[0]!, { op: "count" })), h.runTurn(turn(acme, onOne, { op: "count" })), h.runTurn(turn(globex, onZero[0]!, { op: "count" }))]);
    const waiting = h.runTurn(turn(acme, onZero[1]!, { op: "wait-abort" })).catch((e: unknown) => e);
    const slowSameTenant = h.runTurn(turn(acme, onOne, { op: "burn", ms: 200 }));
    // Same type and key as the crashing agent, but another tenant: another worker.
    const slowOtherTenant = h.runTurn(turn(globex, onZero[0]!, { op: "burn", ms: 200 }));
    await new Promise((r) => setTimeout(r, 50));
    const crashed = await h.runTurn(turn(acme, onZero[0]!, { op: "exit" })).catch((e: unknown) => e);
    expect(crashed).toBeInstanceOf(WorkerCrashedError);
    expect((crashed as Error).message).toMatch(/tenant "acme"/);
    expect(await waiting).toBeInstanceOf(WorkerCrashedError);
    expect(await slowSameTenant).toBe(true);
    expect(await slowOtherTenant).toBe(true);
    expect(await h.runTurn(turn(acme, onOne, { op: "count" }))).toBe(2);
    expect(await h.runTurn(turn(globex, onZero[0]!, { op: "count" }))).toBe(2);
    const m = h.metrics();
    expect(m.tenants.map((t) => [t.tenant, t.workers.map((w) => w.crashes)])).toEqual([
      ["acme", [1, 0]],
      ["globex", [0, 0]],
    ]);
    expect(m.tenants.find((t) => t.tenant === "acme")!.turnsLostToCrashes).toBe(2);
  });

  it("never shares a worker between tenants", async () => {
    const h = host();
    await Promise.all([h.runTurn(turn(acme, "same", { op: "count" })), h.runTurn(turn(globex, "same", { op: "count" }))]);
    const m = h.metrics();
    expect(h.tenantsWithWorkers().sort()).toEqual(["acme", "globex"]);
    expect(m.workers).toHaveLength(2);
    const threads = m.workers.map((w) => w.threadId);
    expect(threads.every((id) => typeof id === "number")).toBe(true);
    expect(new Set(threads).size).toBe(2);
    expect(m.workers.map((w) => [w.tenant, w.turnsStarted, w.activeAgents])).toEqual([
      ["acme", 1, 1],
      ["globex", 1, 1],
    ]);
  });

  it("a tenant crashing in a loop never fails or delays another tenant's turns (backoff is per tenant)", async () => {
    const crashes: WorkerCrashEvent[] = [];
    const h = host({ restartBackoff: { initialMs: 400, maxMs: 400 }, onWorkerCrash: (e) => crashes.push(e) });
    await Promise.all([h.runTurn(turn(acme, "warm", { op: "count" })), h.runTurn(turn(globex, "g", { op: "count" }))]);
    const bomb = (async () => {
      for (let i = 0; i < 4; i++) await h.runTurn(turn(acme, "bomb", { op: "exit" })).catch(() => undefined);
    })();
    let bombDone = false;
    void bomb.then(() => (bombDone = true));
    const latencies: number[] = [];
    let expected = 2;
    while (!bombDone) {
      const t0 = performance.now();
      expect(await h.runTurn(turn(globex, "g", { op: "count" }))).toBe(expected++);
      latencies.push(performance.now() - t0);
      await new Promise((r) => setTimeout(r, 5));
    }
    // Three restarts waited 400 ms each; had globex shared acme's worker it would have waited too.
    expect(crashes.map((c) => [c.tenant, c.restartInMs])).toEqual([
      ["acme", 0],
      ["acme", 400],
      ["acme", 400],
      ["acme", 400],
    ]);
    expect(latencies.length).toBeGreaterThan(10);
    expect(Math.max(...latencies)).toBeLessThan(300);
    expect(h.metrics().tenants.find((t) => t.tenant === "globex")!.crashes).toBe(0);
  });

  it("refuses a new tenant at once with WorkerTierFullError while every tenant slot is busy", async () => {
    const h = host({ maxTenants: 2, idleTenantMs: 0 });
    const acmeCall = new AbortController();
    const busyAcme = h.runTurn(turn(acme, "a", { op: "wait-abort" }, { signal: acmeCall.signal })).catch((e: unknown) => e);
    const busyGlobex = h.runTurn(turn(globex, "g", { op: "wait-abort" })).catch((e: unknown) => e);
    const t0 = performance.now();
    const refused = await h.runTurn(turn(initech, "i", { op: "count" })).catch((e: unknown) => e);
    expect(performance.now() - t0).toBeLessThan(100);
    expect(refused).toBeInstanceOf(WorkerTierFullError);
    expect((refused as WorkerTierFullError).code).toBe("WORKER_TIER_FULL");
    expect((refused as Error).message).toMatch(/maxTenants/);
    expect((refused as Error).message).toMatch(/"initech"/);
    expect(h.metrics().tierFullRejections).toBe(1);
    // acme's turn ends; with idleTenantMs 0 its idle worker makes room even though it holds an agent.
    acmeCall.abort();
    expect(((await busyAcme) as Error).name).toBe("AbortError");
    expect(await h.runTurn(turn(initech, "i", { op: "count" }))).toBe(1);
    expect(h.tenantsWithWorkers().sort()).toEqual(["globex", "initech"]);
    expect(h.metrics().retirements).toBe(1);
    await h.close();
    expect(await busyGlobex).toBeInstanceOf(RuntimeStoppedError);
  });

  it("retires an idle tenant to make room: one holding no agents at once, one holding agents after idleTenantMs, with their state handed back", async () => {
    const h = host({ maxTenants: 1, idleTenantMs: 150 });
    expect(await h.runTurn(turn(acme, "c", { op: "count" }))).toBe(1);
    expect(await h.runTurn(turn(acme, "c", { op: "count" }))).toBe(2);
    // acme is idle but its worker holds an agent, and not for idleTenantMs yet.
    await expect(h.runTurn(turn(globex, "g", { op: "count" }))).rejects.toBeInstanceOf(WorkerTierFullError);
    await new Promise((r) => setTimeout(r, 200));
    expect(await h.runTurn(turn(globex, "g", { op: "count" }))).toBe(1);
    let m = h.metrics();
    expect(h.tenantsWithWorkers()).toEqual(["globex"]);
    expect(m.retirements).toBe(1);
    expect(m.heldAgentStates).toBe(1);
    expect(m.turnsStarted).toBe(3);
    // globex's agent passivates (the runtime would do this after its idle time): globex now holds no
    // agents, so acme takes its room at once and its agent resumes where it was.
    expect(await h.deactivate(globex, "ops", "g")).toEqual({ count: 1 });
    expect(await h.runTurn(turn(acme, "c", { op: "count" }))).toBe(3);
    m = h.metrics();
    expect(h.tenantsWithWorkers()).toEqual(["acme"]);
    expect(m.retirements).toBe(2);
    expect(m.heldAgentStates).toBe(0);
    expect(m.agentStatesLost).toBe(0);
  });

  it("never retires a tenant with a turn in flight, however long it has run", async () => {
    const h = host({ maxTenants: 1, idleTenantMs: 0 });
    const busy = h.runTurn(turn(acme, "a", { op: "burn", ms: 300 }));
    await new Promise((r) => setTimeout(r, 100));
    await expect(h.runTurn(turn(globex, "g", { op: "count" }))).rejects.toBeInstanceOf(WorkerTierFullError);
    expect(await busy).toBe(true);
    expect(h.metrics().retirements).toBe(0);
  });

  it("keeps a state given to a turn that was refused, for the agent's next turn or deactivation", async () => {
    const h = host({ maxTenants: 1 });
    const acmeCall = new AbortController();
    const busy = h.runTurn(turn(acme, "a", { op: "wait-abort" }, { signal: acmeCall.signal })).catch(() => undefined);
    await expect(h.runTurn(turn(globex, "g", { op: "count" }, { state: { count: 5 } }))).rejects.toBeInstanceOf(WorkerTierFullError);
    await expect(h.runTurn(turn(globex, "h", { op: "count" }, { state: { count: 7 } }))).rejects.toBeInstanceOf(WorkerTierFullError);
    expect(h.metrics().heldAgentStates).toBe(2);
    expect(await h.deactivate(globex, "ops", "h")).toEqual({ count: 7 });
    acmeCall.abort();
    await busy;
    await h.deactivate(acme, "ops", "a");
    expect(await h.runTurn(turn(globex, "g", { op: "count" }))).toBe(6);
    expect(h.metrics().heldAgentStates).toBe(0);
  });

  it("terminates a worker whose aborted handler loops forever, after the grace period", async () => {
    const h = host({ abortGraceMs: 200 });
    await h.runTurn(turn(acme, "warm", { op: "echo", value: 0 }));
    const controller = new AbortController();
    const started = performance.now();
    const looping = h.runTurn(turn(acme, "loop", { op: "loop" }, { signal: controller.signal })).catch((e: unknown) => e);
    setTimeout(() => controller.abort(), 100);
    const error = await looping;
    expect(error).toBeInstanceOf(WorkerCrashedError);
    expect((error as Error).message).toMatch(/did not answer within 200 ms/);
    expect(performance.now() - started).toBeGreaterThanOrEqual(250);
    expect(h.metrics().stuckTerminations).toBe(1);
    expect(await h.runTurn(turn(acme, "loop", { op: "count" }))).toBe(1);
  });

  it("forwards abort to the handler's signal; a handler that honours it is not terminated", async () => {
    const h = host({ abortGraceMs: 5000 });
    const controller = new AbortController();
    const pending = h.runTurn(turn(acme, "w", { op: "wait-abort" }, { signal: controller.signal })).catch((e: unknown) => e);
    setTimeout(() => controller.abort(), 50);
    const error = (await pending) as Error;
    expect(error.name).toBe("AbortError");
    expect(error).not.toBeInstanceOf(WorkerCrashedError);
    expect(h.metrics().crashes).toBe(0);
  });

  it("an out-of-memory handler crashes only its worker (resourceLimits)", async () => {
    const h = host({ resourceLimits: { maxOldGenerationSizeMb: 32, maxYoungGenerationSizeMb: 8 } });
    const error = await h.runTurn(turn(acme, "big", { op: "oom" })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WorkerCrashedError);
    expect(await h.runTurn(turn(acme, "big", { op: "count" }))).toBe(1);
  });

  it("round-trips sends and publishes through onOutbound with the turn's tenant, sender, hop count and traceparent", async () => {
    const seen: HostedOutbound[] = [];
    const h = host({
      onOutbound: async (o) => {
        seen.push(o);
        if (o.kind === "send" && "type" in o.to && o.to.key === "fails") throw new TimeoutError("no answer in time");
        return o.kind === "send" ? { answer: 42 } : "ignored";
      },
    });
    const traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    expect(await h.runTurn(turn(acme, "s", { op: "send", to: { type: "peer", key: "p1" }, message: { q: 1 } }, { hopCount: 2, traceparent }))).toEqual({ answer: 42 });
    expect(seen[0]).toEqual({ kind: "send", tenant: "acme", from: { type: "ops", key: "s" }, to: { type: "peer", key: "p1" }, message: { q: 1 }, hopCount: 2, timeoutMs: 1000, traceparent });
    expect(await h.runTurn(turn(acme, "s", { op: "publish", topic: { type: "news", source: "x" }, message: "m" }))).toBe("published");
    expect(seen[1]).toMatchObject({ kind: "publish", tenant: "acme", to: { topicType: "news", topicSource: "x" } });
    const error = (await h.runTurn(turn(acme, "s", { op: "send", to: { type: "peer", key: "fails" }, message: 1 })).catch((e: unknown) => e)) as Error & { code?: string };
    expect(error.name).toBe("TimeoutError");
    expect(error.code).toBe("TIMEOUT");
    expect(error.message).toBe("no answer in time");
  });

  it("refuses outbound messages once the sending turn has ended", async () => {
    const seen: HostedOutbound[] = [];
    const h = host({ onOutbound: async (o) => void seen.push(o) });
    expect(await h.runTurn(turn(acme, "late", { op: "send-late" }))).toBe("ok");
    expect(await h.runTurn(turn(acme, "late", { op: "count" }))).toMatch(/^MessageDroppedError: .*already ended/);
    expect(seen).toHaveLength(0);
  });

  it("hands state over: deactivate returns saveState, and state given to a turn is loaded on activation", async () => {
    const h = host();
    await h.runTurn(turn(acme, "st", { op: "count" }));
    await h.runTurn(turn(acme, "st", { op: "count" }));
    expect(await h.deactivate(acme, "ops", "st")).toEqual({ count: 2 });
    expect(await h.deactivate(acme, "ops", "st")).toBeUndefined();
    expect(await h.runTurn(turn(acme, "st", { op: "count" }, { state: { count: 10 } }))).toBe(11);
    // Tenants are separate: the same type and key under another tenant is another agent.
    expect(await h.runTurn(turn(globex, "st", { op: "count" }))).toBe(1);
  });

  it("loads agent types named by the turn, and fails unknown types and bad exports clearly", async () => {
    const h = host({ agentTypes: [] });
    await expect(h.runTurn(turn(acme, "x", { op: "count" }))).rejects.toBeInstanceOf(UnknownAgentTypeError);
    expect(await h.runTurn(turn(acme, "x", { op: "count" }, { module: OPS_MODULE, exportName: "createOpsAgent" }))).toBe(1);
    expect(await h.runTurn(turn(acme, "x", { op: "count" }))).toBe(2);
    await expect(h.runTurn(turn(acme, "x", { op: "count" }, { module: OPS_MODULE, exportName: "other" }))).rejects.toBeInstanceOf(InvalidArgumentError);
    const bad = await h.runTurn({ ...turn(acme, "y", {}), agentType: "broken", module: OPS_MODULE, exportName: "nope" }).catch((e: unknown) => e);
    expect((bad as Error).message).toMatch(/no function export "nope"/);
  });

  it("validates its options", () => {
    expect(() => new WorkerThreadTurnHost({ onOutbound: async () => undefined, size: 0 })).toThrow(/size/);
    expect(() => new WorkerThreadTurnHost({ onOutbound: async () => undefined, maxTenants: 0 })).toThrow(/option maxTenants/);
    expect(() => new WorkerThreadTurnHost({ onOutbound: async () => undefined, idleTenantMs: -1 })).toThrow(/option idleTenantMs/);
    expect(() => new WorkerThreadTurnHost({ onOutbound: async () => undefined, maxHeldAgentStates: 1.5 })).toThrow(/option maxHeldAgentStates/);
    expect(() => new WorkerThreadTurnHost({ onOutbound: async () => undefined, agentTypes: [{ type: "a", module: "x" }, { type: "a", module: "y" }] })).toThrow(/listed twice/);
  });

  it("settles running turns on close and refuses new ones", async () => {
    const h = host();
    const pending = h.runTurn(turn(acme, "c", { op: "wait-abort" })).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 50));
    await h.close();
    expect(await pending).toBeInstanceOf(RuntimeStoppedError);
    await expect(h.runTurn(turn(acme, "c", { op: "count" }))).rejects.toBeInstanceOf(RuntimeStoppedError);
  });
});
