import { context, SpanStatusCode } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AgentId, TopicId } from "./agents/ids.js";
import { typeSubscription } from "./agents/subscription.js";
import { BudgetExceededError } from "./errors.js";
import { WorkerThreadTurnHost } from "./isolation/worker-thread-turn-host.js";
import { LlmClients } from "./llm/llm-clients.js";
import { startMockOpenAiServer, type MockOpenAiServer } from "./testing/mock-openai-server.js";
import { Runtime } from "./runtime.js";
import type { QuotaConfig } from "./tenancy/tenant-quota.js";
import { AllowListSpanProcessor } from "./tracing/allow-list-processor.js";
import { ATTR } from "@troupe/contract";
import { SamplingSettings, type SamplingOptions } from "./tracing/sampling-settings.js";
import { SamplingTracerProvider } from "./tracing/sampling-tracer-provider.js";

const contextManager = new AsyncLocalStorageContextManager();
let llmServer: MockOpenAiServer;
beforeAll(async () => {
  context.setGlobalContextManager(contextManager.enable());
  llmServer = await startMockOpenAiServer();
});
afterAll(async () => {
  await llmServer.close();
  context.disable();
});

/** A runtime whose spans go through a SamplingTracerProvider and the allow-list to memory. */
async function setup(sampling: SamplingOptions, quotas?: QuotaConfig, turnHost?: WorkerThreadTurnHost) {
  const exporter = new InMemorySpanExporter();
  const processor = new AllowListSpanProcessor(new SimpleSpanProcessor(exporter));
  const resource = resourceFromAttributes({ "service.name": "sampling-test" });
  const delegate = new BasicTracerProvider({ resource, spanProcessors: [processor] });
  const settings = new SamplingSettings(sampling);
  const provider = new SamplingTracerProvider({ delegate, spanProcessors: [processor], resource, sampling: settings });
  const rt = new Runtime({ tracerProvider: provider, watchdogIntervalMs: 5, turnHost, quotas: { defaults: { maxQueuedMessages: 100_000, maxInFlightTurns: 10_000 }, ...quotas } });
  const llm = new LlmClients({
    config: { acme: { apiKey: "sk-test", baseURL: llmServer.baseURL, defaultModel: "gpt-4o-mini", budget: { tokensPerDay: 1 } } },
    tracerProvider: provider,
  });
  rt.register("planner", () => ({ onMessage: (m, ctx) => ctx.send(new AgentId("worker", ctx.agentId.key), m) }));
  rt.register("failing-planner", () => ({
    onMessage: async (m, ctx) => {
      await ctx.send(new AgentId("worker", ctx.agentId.key), m);
      throw new Error("failed after the worker answered");
    },
  }));
  rt.register("worker", () => ({ onMessage: (m) => m }));
  rt.register("stuck", () => ({ onMessage: () => new Promise(() => undefined) }), { turnTimeoutMs: 30 });
  rt.register("llm-planner", () => ({
    onMessage: async (_m, ctx) => {
      try {
        return await llm.forTenant(ctx.tenant).chat({ messages: [{ role: "user", content: "plan" }] }, { agent: ctx.agentId });
      } catch (error) {
        // The handler copes with the refusal: only the chat span records it.
        if (error instanceof BudgetExceededError) return "fallback";
        throw error;
      }
    },
  }));
  rt.register("polite-planner", () => ({ onMessage: (m, ctx) => ctx.send(new AgentId("worker", "w"), m).catch(() => "refused") }));
  rt.register("announcer", () => ({ onMessage: (m, ctx) => void ctx.publish(new TopicId("news", "s"), m) }));
  rt.register("bad-listener", () => ({
    onMessage: () => {
      throw new Error("listener failed");
    },
  }));
  rt.subscribe(typeSubscription("news", "bad-listener"));
  await rt.start();
  return { rt, exporter, settings, provider };
}

/** Exported spans grouped by trace, keyed by the name of each trace's root span (its local root). */
function tracesByRoot(spans: ReadableSpan[], tenant?: string): Map<string, ReadableSpan[][]> {
  const byTrace = new Map<string, ReadableSpan[]>();
  for (const s of spans) {
    const id = s.spanContext().traceId;
    byTrace.set(id, [...(byTrace.get(id) ?? []), s]);
  }
  const out = new Map<string, ReadableSpan[][]>();
  for (const trace of byTrace.values()) {
    const root = trace.find((s) => s.parentSpanContext === undefined);
    const name = root?.name ?? "(no root)";
    if (tenant !== undefined && root?.attributes[ATTR.tenantId] !== tenant) continue;
    out.set(name, [...(out.get(name) ?? []), trace]);
  }
  return out;
}

/** Asserts a trace is whole: exactly these span names, one root, every other span's parent exported in the trace. */
function expectWhole(trace: ReadableSpan[], names: string[]): ReadableSpan {
  expect(trace.map((s) => s.name).sort()).toEqual([...names].sort());
  const roots = trace.filter((s) => s.parentSpanContext === undefined);
  expect(roots).toHaveLength(1);
  const ids = new Set(trace.map((s) => s.spanContext().spanId));
  for (const s of trace) if (s !== roots[0]) expect(ids.has(s.parentSpanContext!.spanId), `${s.name} has its parent`).toBe(true);
  return roots[0]!;
}

const PLANNER_TRACE = ["send planner", "process planner", "invoke_agent planner", "send worker", "process worker", "invoke_agent worker"];

describe("runtime traces under 1% sampling", () => {
  it("exports every failed, timed-out, budget-rejected and rate-limited trace whole, and ok traces at about the ratio", async () => {
    const { rt, exporter } = await setup({ defaultRatio: 0.01 }, { tenants: { limited: { messagesPerSecond: 0.001, burst: 1 } } });
    const acme = rt.tenant("acme");
    const sends: Promise<unknown>[] = [];
    for (let i = 0; i < 100; i++) sends.push(acme.send(new AgentId("failing-planner", `f${i}`), i).catch(() => undefined));
    for (let i = 0; i < 10; i++) sends.push(acme.send(new AgentId("stuck", `s${i}`), i).catch(() => undefined));
    for (let i = 0; i < 20; i++) sends.push(acme.send(new AgentId("llm-planner", `l${i}`), i));
    const limited = rt.tenant("limited");
    // The one token lets the turn run; the send it makes is refused (and the handler copes); later ingress sends are refused.
    sends.push(limited.send(new AgentId("polite-planner", "p"), 0));
    for (let i = 0; i < 5; i++) sends.push(limited.send(new AgentId("planner", `r${i}`), i).catch(() => undefined));
    await Promise.all(sends);
    for (let batch = 0; batch < 5; batch++) {
      await Promise.all(Array.from({ length: 600 }, (_, i) => acme.send(new AgentId("planner", `k${i}`), i)));
    }
    await rt.stopWhenIdle();

    const traces = tracesByRoot(exporter.getFinishedSpans());
    const failing = traces.get("send failing-planner") ?? [];
    expect(failing).toHaveLength(100);
    for (const t of failing) {
      const root = expectWhole(t, ["send failing-planner", "process failing-planner", "invoke_agent failing-planner", "send worker", "process worker", "invoke_agent worker"]);
      expect(["error", "ratio"]).toContain(root.attributes[ATTR.samplingKeptBy]);
      expect(root.attributes[ATTR.samplingRatio]).toBe(0.01);
      expect(root.status.code).toBe(SpanStatusCode.ERROR);
    }
    expect(failing.filter((t) => t.find((s) => s.parentSpanContext === undefined)!.attributes[ATTR.samplingKeptBy] === "error").length).toBeGreaterThan(80);

    const stuck = traces.get("send stuck") ?? [];
    expect(stuck).toHaveLength(10);
    for (const t of stuck) {
      const root = expectWhole(t, ["send stuck", "process stuck", "invoke_agent stuck"]);
      expect(["timeout", "ratio"]).toContain(root.attributes[ATTR.samplingKeptBy]);
      expect(t.find((s) => s.name === "process stuck")!.attributes[ATTR.outcome]).toBe("timeout");
    }

    const budget = traces.get("send llm-planner") ?? [];
    expect(budget).toHaveLength(20);
    for (const t of budget) {
      const root = expectWhole(t, ["send llm-planner", "process llm-planner", "invoke_agent llm-planner", "chat gpt-4o-mini"]);
      expect(["budget_rejected", "ratio"]).toContain(root.attributes[ATTR.samplingKeptBy]);
      expect(root.attributes[ATTR.outcome]).toBe("ok");
      const chat = t.find((s) => s.name === "chat gpt-4o-mini")!;
      expect(chat.attributes[ATTR.outcome]).toBe("budget_rejected");
      expect(chat.parentSpanContext!.spanId).toBe(t.find((s) => s.name === "invoke_agent llm-planner")!.spanContext().spanId);
    }

    const polite = traces.get("send polite-planner") ?? [];
    expect(polite).toHaveLength(1);
    const politeRoot = expectWhole(polite[0]!, ["send polite-planner", "process polite-planner", "invoke_agent polite-planner", "send worker"]);
    expect(["rate_limited", "ratio"]).toContain(politeRoot.attributes[ATTR.samplingKeptBy]);
    const refusedAtIngress = (traces.get("send planner") ?? []).filter((t) => t[0]!.attributes[ATTR.tenantId] === "limited");
    expect(refusedAtIngress).toHaveLength(5);
    for (const t of refusedAtIngress) expect(expectWhole(t, ["send planner"]).attributes[ATTR.outcome]).toBe("rate_limited");

    // 3,000 ok traces at 1%: about 30 kept (a binomial's 5 and 75 are over 4 standard deviations away).
    const ok = (traces.get("send planner") ?? []).filter((t) => t[0]!.attributes[ATTR.tenantId] === "acme");
    expect(ok.length).toBeGreaterThanOrEqual(5);
    expect(ok.length).toBeLessThanOrEqual(75);
    for (const t of ok) {
      const root = expectWhole(t, PLANNER_TRACE);
      expect(root.attributes[ATTR.samplingKeptBy]).toBe("ratio");
      expect(root.attributes[ATTR.samplingRatio]).toBe(0.01);
    }
  });

  it("keeps a published delivery's failure with the trace that published it, after the publishing turn ended", async () => {
    const { rt, exporter } = await setup({ defaultRatio: 0 });
    await rt.tenant("acme").send(new AgentId("announcer", "a"), "x");
    await rt.stopWhenIdle();
    const traces = tracesByRoot(exporter.getFinishedSpans());
    const announced = traces.get("send announcer") ?? [];
    expect(announced).toHaveLength(1);
    const root = expectWhole(announced[0]!, ["send announcer", "process announcer", "invoke_agent announcer", "publish news", "process bad-listener", "invoke_agent bad-listener"]);
    expect(root.attributes[ATTR.samplingKeptBy]).toBe("error");
  });

  it("keeps the sends of a worker-tier turn in its trace: one local part, one root marked", async () => {
    const ref: { rt?: Runtime } = {};
    const host = new WorkerThreadTurnHost({ onOutbound: (o) => ref.rt!.handleHostedOutbound(o) });
    try {
      const { rt, exporter } = await setup({ defaultRatio: 0 }, { tenants: { heavyco: { isolation: "worker" } } }, host);
      ref.rt = rt;
      rt.registerModule("ops", { module: new URL("./isolation/test-agents/ops-agent.ts", import.meta.url), exportName: "createOpsAgent" });
      const failing = { op: "send", to: { type: "ops", key: "b" }, message: { op: "throw", name: "Oops", message: "no" } };
      await rt.tenant("heavyco").send(new AgentId("ops", "a"), failing).catch(() => undefined);
      await rt.stopWhenIdle();
      const spans = exporter.getFinishedSpans();
      expect(new Set(spans.map((s) => s.spanContext().traceId)).size).toBe(1);
      expectWhole(spans, ["send ops", "process ops", "invoke_agent ops", "send ops", "process ops", "invoke_agent ops"]);
      // Joined in this process: the relayed send's parent is the turn's span, not a remote one, and only the root is marked.
      expect(spans.filter((s) => s.attributes[ATTR.samplingKeptBy] !== undefined)).toHaveLength(1);
      expect(spans.filter((s) => s.parentSpanContext?.isRemote === true)).toHaveLength(0);
    } finally {
      await host.close();
    }
  });

  it("applies per-tenant ratios over the default", async () => {
    const { rt, exporter } = await setup({ defaultRatio: 0.01, tenants: { vip: 1, quiet: 0 } });
    await Promise.all(Array.from({ length: 30 }, (_, i) => rt.tenant("vip").send(new AgentId("planner", `v${i}`), i)));
    await Promise.all(Array.from({ length: 300 }, (_, i) => rt.tenant("quiet").send(new AgentId("planner", `q${i}`), i)));
    await Promise.all(Array.from({ length: 10 }, (_, i) => rt.tenant("quiet").send(new AgentId("failing-planner", `q${i}`), i).catch(() => undefined)));
    await rt.stopWhenIdle();
    const spans = exporter.getFinishedSpans();
    const vip = tracesByRoot(spans, "vip").get("send planner") ?? [];
    expect(vip).toHaveLength(30);
    for (const t of vip) expect(expectWhole(t, PLANNER_TRACE).attributes[ATTR.samplingRatio]).toBe(1);
    const quiet = tracesByRoot(spans, "quiet");
    expect(quiet.get("send planner")).toBeUndefined();
    expect(quiet.get("send failing-planner")).toHaveLength(10);
    for (const t of quiet.get("send failing-planner")!) {
      const root = t.find((s) => s.parentSpanContext === undefined)!;
      expect(root.attributes[ATTR.samplingRatio]).toBe(0);
      expect(root.attributes[ATTR.samplingKeptBy]).toBe("error");
    }
  });

  it("applies a tenant's ratio changed at run time to its new traces, without a restart", async () => {
    const { rt, exporter, settings } = await setup({ defaultRatio: 0 });
    const okTraces = (tenant: string) => (tracesByRoot(exporter.getFinishedSpans(), tenant).get("send planner") ?? []).length;
    const send = (tenant: string, n: number, tag: string) => Promise.all(Array.from({ length: n }, (_, i) => rt.tenant(tenant).send(new AgentId("planner", `${tag}${i}`), i)));
    await send("acme", 100, "a");
    expect(okTraces("acme")).toBe(0);
    settings.setTenantRatio("acme", 1);
    await send("acme", 20, "b");
    await send("globex", 100, "c");
    expect(okTraces("acme")).toBe(20);
    expect(okTraces("globex")).toBe(0);
    settings.setTenantRatio("acme", 0);
    await send("acme", 100, "d");
    expect(okTraces("acme")).toBe(20);
    await rt.stop();
  });
});
