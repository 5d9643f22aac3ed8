import { afterEach, describe, expect, it } from "vitest";
import { Runtime, type RuntimeOptions } from "./runtime.js";
import { AgentId, TopicId } from "./agents/ids.js";
import { typeSubscription } from "./agents/subscription.js";
import { CrossTenantError, HandlerError, InvalidArgumentError, QueueFullError, RateLimitedError, TimeoutError } from "./errors.js";

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
function burn(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}
function rootCause(e: unknown): unknown {
  while (e instanceof HandlerError) e = e.cause;
  return e;
}

describe("cross-tenant isolation", () => {
  it("refuses a handler reaching another tenant through runtime.tenant(), before and after an await", async () => {
    const rt = make();
    rt.register("target", () => ({ onMessage: () => "reached" }));
    rt.register("sneaky", () => ({
      onMessage: async (m) => {
        if (m === "sync") return rt.tenant("globex").send(new AgentId("target", "k"), "x");
        await sleep(1);
        return rt.tenant("globex").send(new AgentId("target", "k"), "x");
      },
    }));
    rt.register("sneaky-handle", () => {
      let handle: ReturnType<Runtime["tenant"]> | undefined;
      return {
        onMessage: async () => {
          handle ??= globexHandle;
          await sleep(1);
          return handle.publish(new TopicId("t", "s"), "x");
        },
      };
    });
    await rt.start();
    const globexHandle = rt.tenant("globex");
    for (const m of ["sync", "async"]) {
      const err = rootCause(await rt.tenant("acme").send(new AgentId("sneaky", "k"), m).catch((e: unknown) => e));
      expect(err).toBeInstanceOf(CrossTenantError);
      expect((err as Error).message).toMatch(/tenant "acme".*tenant "globex"/);
    }
    expect(rootCause(await rt.tenant("acme").send(new AgentId("sneaky-handle", "k"), 1).catch((e: unknown) => e))).toBeInstanceOf(CrossTenantError);
    expect(rt.metrics().globex?.turns ?? 0).toBe(0);
  });

  it("refuses subscriptions made from a handler for another tenant or runtime-wide", async () => {
    const rt = make();
    rt.register("sub", () => ({
      onMessage: (m) => {
        if (m === "other") rt.tenant("globex").subscribe(typeSubscription("t", "sub"));
        else rt.subscribe(typeSubscription("t", "sub"));
      },
    }));
    await rt.start();
    for (const m of ["other", "global"]) {
      expect(rootCause(await rt.tenant("acme").send(new AgentId("sub", "k"), m).catch((e: unknown) => e))).toBeInstanceOf(CrossTenantError);
    }
  });

  it("keeps sends from a handler in its own tenant, and refuses interceptors moving a message to another tenant", async () => {
    const rt = make();
    const tenantsSeen: string[] = [];
    rt.register("relay", () => ({ onMessage: (_m, ctx) => ctx.send(new AgentId("sink", "k"), 1) }));
    rt.register("sink", (c) => ({ onMessage: () => tenantsSeen.push(c.tenant) }));
    await rt.start();
    await rt.tenant("acme").send(new AgentId("relay", "k"), 1);
    expect(tenantsSeen).toEqual(["acme"]);
    rt.addInterceptor({ onSend: (e, next) => next({ ...e, tenant: "globex" as typeof e.tenant }) });
    rt.addInterceptor({ onPublish: (e, next) => next({ ...e, tenant: "globex" as typeof e.tenant }) });
    await expect(rt.tenant("acme").send(new AgentId("sink", "k"), 1)).rejects.toBeInstanceOf(CrossTenantError);
    await expect(rt.tenant("acme").publish(new TopicId("t", "s"), 1)).rejects.toBeInstanceOf(CrossTenantError);
    expect(tenantsSeen).toEqual(["acme"]);
  });

  it("keeps tenant-scoped subscriptions inside their tenant", async () => {
    const rt = make();
    const got: string[] = [];
    rt.register("l", (c) => ({ onMessage: () => got.push(c.tenant) }));
    rt.tenant("acme").subscribe(typeSubscription("t", "l"));
    await rt.start();
    await rt.tenant("globex").publish(new TopicId("t", "s"), 1);
    await rt.tenant("acme").publish(new TopicId("t", "s"), 1);
    await rt.stopWhenIdle();
    expect(got).toEqual(["acme"]);
  });
});

describe("quotas", () => {
  it("rejects past maxQueuedMessages with QueueFullError, memory bounded", async () => {
    const rt = make({ quotas: { tenants: { acme: { maxQueuedMessages: 5, maxInFlightTurns: 1 } } } });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    rt.register("w", () => ({ onMessage: () => gate }));
    await rt.start();
    const acme = rt.tenant("acme");
    const first = acme.send(new AgentId("w", "k0"), 0);
    await sleep(1); // k0 running, slot taken
    const queued = Array.from({ length: 5 }, (_, i) => acme.send(new AgentId("w", `k${i + 1}`), i));
    const err = await acme.send(new AgentId("w", "k9"), 9).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QueueFullError);
    expect((err as QueueFullError).code).toBe("QUEUE_FULL");
    expect(rt.metrics().acme!.queueDepth).toBe(5);
    expect(rt.metrics().acme!.rejectedQueueFull).toBe(1);
    // Another tenant is unaffected.
    rt.register("q", () => ({ onMessage: () => "fine" }));
    expect(await rt.tenant("globex").send(new AgentId("q", "k"), 1)).toBe("fine");
    release();
    await Promise.all([first, ...queued]);
  });

  it("limits turns in flight per tenant", async () => {
    const rt = make({ quotas: { tenants: { acme: { maxInFlightTurns: 2 } } } });
    let active = 0;
    let peak = 0;
    rt.register("w", () => ({
      onMessage: async () => {
        peak = Math.max(peak, ++active);
        await sleep(3);
        active--;
      },
    }));
    await rt.start();
    await Promise.all(Array.from({ length: 12 }, (_, i) => rt.tenant("acme").send(new AgentId("w", `k${i}`), i)));
    expect(peak).toBe(2);
  });

  it("rate-limits with a token bucket (burst, then RateLimitedError with retryAfterMs)", async () => {
    const rt = make({ quotas: { tiers: { free: { messagesPerSecond: 10, burst: 3 } }, tenants: { acme: { tier: "free" } } } });
    rt.register("e", () => ({ onMessage: () => 1 }));
    await rt.start();
    const acme = rt.tenant("acme");
    const results = await Promise.allSettled(Array.from({ length: 5 }, () => acme.send(new AgentId("e", "k"), 1)));
    expect(results.filter((r) => r.status === "fulfilled").length).toBe(3);
    const rejected = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
    expect(rejected.length).toBe(2);
    expect(rejected[0]!.reason).toBeInstanceOf(RateLimitedError);
    expect((rejected[0]!.reason as RateLimitedError).retryAfterMs).toBeGreaterThan(0);
    expect(rt.metrics().acme!.rejectedRateLimited).toBe(2);
    await sleep(150);
    expect(await acme.send(new AgentId("e", "k"), 1)).toBe(1);
    expect(await rt.tenant("globex").send(new AgentId("e", "k"), 1)).toBe(1);
  });

  it("validates quota config with a clear error and applies changes at runtime", async () => {
    expect(() => make({ quotas: { defaults: { maxInFlightTurns: -1 } } })).toThrow(/defaults\.maxInFlightTurns/);
    expect(() => make({ quotas: { tenants: { acme: { bogus: 1 } as never } } })).toThrow(InvalidArgumentError);
    const rt = make();
    rt.register("e", () => ({ onMessage: () => 1 }));
    await rt.start();
    rt.tenant("acme").configure({ messagesPerSecond: 1, burst: 1 });
    await rt.tenant("acme").send(new AgentId("e", "k"), 1);
    await expect(rt.tenant("acme").send(new AgentId("e", "k"), 1)).rejects.toBeInstanceOf(RateLimitedError);
    expect(() => rt.tenant("acme").configure({ tier: "missing" })).toThrow(/tier "missing"/);
  });
});

describe("watchdog", () => {
  it("aborts a turn past its budget, fails the caller, frees the agent and the slot even if the handler ignores the signal", async () => {
    const rt = make({ quotas: { tenants: { acme: { turnTimeoutMs: 40, maxInFlightTurns: 1 } } }, watchdogIntervalMs: 5 });
    let signalSeen: AbortSignal | undefined;
    let finishZombie!: (v: string) => void;
    rt.register("w", () => ({
      onMessage: (m, ctx) => {
        if (m === "zombie") {
          signalSeen = ctx.signal;
          return new Promise((r) => (finishZombie = r)); // ignores its signal
        }
        return `ok:${String(m)}`;
      },
    }));
    await rt.start();
    const acme = rt.tenant("acme");
    const started = performance.now();
    const zombie = acme.send(new AgentId("w", "same"), "zombie").catch((e: unknown) => e);
    const next = acme.send(new AgentId("w", "same"), "after"); // same agent, and the tenant's only slot
    const err = await zombie;
    expect(err).toBeInstanceOf(TimeoutError);
    expect(performance.now() - started).toBeLessThan(2000);
    expect(signalSeen?.aborted).toBe(true);
    expect(await next).toBe("ok:after");
    let m = rt.metrics().acme!;
    expect(m.timeouts).toBe(1);
    expect(m.abandonedHandlersRunning).toBe(1);
    finishZombie("too late");
    await sleep(1);
    m = rt.metrics().acme!;
    expect(m.abandonedHandlersRunning).toBe(0);
    expect(m.lateResultsDiscarded).toBe(1);
  });

  it("uses a per-type budget when registered with one", async () => {
    const rt = make({ watchdogIntervalMs: 5 });
    rt.register("quick", () => ({ onMessage: () => new Promise(() => {}) }), { turnTimeoutMs: 20 });
    await rt.start();
    await expect(rt.tenant("acme").send(new AgentId("quick", "k"), 1)).rejects.toBeInstanceOf(TimeoutError);
  });
});

describe("weighted fair scheduling", () => {
  it("a flooding tenant delays only itself", async () => {
    const rt = make({ quotas: { defaults: { maxQueuedMessages: 100_000 } } });
    const finishOrder: string[] = [];
    rt.register("cpu", (c) => ({
      onMessage: () => {
        burn(1);
        finishOrder.push(c.tenant);
      },
    }));
    await rt.start();
    const noisy = rt.tenant("noisy");
    const quiet = rt.tenant("quiet");
    const floods = Array.from({ length: 400 }, (_, i) => noisy.send(new AgentId("cpu", `n${i % 50}`), i));
    const quietOnes = Array.from({ length: 20 }, (_, i) => quiet.send(new AgentId("cpu", `q${i % 5}`), i));
    await Promise.all([...floods, ...quietOnes]);
    const lastQuiet = finishOrder.lastIndexOf("quiet");
    // With one shared FIFO the quiet tenant would finish last (index 419); fair scheduling
    // interleaves it, so it is done within roughly 2 x its own turns.
    expect(lastQuiet).toBeLessThan(80);
  });

  it("shares by weight under contention", async () => {
    const rt = make({ quotas: { defaults: { maxQueuedMessages: 100_000 }, tenants: { gold: { weight: 3 } } } });
    const order: string[] = [];
    rt.register("cpu", (c) => ({
      onMessage: () => {
        burn(0.3);
        order.push(c.tenant);
      },
    }));
    await rt.start();
    const all = [
      ...Array.from({ length: 200 }, (_, i) => rt.tenant("gold").send(new AgentId("cpu", `g${i % 20}`), i)),
      ...Array.from({ length: 200 }, (_, i) => rt.tenant("bronze").send(new AgentId("cpu", `b${i % 20}`), i)),
    ];
    await Promise.all(all);
    const firstHalf = order.slice(0, 160);
    const gold = firstHalf.filter((t) => t === "gold").length;
    // Expect about 3:1 (120 of 160); allow generous noise.
    expect(gold).toBeGreaterThan(95);
    expect(gold).toBeLessThan(150);
  });
});
