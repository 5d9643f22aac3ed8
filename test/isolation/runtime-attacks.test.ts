// Cross-tenant attempts against the runtime: handlers of one tenant trying to reach, configure,
// starve or bill another; hostile ids; shared tools; moved state blobs. Each must fail with a typed
// error (or have no effect) and leak nothing.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect } from "vitest";
import {
  AgentId,
  BudgetExceededError,
  CrossTenantError,
  EncryptedStateStore,
  FileBlobStore,
  InvalidArgumentError,
  LlmClients,
  LlmProviderError,
  MasterKeyring,
  QueueFullError,
  RateLimitedError,
  Runtime,
  StateIntegrityError,
  ToolError,
  ToolRegistry,
  TopicId,
  WorkerThreadTurnHost,
  parseTenantId,
  typeSubscription,
  type MessageContext,
  type Subscription,
  type TenantHandle,
  type TenantId,
} from "@troupe/runtime";
import { startMockOpenAiServer, type MockOpenAiServer } from "@troupe/runtime/testing";
import { attemptTable, describeError, rootCause } from "./attempt-table.js";

const attempt = attemptTable("runtime-attacks");
const S = "runtime";

type Op = (ctx: MessageContext) => unknown;

let rt: Runtime;
let host: WorkerThreadTurnHost;
let acme: TenantHandle;
let globex: TenantHandle;
let dir: string;
let llmServer: MockOpenAiServer;
/** Every turn any agent ran, with the tenant it ran for. */
const seen: Array<{ tenant: string; agent: string; message: unknown }> = [];
const OPS = { module: new URL("../../runtime/src/isolation/test-agents/ops-agent.ts", import.meta.url), exportName: "createOpsAgent" };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "troupe-iso-rt-"));
  const ref: { rt?: Runtime } = {};
  host = new WorkerThreadTurnHost({ onOutbound: (o) => ref.rt!.handleHostedOutbound(o), abortGraceMs: 200, restartBackoff: { initialMs: 0, maxMs: 50 } });
  rt = new Runtime({
    turnHost: host,
    quotas: {
      tiers: { heavy: { isolation: "worker" } },
      tenants: { limited: { messagesPerSecond: 5, burst: 5 }, tiny: { maxQueuedMessages: 2, maxInFlightTurns: 1 }, heavyco: { tier: "heavy" } },
    },
  });
  ref.rt = rt;
  rt.register("sink", () => ({
    onMessage: (m, ctx) => {
      seen.push({ tenant: ctx.tenant, agent: ctx.agentId.toString(), message: m });
      return ctx.tenant;
    },
  }));
  // Runs the function it is sent, inside its turn: the attacker's handler.
  rt.register("attacker", () => ({ onMessage: (m) => (m as Op)(undefined as never) }));
  rt.register("ctx-attacker", () => ({ onMessage: (m, ctx) => (m as Op)(ctx) }));
  rt.register("counter", () => {
    let n = 0;
    return { onMessage: () => ++n };
  });
  rt.register("slow", () => ({ onMessage: () => new Promise((r) => setTimeout(r, 150)) }));
  rt.registerModule("ops", OPS);
  await rt.start();
  acme = rt.tenant("acme");
  globex = rt.tenant("globex");
  llmServer = await startMockOpenAiServer({
    // The provider is down for tenant "acme" (its key), fine for everyone else.
    behaviour: (req) =>
      req.authorization === "Bearer sk-acme-down"
        ? { type: "error", status: 503, message: "overloaded" }
        : { type: "completion", content: "ok", usage: { promptTokens: 10, completionTokens: 5 } },
  });
});

afterAll(async () => {
  await rt?.stop();
  await host?.close();
  await llmServer?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Runs `op` as a handler of `tenant` and returns what the send settled with (value or error). */
async function inTurnOf(tenant: TenantHandle, op: Op, type = "ctx-attacker"): Promise<unknown> {
  return tenant.send(new AgentId(type, `k${Math.random()}`), op).then(
    (v) => v,
    (e: unknown) => e,
  );
}

function seenBy(tenant: string, marker: string): number {
  return seen.filter((s) => s.tenant === tenant && JSON.stringify(s.message ?? null).includes(marker)).length;
}

describe("runtime: reaching another tenant from a handler", () => {
  attempt(S, "handler of acme sends to globex via runtime.tenant('globex') (sync)", "CrossTenantError, globex never runs", async () => {
    const err = await inTurnOf(acme, () => rt.tenant("globex").send(new AgentId("sink", "x"), "m-sync"));
    expect(rootCause(err)).toBeInstanceOf(CrossTenantError);
    expect(seenBy("globex", "m-sync")).toBe(0);
    return describeError(rootCause(err));
  });

  attempt(S, "handler of acme sends to globex after an await (async guard)", "CrossTenantError, globex never runs", async () => {
    const err = await inTurnOf(acme, async () => {
      await new Promise((r) => setTimeout(r, 5));
      return rt.tenant("globex").send(new AgentId("sink", "x"), "m-async");
    });
    expect(rootCause(err)).toBeInstanceOf(CrossTenantError);
    expect(seenBy("globex", "m-async")).toBe(0);
    return describeError(rootCause(err));
  });

  attempt(S, "handler of acme uses a globex TenantHandle captured before the turn", "CrossTenantError", async () => {
    const err = await inTurnOf(acme, () => globex.send(new AgentId("sink", "x"), "m-captured"));
    expect(rootCause(err)).toBeInstanceOf(CrossTenantError);
    expect(seenBy("globex", "m-captured")).toBe(0);
    return describeError(rootCause(err));
  });

  attempt(S, "handler of acme publishes on globex's handle", "CrossTenantError, no globex delivery", async () => {
    const err = await inTurnOf(acme, () => globex.publish(new TopicId("news", "x"), "m-pub"));
    expect(rootCause(err)).toBeInstanceOf(CrossTenantError);
    expect(seenBy("globex", "m-pub")).toBe(0);
    return describeError(rootCause(err));
  });

  attempt(S, "handler of acme subscribes on globex's handle (to read globex's topics)", "CrossTenantError", async () => {
    const err = await inTurnOf(acme, () => globex.subscribe(typeSubscription("spy", "sink")));
    expect(rootCause(err)).toBeInstanceOf(CrossTenantError);
    return describeError(rootCause(err));
  });

  attempt(S, "handler of acme unsubscribes globex's subscription", "CrossTenantError, globex keeps receiving", async () => {
    const sub = typeSubscription("gnews", "sink");
    globex.subscribe(sub);
    const err = await inTurnOf(acme, () => globex.unsubscribe(sub.id));
    expect(rootCause(err)).toBeInstanceOf(CrossTenantError);
    await globex.publish(new TopicId("gnews", "s"), "m-still-subscribed");
    await rt.whenIdle();
    expect(seenBy("globex", "m-still-subscribed")).toBe(1);
    return describeError(rootCause(err));
  });

  attempt(S, "handler of acme adds a runtime-wide subscription (fan-out across tenants)", "CrossTenantError", async () => {
    const err = await inTurnOf(acme, () => rt.subscribe(typeSubscription("all", "sink")));
    expect(rootCause(err)).toBeInstanceOf(CrossTenantError);
    return describeError(rootCause(err));
  });

  attempt(S, "handler of acme removes a runtime-wide subscription every tenant relies on", "CrossTenantError, subscription kept", async () => {
    const sub = typeSubscription("shared-topic", "sink");
    rt.subscribe(sub);
    try {
      const err = await inTurnOf(acme, () => rt.unsubscribe(sub.id));
      expect(rootCause(err)).toBeInstanceOf(CrossTenantError);
      await globex.publish(new TopicId("shared-topic", "s"), "m-global-kept");
      await rt.whenIdle();
      expect(seenBy("globex", "m-global-kept")).toBe(1);
      return describeError(rootCause(err));
    } finally {
      rt.unsubscribe(sub.id);
    }
  });

  attempt(S, "handler of acme reconfigures globex's quotas (starve it: maxQueuedMessages 1)", "CrossTenantError, globex quotas unchanged", async () => {
    const err = await inTurnOf(acme, () => globex.configure({ maxQueuedMessages: 1, messagesPerSecond: 0.001, burst: 1 }));
    expect(rootCause(err)).toBeInstanceOf(CrossTenantError);
    const results = await Promise.allSettled(Array.from({ length: 5 }, (_, i) => globex.send(new AgentId("sink", "q"), `m-quota-${i}`)));
    expect(results.every((r) => r.status === "fulfilled")).toBe(true);
    return describeError(rootCause(err));
  });

  attempt(S, "handler of acme lifts its own limits (weight 1e9, no rate) to starve others", "CrossTenantError, quotas unchanged", async () => {
    const err = await inTurnOf(acme, () => acme.configure({ weight: 1e9, messagesPerSecond: 1e9 }));
    expect(rootCause(err)).toBeInstanceOf(CrossTenantError);
    return describeError(rootCause(err));
  });

  attempt(S, "handler of acme changes a tier shared with other tenants (setTierConfig)", "CrossTenantError", async () => {
    const err = await inTurnOf(acme, () => rt.setTierConfig("heavy", { isolation: "inline", turnTimeoutMs: 1 }));
    expect(rootCause(err)).toBeInstanceOf(CrossTenantError);
    return describeError(rootCause(err));
  });

  attempt(S, "handler of acme installs an interceptor (would see every tenant's messages)", "CrossTenantError, nothing intercepted", async () => {
    const intercepted: string[] = [];
    const err = await inTurnOf(acme, () => rt.addInterceptor({ onDeliver: (e, next) => (intercepted.push(e.tenant), next(e)) }));
    expect(rootCause(err)).toBeInstanceOf(CrossTenantError);
    await globex.send(new AgentId("sink", "i"), "m-after-interceptor");
    expect(intercepted).toEqual([]);
    return describeError(rootCause(err));
  });

  attempt(S, "ctx.send with an AgentId-shaped object naming tenant 'globex'", "delivered inside acme only", async () => {
    const r = await inTurnOf(acme, (ctx) => ctx.send({ type: "sink", key: "smuggle", tenant: "globex" } as unknown as AgentId, "m-smuggle"));
    expect(r).toBe("acme");
    expect(seenBy("globex", "m-smuggle")).toBe(0);
    expect(seenBy("acme", "m-smuggle")).toBe(1);
    return "ran as tenant acme; globex untouched";
  });

  attempt(S, "agent key carrying a tenant path ('globex/sink', '../globex')", "separate acme agent, globex's instance untouched", async () => {
    await globex.send(new AgentId("counter", "shared"), 0);
    await globex.send(new AgentId("counter", "shared"), 0);
    const a = await acme.send(new AgentId("counter", "../globex/counter/shared"), 0);
    const b = await acme.send(new AgentId("counter", "globex/shared"), 0);
    const c = await acme.send(new AgentId("counter", "shared"), 0);
    expect([a, b, c]).toEqual([1, 1, 1]);
    expect(await globex.send(new AgentId("counter", "shared"), 0)).toBe(3);
    return "each acme counter started at 1; globex's reached 3";
  });

  attempt(S, "hostile tenant ids at ingress ('Globex', '../globex', 'globex\\u0000', '', 64 chars, 'ɡlobex')", "InvalidArgumentError for each", async () => {
    const hostile = ["Globex", "../globex", "globex\u0000", "", "g".repeat(64), "\u0261lobex", "globex ", " globex", "globex/x", "__proto__"];
    for (const id of hostile) expect(() => rt.tenant(id)).toThrow(InvalidArgumentError);
    expect(() => rt.tenant(42 as unknown as string)).toThrow(InvalidArgumentError);
    return `${hostile.length + 1} ids refused with INVALID_ARGUMENT`;
  });

  attempt(S, "interceptor rewrites a send's tenant to globex", "CrossTenantError, globex never runs", async () => {
    const rt2 = new Runtime();
    const got: string[] = [];
    rt2.register("sink", () => ({ onMessage: (_m, ctx) => void got.push(ctx.tenant) }));
    rt2.addInterceptor({ onSend: (e, next) => next({ ...e, tenant: parseTenantId("globex") }) });
    await rt2.start();
    try {
      const err = await rt2.tenant("acme").send(new AgentId("sink", "k"), 1).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CrossTenantError);
      expect(got).toEqual([]);
      return describeError(err);
    } finally {
      await rt2.stop();
    }
  });

  attempt(S, "interceptor rewrites a publish's tenant to globex", "CrossTenantError, globex never runs", async () => {
    const rt2 = new Runtime();
    const got: string[] = [];
    rt2.register("sink", () => ({ onMessage: (_m, ctx) => void got.push(ctx.tenant) }));
    rt2.subscribe(typeSubscription("t", "sink"));
    rt2.addInterceptor({ onPublish: (e, next) => next({ ...e, tenant: "globex" as TenantId }) });
    await rt2.start();
    try {
      const err = await rt2.tenant("acme").publish(new TopicId("t", "s"), 1).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CrossTenantError);
      await rt2.whenIdle();
      expect(got).toEqual([]);
      return describeError(err);
    } finally {
      await rt2.stop();
    }
  });

  attempt(S, "deliver interceptor overwrites the delivery's tenant field", "ignored: handler still runs as acme", async () => {
    const rt2 = new Runtime();
    rt2.register("who", () => ({ onMessage: (_m, ctx) => ctx.tenant }));
    rt2.addInterceptor({ onDeliver: (e, next) => next({ ...e, tenant: "globex" as TenantId }) });
    await rt2.start();
    try {
      expect(await rt2.tenant("acme").send(new AgentId("who", "k"), 1)).toBe("acme");
      return "ctx.tenant stayed acme";
    } finally {
      await rt2.stop();
    }
  });

  attempt(S, "hostile subscription maps acme's topic to an id naming globex", "delivered inside acme only", async () => {
    const hostile: Subscription = {
      id: "hostile-map",
      matches: (t) => t.type === "evil",
      mapToAgent: () => Object.assign(new AgentId("sink", "evil"), { tenant: "globex" }),
    };
    acme.subscribe(hostile);
    await acme.publish(new TopicId("evil", "s"), "m-hostile-sub");
    await rt.whenIdle();
    expect(seenBy("globex", "m-hostile-sub")).toBe(0);
    expect(seenBy("acme", "m-hostile-sub")).toBe(1);
    return "one delivery, to acme's agent";
  });

  attempt(S, "globex publishes on a topic acme subscribed to", "acme's subscriber never sees it", async () => {
    acme.subscribe(typeSubscription("acme-only", "sink"));
    await globex.publish(new TopicId("acme-only", "s"), "m-cross-topic");
    await rt.whenIdle();
    expect(seenBy("acme", "m-cross-topic")).toBe(0);
    expect(seenBy("globex", "m-cross-topic")).toBe(0);
    return "no delivery in either tenant";
  });

  attempt(S, "worker-tier (hosted) agent of heavyco sends to an agent key naming acme", "routed inside heavyco only", async () => {
    const r = (await rt.tenant("heavyco").send(new AgentId("ops", "a"), { op: "send", to: { type: "ops", key: "acme" }, message: { op: "echo", value: 1 } })) as { ctxTenant: string; hopCount: number };
    expect(r.ctxTenant).toBe("heavyco");
    expect(r.hopCount).toBe(1);
    expect(rt.metrics().heavyco!.turns).toBe(2);
    return "hosted send ran as heavyco (hop 1)";
  }, 20_000);
});

describe("runtime: starving or billing another tenant", () => {
  attempt(S, "tenant over its message rate", "RateLimitedError for it, other tenant unaffected", async () => {
    const limited = rt.tenant("limited");
    const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => limited.send(new AgentId("sink", "r"), `m-rate-${i}`)));
    const refused = results.filter((r) => r.status === "rejected");
    expect(refused.length).toBeGreaterThan(0);
    expect(refused.every((r) => (r as PromiseRejectedResult).reason instanceof RateLimitedError)).toBe(true);
    const other = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => globex.send(new AgentId("sink", "r"), `m-rate-other-${i}`)));
    expect(other.every((r) => r.status === "fulfilled")).toBe(true);
    return `${refused.length}/20 refused RATE_LIMITED; globex 20/20 ok`;
  });

  attempt(S, "tenant floods its queue", "QueueFullError for it, other tenant still accepted", async () => {
    const tiny = rt.tenant("tiny");
    const flood = Array.from({ length: 6 }, () => tiny.send(new AgentId("slow", "s"), 0).then(() => "ok", (e: unknown) => e));
    const other = await globex.send(new AgentId("sink", "q"), "m-during-flood");
    const outcomes = await Promise.all(flood);
    const full = outcomes.filter((o) => o instanceof QueueFullError).length;
    expect(full).toBeGreaterThan(0);
    expect(other).toBe("globex");
    return `${full}/6 refused QUEUE_FULL; globex answered`;
  });

  attempt(S, "tool factory hands the same instance to two tenants", "ToolError TOOL_SHARED for the second tenant", async () => {
    const registry = new ToolRegistry();
    const shared = { invoke: () => "shared-state" };
    registry.register("lookup", { description: "d", parameters: { type: "object", properties: {} }, factory: () => shared });
    expect(await registry.forAgent({ tenant: "acme", agentId: new AgentId("a", "1") }).call("lookup", {})).toBe("shared-state");
    const err = await registry.forAgent({ tenant: "globex", agentId: new AgentId("a", "1") }).call("lookup", {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ToolError);
    expect((err as ToolError).code).toBe("TOOL_SHARED");
    return describeError(err);
  });

  attempt(S, "tool instance state: same agent id in two tenants", "separate instances, no shared memory", async () => {
    const registry = new ToolRegistry();
    registry.register("notes", {
      description: "d",
      parameters: { type: "object", properties: {} },
      factory: () => {
        const notes: string[] = [];
        return { invoke: (a) => (notes.push(String((a as { n?: string }).n ?? "")), notes.join(",")) };
      },
    });
    await registry.forAgent({ tenant: "acme", agentId: new AgentId("w", "1") }).call("notes", { n: "acme-secret" });
    const g = await registry.forAgent({ tenant: "globex", agentId: new AgentId("w", "1") }).call("notes", { n: "g" });
    expect(g).toBe("g");
    return "globex's instance saw only its own note";
  });

  attempt(S, "tenant exhausts its tool-call rate", "TOOL_RATE_LIMITED for it, other tenant's calls succeed", async () => {
    const registry = new ToolRegistry({ rateLimit: (t) => (t === "acme" ? { callsPerMinute: 3 } : { callsPerMinute: 1000 }) });
    registry.register("ping", { description: "d", parameters: { type: "object", properties: {} }, factory: () => ({ invoke: () => "pong" }) });
    const a = registry.forAgent({ tenant: "acme", agentId: new AgentId("w", "1") });
    const g = registry.forAgent({ tenant: "globex", agentId: new AgentId("w", "1") });
    const outcomes = await Promise.all(Array.from({ length: 6 }, () => a.call("ping", {}).then(() => "ok", (e: ToolError) => e.code)));
    expect(outcomes.filter((o) => o === "TOOL_RATE_LIMITED").length).toBe(3);
    for (let i = 0; i < 10; i++) expect(await g.call("ping", {})).toBe("pong");
    return "acme: 3 ok, 3 TOOL_RATE_LIMITED; globex 10/10 ok";
  });

  attempt(S, "tenant spends past its LLM budget", "BudgetExceededError, no request, other tenant's budget untouched", async () => {
    const llm = new LlmClients({
      config: {
        acme: { apiKey: "sk-acme", baseURL: llmServer.baseURL, defaultModel: "m", budget: { tokensPerDay: 100 } },
        globex: { apiKey: "sk-globex", baseURL: llmServer.baseURL, defaultModel: "m", budget: { tokensPerDay: 100_000 } },
      },
    });
    const before = llmServer.requestCount;
    await llm.forTenant("acme").chat({ messages: [{ role: "user", content: "hi" }], max_tokens: 20 });
    const refusals: unknown[] = [];
    for (let i = 0; i < 5; i++) refusals.push(await llm.forTenant("acme").chat({ messages: [{ role: "user", content: "x".repeat(400) }], max_tokens: 50 }).catch((e: unknown) => e));
    expect(refusals.every((e) => e instanceof BudgetExceededError)).toBe(true);
    expect(llmServer.requestCount - before).toBe(1);
    expect((await llm.budgetUsage("globex")).tokensToday).toBe(0);
    await llm.forTenant("globex").chat({ messages: [{ role: "user", content: "hi" }] });
    expect((await llm.budgetUsage("globex")).tokensToday).toBe(15);
    expect((await llm.budgetUsage("acme")).tokensToday).toBe(15);
    return "acme: 5x BUDGET_EXCEEDED without a request; globex charged only its own 15 tokens";
  });

  attempt(S, "tenant's failed LLM calls (provider down for its key)", "LlmProviderError, nothing charged, other tenant unaffected", async () => {
    const llm = new LlmClients({
      config: {
        acme: { apiKey: "sk-acme-down", baseURL: llmServer.baseURL, defaultModel: "m", budget: { tokensPerDay: 1000 }, defaultCompletionReservation: 50, retry: { maxRetries: 2, baseDelayMs: 1, maxDelayMs: 2, maxRetryAfterMs: 10 } },
        globex: { apiKey: "sk-globex", baseURL: llmServer.baseURL, defaultModel: "m" },
      },
    });
    const err = await llm.forTenant("acme").chat({ messages: [{ role: "user", content: "hi" }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LlmProviderError);
    expect((await llm.budgetUsage("acme")).tokensToday).toBe(0);
    const ok = await llm.forTenant("globex").chat({ messages: [{ role: "user", content: "hi" }] });
    expect(ok.choices[0]?.message.content).toBe("ok");
    return `${describeError(err).slice(0, 60)}; acme charged 0`;
  });

  attempt(S, "tenant over its LLM requests/min", "RateLimitedError for it, other tenant's calls go through", async () => {
    const llm = new LlmClients({
      config: {
        acme: { apiKey: "sk-acme", baseURL: llmServer.baseURL, defaultModel: "m", rateLimit: { requestsPerMinute: 2 } },
        globex: { apiKey: "sk-globex", baseURL: llmServer.baseURL, defaultModel: "m", rateLimit: { requestsPerMinute: 2 } },
      },
    });
    const a = await Promise.all(Array.from({ length: 4 }, () => llm.forTenant("acme").chat({ messages: [{ role: "user", content: "x" }] }).then(() => "ok", (e: unknown) => e)));
    expect(a.filter((x) => x instanceof RateLimitedError).length).toBe(2);
    const g = await Promise.all(Array.from({ length: 2 }, () => llm.forTenant("globex").chat({ messages: [{ role: "user", content: "x" }] }).then(() => "ok", (e: unknown) => e)));
    expect(g).toEqual(["ok", "ok"]);
    return "acme 2 ok + 2 RATE_LIMITED; globex 2/2 ok";
  });

  attempt(S, "LLM config lookup with prototype keys ('__proto__', 'constructor', 'toString')", "InvalidArgumentError: no configuration", async () => {
    const llm = new LlmClients({ config: { acme: { apiKey: "sk", baseURL: llmServer.baseURL, defaultModel: "m" } } });
    for (const t of ["__proto__", "constructor", "toString", "hasOwnProperty"]) expect(() => llm.forTenant(t)).toThrow(InvalidArgumentError);
    return "4 lookups refused INVALID_ARGUMENT";
  });
});

describe("runtime: agent state under hostile ids", () => {
  let store: EncryptedStateStore;
  let blobs: FileBlobStore;
  beforeAll(() => {
    blobs = new FileBlobStore(join(dir, "state"), { fsync: false });
    store = new EncryptedStateStore({ blobs, keys: MasterKeyring.single("a".repeat(64)) });
  });

  attempt(S, "load globex's state for the same agent id under acme", "undefined (distinct location)", async () => {
    await store.save("globex" as TenantId, new AgentId("memory", "user-1"), { secret: "globex-only" });
    expect(await store.load("acme" as TenantId, new AgentId("memory", "user-1"))).toBeUndefined();
    return "acme's load found nothing";
  });

  attempt(S, "ids crafted to collide after concatenation (tenant 'ab'+type 'c' vs 'a'+'bc', NUL, lone surrogates)", "distinct locations, no cross read", async () => {
    const pairs: Array<[string, string, string]> = [
      ["ab", "c", "k"],
      ["a", "bc", "k"],
      ["a", "b", "c\u0000k"],
      ["a", "b\u0000c", "k"],
      ["a", "b", "\ud800"],
      ["a", "b", "\ud801"],
      ["a", "b", "k/../x"],
      ["a", "b", "k%2F..%2Fx"],
    ];
    const locations = new Set(pairs.map(([t, ty, k]) => store.locationOf(t, { type: ty, key: k })));
    expect(locations.size).toBe(pairs.length);
    await store.save("ab" as TenantId, { type: "c", key: "k" } as AgentId, { who: "ab/c" });
    expect(await store.load("a" as TenantId, { type: "bc", key: "k" } as AgentId)).toBeUndefined();
    return `${pairs.length} identities, ${locations.size} distinct locations`;
  });

  attempt(S, "copy acme's sealed blob over globex's location for the same agent", "StateIntegrityError, never acme's data", async () => {
    const id = new AgentId("memory", "victim");
    await store.save("acme" as TenantId, id, { secret: "acme-data" });
    await store.save("globex" as TenantId, id, { secret: "globex-data" });
    // An attacker with write access to the blob store moves acme's blob to globex's location.
    await blobs.put(store.locationOf("globex", id), (await blobs.get(store.locationOf("acme", id)))!);
    const err = await store.load("globex" as TenantId, id).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StateIntegrityError);
    expect(JSON.stringify(err)).not.toContain("acme-data");
    return describeError(err).slice(0, 80);
  });

  attempt(S, "copy a blob to another agent of the same tenant", "StateIntegrityError", async () => {
    const a = new AgentId("memory", "a");
    const b = new AgentId("memory", "b");
    await store.save("acme" as TenantId, a, { v: "a" });
    await store.save("acme" as TenantId, b, { v: "b" });
    await blobs.put(store.locationOf("acme", b), (await blobs.get(store.locationOf("acme", a)))!);
    await expect(store.load("acme" as TenantId, b)).rejects.toBeInstanceOf(StateIntegrityError);
    return "STATE_INTEGRITY";
  });
});
