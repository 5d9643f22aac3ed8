import { describe, expect, it, afterEach, onTestFinished, vi } from "vitest";
import { Runtime } from "./runtime.js";
import { TurnDispatcher } from "./runtime/turn-dispatcher.js";
import { TurnWatchdog } from "./scheduling/turn-watchdog.js";
import { AgentId, TopicId } from "./agents/ids.js";
import { prefixSubscription, typeSubscription } from "./agents/subscription.js";
import { DROP } from "./agents/interceptor.js";
import type { MessageContext } from "./agents/agent.js";
import {
  AbortedError,
  HandlerError,
  InvalidArgumentError,
  LoopDetectedError,
  MessageDroppedError,
  RuntimeStoppedError,
  TimeoutError,
  UnknownAgentTypeError,
} from "./errors.js";

const runtimes: Runtime[] = [];
function make(options: ConstructorParameters<typeof Runtime>[0] = {}): Runtime {
  const rt = new Runtime(options);
  runtimes.push(rt);
  return rt;
}
afterEach(async () => {
  await Promise.all(runtimes.splice(0).map((r) => r.stop()));
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("Runtime routing", () => {
  it("creates agents lazily per (tenant, type, key) and returns the handler's result", async () => {
    const rt = make();
    const created: string[] = [];
    rt.register("counter", (ctx) => {
      created.push(`${ctx.tenant}:${ctx.agentId.key}`);
      let n = 0;
      return { onMessage: (m) => `${ctx.agentId.key}:${(n += m as number)}` };
    });
    await rt.start();
    expect(created).toEqual([]);
    const acme = rt.tenant("acme");
    expect(await acme.send(new AgentId("counter", "a"), 1)).toBe("a:1");
    expect(await acme.send(new AgentId("counter", "a"), 2)).toBe("a:3");
    expect(await acme.send(new AgentId("counter", "b"), 5)).toBe("b:5");
    expect(await rt.tenant("globex").send(new AgentId("counter", "a"), 7)).toBe("a:7");
    expect(created).toEqual(["acme:a", "acme:b", "globex:a"]);
  });

  it("fails at once for an unknown agent type and for sends before start", async () => {
    const rt = make();
    rt.register("x", () => ({ onMessage: () => 1 }));
    await expect(rt.tenant("acme").send(new AgentId("x", "k"), 1)).rejects.toBeInstanceOf(RuntimeStoppedError);
    await rt.start();
    await expect(rt.tenant("acme").send(new AgentId("nope", "k"), 1)).rejects.toBeInstanceOf(UnknownAgentTypeError);
  });

  it("validates tenant ids and ids at ingress", async () => {
    const rt = make();
    await rt.start();
    expect(() => rt.tenant("Bad Tenant!")).toThrow(InvalidArgumentError);
    expect(() => rt.tenant("")).toThrow(/1-63 characters/);
    expect(() => new AgentId("9bad", "k")).toThrow(InvalidArgumentError);
    await expect(rt.tenant("acme").send({ type: 7, key: "k" } as unknown as AgentId, 1)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(rt.tenant("acme").send({ type: "has space", key: "k" } as unknown as AgentId, 1)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(rt.tenant("acme").publish("news" as unknown as TopicId, 1)).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it("wraps a handler's error in HandlerError with the cause kept", async () => {
    const rt = make();
    rt.register("bad", () => ({
      onMessage: async () => {
        throw new RangeError("boom");
      },
    }));
    await rt.start();
    const err = await rt.tenant("acme").send(new AgentId("bad", "k"), 1).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HandlerError);
    expect((err as HandlerError).code).toBe("HANDLER_ERROR");
    expect((err as Error).cause).toBeInstanceOf(RangeError);
    expect(rt.metrics().acme!.errors).toBe(1);
  });

  it("publishes to type and prefix subscribers of the same tenant, key = topic source, results ignored", async () => {
    const rt = make();
    const seen: string[] = [];
    for (const type of ["listener", "auditor"]) {
      rt.register(type, (ctx) => ({
        onMessage: (m, mc: MessageContext) => {
          seen.push(`${ctx.tenant}/${type}/${ctx.agentId.key}/${mc.topic?.type}/${String(m)}`);
          if (type === "auditor") throw new Error("ignored by publisher");
        },
      }));
    }
    rt.subscribe(typeSubscription("news", "listener"));
    rt.tenant("acme").subscribe(prefixSubscription("news.", "auditor"));
    await rt.start();
    await rt.tenant("acme").publish(new TopicId("news", "src1"), "a");
    await rt.tenant("acme").publish(new TopicId("news.sports", "src2"), "b");
    await rt.tenant("globex").publish(new TopicId("news.sports", "src3"), "c");
    await rt.tenant("globex").publish(new TopicId("news", "src4"), "d");
    await rt.stopWhenIdle();
    expect(seen.sort()).toEqual(["acme/auditor/src2/news.sports/b", "acme/listener/src1/news/a", "globex/listener/src4/news/d"]);
    expect(rt.metrics().acme!.publishErrors).toBe(1);
  });
});

describe("Runtime mailboxes", () => {
  it("runs one message at a time per agent and different agents concurrently", async () => {
    const rt = make();
    let active = 0;
    let maxActivePerAgent = 0;
    const perAgent = new Map<string, number>();
    rt.register("slow", (ctx) => ({
      onMessage: async () => {
        const k = ctx.agentId.key;
        perAgent.set(k, (perAgent.get(k) ?? 0) + 1);
        maxActivePerAgent = Math.max(maxActivePerAgent, perAgent.get(k)!);
        active++;
        const peak = active;
        await sleep(5);
        active--;
        perAgent.set(k, perAgent.get(k)! - 1);
        return peak;
      },
    }));
    await rt.start();
    const acme = rt.tenant("acme");
    const peaks = await Promise.all(Array.from({ length: 20 }, (_, i) => acme.send(new AgentId("slow", `k${i % 4}`), i)));
    expect(maxActivePerAgent).toBe(1);
    expect(Math.max(...(peaks as number[]))).toBeGreaterThan(1);
    expect(Math.max(...(peaks as number[]))).toBeLessThanOrEqual(4);
  });

  it("keeps FIFO order per agent", async () => {
    const rt = make();
    const order: number[] = [];
    rt.register("log", () => ({
      onMessage: async (m) => {
        await sleep(Math.random() * 2);
        order.push(m as number);
      },
    }));
    await rt.start();
    await Promise.all(Array.from({ length: 30 }, (_, i) => rt.tenant("acme").send(new AgentId("log", "one"), i)));
    expect(order).toEqual(Array.from({ length: 30 }, (_, i) => i));
  });
});

describe("Runtime send options and lifecycle", () => {
  it("times out a caller and aborts the turn's signal", async () => {
    const rt = make();
    let abortedReason: unknown;
    rt.register("hang", () => ({
      onMessage: (_m, ctx) =>
        new Promise((_resolve, reject) => {
          ctx.signal.addEventListener("abort", () => {
            abortedReason = ctx.signal.reason;
            reject(ctx.signal.reason);
          });
        }),
    }));
    await rt.start();
    const err = await rt.tenant("acme").send(new AgentId("hang", "k"), 1, { timeoutMs: 30 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TimeoutError);
    expect(abortedReason).toBeInstanceOf(TimeoutError);
  });

  it("settles with AbortedError when the caller aborts, including an already-aborted signal", async () => {
    const rt = make();
    rt.register("hang", () => ({ onMessage: (_m, ctx) => new Promise((r) => ctx.signal.addEventListener("abort", () => r("late"))) }));
    await rt.start();
    const ac = new AbortController();
    const p = rt.tenant("acme").send(new AgentId("hang", "k"), 1, { signal: ac.signal });
    setTimeout(() => ac.abort(), 10);
    await expect(p).rejects.toBeInstanceOf(AbortedError);
    await expect(rt.tenant("acme").send(new AgentId("hang", "k2"), 1, { signal: AbortSignal.abort() })).rejects.toBeInstanceOf(AbortedError);
    await expect(rt.tenant("acme").send(new AgentId("hang", "k2"), 1, { timeoutMs: -1 })).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it("stop() settles every pending send with RuntimeStoppedError and aborts running turns", async () => {
    const rt = make();
    const signals: AbortSignal[] = [];
    rt.register("hang", () => ({
      onMessage: (_m, ctx) => {
        signals.push(ctx.signal);
        return new Promise(() => {});
      },
    }));
    await rt.start();
    const pending = Array.from({ length: 10 }, (_, i) => rt.tenant("acme").send(new AgentId("hang", `k${i % 3}`), i).catch((e: unknown) => e));
    await sleep(5);
    await rt.stop();
    const results = await Promise.all(pending);
    expect(results.every((r) => r instanceof RuntimeStoppedError)).toBe(true);
    expect(signals.length).toBe(3);
    expect(signals.every((s) => s.aborted)).toBe(true);
    await expect(rt.tenant("acme").send(new AgentId("hang", "k"), 1)).rejects.toBeInstanceOf(RuntimeStoppedError);
  });

  it("stopWhenIdle() waits for queued and running work", async () => {
    const rt = make();
    let done = 0;
    rt.register("w", () => ({
      onMessage: async () => {
        await sleep(2);
        done++;
      },
    }));
    await rt.start();
    for (let i = 0; i < 20; i++) void rt.tenant("acme").send(new AgentId("w", `k${i % 5}`), i);
    await rt.stopWhenIdle();
    expect(done).toBe(20);
    expect(rt.isRunning).toBe(false);
  });
});

describe("Runtime interceptors", () => {
  it("rewrite messages on send and deliver, and see results", async () => {
    const rt = make();
    rt.register("echo", () => ({ onMessage: (m) => m }));
    const seen: string[] = [];
    rt.addInterceptor({
      onSend: async (e, next) => {
        seen.push(`send:${e.recipient.toString()}`);
        const r = await next({ ...e, message: `${String(e.message)}+send` });
        return `${String(r)}+result`;
      },
      onDeliver: (e, next) => next({ ...e, message: `${String(e.message)}+deliver` }),
    });
    await rt.start();
    expect(await rt.tenant("acme").send(new AgentId("echo", "k"), "m")).toBe("m+send+deliver+result");
    expect(seen).toEqual(["send:echo/k"]);
  });

  it("drop messages with DROP or MessageDroppedError, counted", async () => {
    const rt = make();
    const got: unknown[] = [];
    rt.register("echo", () => ({ onMessage: (m) => got.push(m) }));
    rt.subscribe(typeSubscription("t", "echo"));
    rt.addInterceptor({
      onSend: (e, next) => (e.message === "drop" ? DROP : next(e)),
      onPublish: (e, next) => {
        if (e.message === "drop") throw new MessageDroppedError("no");
        return next(e);
      },
      onDeliver: (e, next) => (e.message === "drop-late" ? DROP : next(e)),
    });
    await rt.start();
    const acme = rt.tenant("acme");
    await expect(acme.send(new AgentId("echo", "k"), "drop")).rejects.toBeInstanceOf(MessageDroppedError);
    await expect(acme.send(new AgentId("echo", "k"), "drop-late")).rejects.toBeInstanceOf(MessageDroppedError);
    await acme.publish(new TopicId("t", "s"), "drop");
    await acme.publish(new TopicId("t", "s"), "ok");
    await rt.stopWhenIdle();
    expect(got).toEqual(["ok"]);
    expect(rt.metrics().acme!.dropped).toBe(3);
  });
});

describe("Runtime loop guard", () => {
  it("drops a message past maxHops with LoopDetectedError", async () => {
    const rt = make({ maxHops: 5 });
    const hops: number[] = [];
    rt.register("ping", () => ({
      onMessage: (_m, ctx) => {
        hops.push(ctx.hopCount);
        return ctx.send(new AgentId("ping", `k${ctx.hopCount + 1}`), "again");
      },
    }));
    await rt.start();
    const err = await rt.tenant("acme").send(new AgentId("ping", "k0"), "go").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HandlerError);
    let cause: unknown = err;
    while (cause instanceof HandlerError) cause = cause.cause;
    expect(cause).toBeInstanceOf(LoopDetectedError);
    expect(hops).toEqual([0, 1, 2, 3, 4, 5]);
    expect(rt.metrics().acme!.rejectedLoop).toBe(1);
  });

  it("drops a publish loop too", async () => {
    const rt = make({ maxHops: 3 });
    let turns = 0;
    rt.register("echoer", () => ({
      onMessage: (_m, ctx) => {
        turns++;
        return ctx.publish(new TopicId("loop", "s"), "x");
      },
    }));
    rt.subscribe(typeSubscription("loop", "echoer"));
    await rt.start();
    await rt.tenant("acme").publish(new TopicId("loop", "s"), "x");
    await rt.stopWhenIdle();
    expect(turns).toBe(4);
    expect(rt.metrics().acme!.rejectedLoop).toBe(1);
    expect(rt.metrics().acme!.publishErrors).toBe(1);
  });
});

describe("Runtime dispatch slice", () => {
  /**
   * Sends `count` turns of `turnMs` of CPU each to distinct agents at once, while an event-loop ticker
   * counts yields; returns how many turns ran between consecutive yields.
   */
  async function turnsPerYield(options: ConstructorParameters<typeof Runtime>[0], count: number, turnMs: number): Promise<number[]> {
    const rt = make({ ...options, asyncTenantGuard: false });
    let tick = 0;
    const ranAt: number[] = [];
    rt.register("burn", () => ({
      onMessage: () => {
        ranAt.push(tick);
        const end = performance.now() + turnMs;
        while (performance.now() < end);
      },
    }));
    await rt.start();
    let ticking = true;
    const ticker = (): void => {
      tick++;
      if (ticking) setImmediate(ticker);
    };
    setImmediate(ticker);
    await Promise.all(Array.from({ length: count }, (_, i) => rt.tenant("acme").send(new AgentId("burn", `k${i}`), null)));
    ticking = false;
    const batches = new Map<number, number>();
    for (const t of ranAt) batches.set(t, (batches.get(t) ?? 0) + 1);
    return [...batches.values()];
  }

  it("yields after every slice when no growth is allowed", async () => {
    const batches = await turnsPerYield({ dispatchSliceMs: 1 }, 40, 2);
    expect(Math.max(...batches)).toBe(1);
  });

  it("grows the slice under a backlog, up to maxDispatchSliceMs, and keeps it short for a small queue", async () => {
    // 120 turns of 2 ms queued: a quarter of the backlog is far above 16 ms, so slices reach the cap (8 turns).
    const deep = await turnsPerYield({ dispatchSliceMs: 1, maxDispatchSliceMs: 16 }, 120, 2);
    expect(Math.max(...deep)).toBeGreaterThanOrEqual(6);
    expect(Math.max(...deep)).toBeLessThanOrEqual(9);
    // Three turns queued: nothing to spread the yields over; each turn still yields.
    const shallow = await turnsPerYield({ dispatchSliceMs: 1, maxDispatchSliceMs: 16 }, 3, 2);
    expect(Math.max(...shallow)).toBe(1);
  });

  it("refuses a maximum slice below the slice", () => {
    expect(() => new Runtime({ dispatchSliceMs: 10, maxDispatchSliceMs: 5 })).toThrow(/maxDispatchSliceMs \(5\) must not be below dispatchSliceMs \(10\)/);
  });
});

describe("Runtime watchdog", () => {
  it("wakes only when a running turn's budget is due: turns waiting on I/O cost no timer wake-ups", async () => {
    // Observed through the watchdog's and the dispatcher's own methods (the runtime holds both in
    // #private fields): every wake-up asks the dispatcher to check deadlines, and the watchdog the
    // runtime arms is the one whose timer must not keep an idle process alive.
    const checks = vi.spyOn(TurnDispatcher.prototype, "checkDeadlines");
    const arms = vi.spyOn(TurnWatchdog.prototype, "watchDeadline");
    onTestFinished(() => {
      checks.mockRestore();
      arms.mockRestore();
    });
    const rt = make({ watchdogIntervalMs: 5 });
    rt.register("io", () => ({ onMessage: () => sleep(150) }));
    rt.register("stuck", () => ({ onMessage: () => new Promise(() => undefined) }));
    await rt.start();
    await Promise.all(Array.from({ length: 20 }, (_, i) => rt.tenant("acme").send(new AgentId("io", `k${i}`), null)));
    // A 150 ms wait under a 30 s budget: the old 5 ms tick would have fired about 30 times.
    expect(checks).not.toHaveBeenCalled();
    rt.setTenantConfig("acme", { turnTimeoutMs: 60 });
    const t0 = performance.now();
    await expect(rt.tenant("acme").send(new AgentId("stuck", "s"), null)).rejects.toThrow(/exceeded its time budget of 60 ms/);
    const took = performance.now() - t0;
    expect(took).toBeGreaterThanOrEqual(59);
    expect(checks.mock.calls.length).toBeLessThanOrEqual(2);
    // Nothing in flight: no timer keeps the process alive (an idle process can exit).
    const watchdogs = new Set(arms.mock.contexts);
    expect(watchdogs.size).toBe(1);
    const [watchdog] = watchdogs as Set<TurnWatchdog>;
    const timer = (): NodeJS.Timeout | null => watchdog!.timer;
    expect(timer()?.hasRef() ?? false).toBe(false);
    // No budget at all still arms a timer while the turn runs (a pending send keeps the process alive).
    rt.register("unbounded", () => ({ onMessage: () => sleep(60) }), { turnTimeoutMs: Number.POSITIVE_INFINITY });
    const running = rt.tenant("acme").send(new AgentId("unbounded", "u"), null);
    await sleep(20);
    expect(timer()?.hasRef()).toBe(true);
    await running;
    expect(timer()?.hasRef() ?? false).toBe(false);
  });
});
