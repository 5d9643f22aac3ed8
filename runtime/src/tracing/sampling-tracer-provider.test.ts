import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, TraceFlags, type Span, type Tracer } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AllowListSpanProcessor } from "./allow-list-processor.js";
import { ATTR, TENANT_BAGGAGE_KEY } from "@troupe/contract";
import { SamplingSettings, type SamplingOptions } from "./sampling-settings.js";
import { SamplingTracerProvider } from "./sampling-tracer-provider.js";

const contextManager = new AsyncLocalStorageContextManager();
beforeAll(() => {
  context.setGlobalContextManager(contextManager.enable());
});
afterAll(() => {
  context.disable();
});

/** A sampling provider in front of an SDK provider, both exporting through the allow-list to memory. */
function setup(options: SamplingOptions) {
  const exporter = new InMemorySpanExporter();
  const processor = new AllowListSpanProcessor(new SimpleSpanProcessor(exporter));
  const resource = resourceFromAttributes({ "service.name": "sampling-test" });
  const delegate = new BasicTracerProvider({ resource, spanProcessors: [processor] });
  const sampling = new SamplingSettings(options);
  const provider = new SamplingTracerProvider({ delegate, spanProcessors: [processor], resource, sampling });
  return { exporter, provider, sampling, tracer: provider.getTracer("test"), spans: () => exporter.getFinishedSpans() };
}

/** Runs a root span with two levels of children (as send -> process -> invoke_agent); `inner` may mark the innermost span. */
function runTrace(tracer: Tracer, tenant: string, inner: (span: Span) => void = () => undefined): { ids: string[]; traceId: string } {
  const root = tracer.startSpan("send a", { kind: SpanKind.PRODUCER, attributes: { [ATTR.tenantId]: tenant } });
  const rootCtx = trace.setSpan(ROOT_CONTEXT, root);
  const process = tracer.startSpan("process a", { kind: SpanKind.CONSUMER }, rootCtx);
  const invoke = tracer.startSpan("invoke_agent a", {}, trace.setSpan(rootCtx, process));
  inner(invoke);
  invoke.end();
  process.end();
  root.end();
  return { ids: [root, process, invoke].map((s) => s.spanContext().spanId), traceId: root.spanContext().traceId };
}

const named = (spans: ReadableSpan[], name: string) => spans.find((s) => s.name === name)!;

describe("SamplingTracerProvider", () => {
  it("drops a trace not picked by its ratio when no keep rule fires, and records it without SDK spans", () => {
    const { tracer, spans, provider } = setup({ defaultRatio: 0 });
    let recording = false;
    runTrace(tracer, "acme", (s) => {
      recording = s.isRecording();
      s.setAttribute(ATTR.outcome, "ok");
    });
    expect(recording).toBe(true);
    expect(spans()).toHaveLength(0);
    expect(provider.stats().dropped).toBe(1);
  });

  it("exports an unsampled trace whole when a span fails: the ids and parent links seen while it ran, the root marked", () => {
    const { tracer, spans, provider } = setup({ defaultRatio: 0 });
    const { ids, traceId } = runTrace(tracer, "acme", (s) => {
      s.setAttribute("app.prompt", "secret");
      s.setStatus({ code: SpanStatusCode.ERROR, message: "HANDLER_ERROR" });
    });
    const out = spans();
    expect(out.map((s) => s.name).sort()).toEqual(["invoke_agent a", "process a", "send a"]);
    expect(out.map((s) => s.spanContext().spanId).sort()).toEqual([...ids].sort());
    for (const s of out) expect(s.spanContext().traceId).toBe(traceId);
    const root = named(out, "send a");
    expect(root.parentSpanContext).toBeUndefined();
    expect(named(out, "process a").parentSpanContext?.spanId).toBe(ids[0]);
    expect(named(out, "invoke_agent a").parentSpanContext?.spanId).toBe(ids[1]);
    expect(root.attributes[ATTR.samplingRatio]).toBe(0);
    expect(root.attributes[ATTR.samplingKeptBy]).toBe("error");
    expect(root.attributes[ATTR.tenantId]).toBe("acme");
    expect(named(out, "process a").attributes[ATTR.samplingKeptBy]).toBeUndefined();
    expect(root.kind).toBe(SpanKind.PRODUCER);
    const failed = named(out, "invoke_agent a");
    expect(failed.status.code).toBe(SpanStatusCode.ERROR);
    // Through the same allow-list as any span: the status message and unlisted attributes are gone.
    expect(failed.status.message).toBeUndefined();
    expect(failed.attributes["app.prompt"]).toBeUndefined();
    for (const s of out) expect(s.endTime[0] * 1e9 + s.endTime[1]).toBeGreaterThanOrEqual(s.startTime[0] * 1e9 + s.startTime[1]);
    expect(provider.stats().keptByRule.error).toBe(1);
  });

  it("names the most specific rule: a budget rejection over the error it also is", () => {
    const { tracer, spans } = setup({ defaultRatio: 0 });
    runTrace(tracer, "acme", (s) => {
      s.setAttribute(ATTR.outcome, "budget_rejected");
      s.setStatus({ code: SpanStatusCode.ERROR });
    });
    runTrace(tracer, "acme", (s) => s.setAttribute(ATTR.outcome, "rate_limited"));
    runTrace(tracer, "acme", (s) => s.setAttribute(ATTR.outcome, "timeout"));
    const keptBy = spans()
      .filter((s) => s.name === "send a")
      .map((s) => s.attributes[ATTR.samplingKeptBy]);
    expect(keptBy).toEqual(["budget_rejected", "rate_limited", "timeout"]);
  });

  it("keeps a trace with a span slower than keepSlowerThanMs", () => {
    const { tracer, spans } = setup({ defaultRatio: 0, keepSlowerThanMs: 1_000 });
    const t0 = Date.now() - 5_000;
    runTrace(tracer, "acme", (s) => {
      const chat = tracer.startSpan("chat m", { startTime: t0 }, trace.setSpan(ROOT_CONTEXT, s));
      chat.end(t0 + 2_000);
    });
    runTrace(tracer, "acme");
    const out = spans();
    expect(out.map((s) => s.name).sort()).toEqual(["chat m", "invoke_agent a", "process a", "send a"]);
    expect(named(out, "send a").attributes[ATTR.samplingKeptBy]).toBe("slow");
    const chat = named(out, "chat m");
    expect(chat.duration[0]).toBe(2);
    expect(chat.startTime[0]).toBe(Math.floor(t0 / 1000));
  });

  it("records a trace picked by its ratio as SDK spans, the root marked with the ratio", () => {
    const { tracer, spans, provider } = setup({ defaultRatio: 0, tenants: { vip: 1 } });
    runTrace(tracer, "vip");
    const out = spans();
    expect(out).toHaveLength(3);
    const root = named(out, "send a");
    expect(root.attributes[ATTR.samplingRatio]).toBe(1);
    expect(root.attributes[ATTR.samplingKeptBy]).toBe("ratio");
    expect(root.spanContext().traceFlags & TraceFlags.SAMPLED).toBe(TraceFlags.SAMPLED);
    expect(provider.stats().keptByRatio).toBe(1);
  });

  it("reads the tenant from the baggage when the root span does not name it", () => {
    const { tracer, spans } = setup({ defaultRatio: 0, tenants: { vip: 1 } });
    const ctx = propagation.setBaggage(ROOT_CONTEXT, propagation.createBaggage({ [TENANT_BAGGAGE_KEY]: { value: "vip" } }));
    tracer.startSpan("handle request", {}, ctx).end();
    expect(spans().map((s) => s.name)).toEqual(["handle request"]);
  });

  it("applies a ratio changed at run time to traces started after the change, not to one under way", () => {
    const { tracer, spans, sampling } = setup({ defaultRatio: 0 });
    const before = tracer.startSpan("before", { attributes: { [ATTR.tenantId]: "acme" } });
    sampling.setTenantRatio("acme", 1);
    before.end();
    tracer.startSpan("after", { attributes: { [ATTR.tenantId]: "acme" } }).end();
    sampling.setTenantRatio("acme", undefined);
    tracer.startSpan("reverted", { attributes: { [ATTR.tenantId]: "acme" } }).end();
    expect(spans().map((s) => s.name)).toEqual(["after"]);
  });

  it("follows a remote caller's sampled flag, and decides a part continued from an unsampled caller by its own rules", () => {
    const { tracer, spans, provider } = setup({ defaultRatio: 0 });
    const remote = (flags: number) =>
      trace.setSpanContext(ROOT_CONTEXT, { traceId: "0af7651916cd43dd8448eb211c80319c", spanId: "b7ad6b7169203331", traceFlags: flags, isRemote: true });
    tracer.startSpan("sampled part", { attributes: { [ATTR.tenantId]: "acme" } }, remote(TraceFlags.SAMPLED)).end();
    tracer.startSpan("unsampled ok part", { attributes: { [ATTR.tenantId]: "acme" } }, remote(TraceFlags.NONE)).end();
    const failing = tracer.startSpan("unsampled failing part", { attributes: { [ATTR.tenantId]: "acme" } }, remote(TraceFlags.NONE));
    failing.setStatus({ code: SpanStatusCode.ERROR });
    failing.end();
    const out = spans();
    expect(out.map((s) => s.name)).toEqual(["sampled part", "unsampled failing part"]);
    expect(named(out, "sampled part").attributes[ATTR.samplingKeptBy]).toBe("parent");
    const part = named(out, "unsampled failing part");
    expect(part.attributes[ATTR.samplingKeptBy]).toBe("error");
    expect(part.spanContext().traceId).toBe("0af7651916cd43dd8448eb211c80319c");
    expect(part.parentSpanContext?.spanId).toBe("b7ad6b7169203331");
    expect(part.parentSpanContext?.isRemote).toBe(true);
    expect(provider.stats().keptByParent).toBe(1);
  });

  it("with the keep rules off, keeps by ratio alone", () => {
    const { tracer, spans } = setup({ defaultRatio: 0, keepRules: false });
    const { traceId } = runTrace(tracer, "acme", (s) => s.setStatus({ code: SpanStatusCode.ERROR }));
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(spans()).toHaveLength(0);
  });

  it("waits for every span of the trace (and every hold) before deciding, then exports late spans of a kept trace on their own", () => {
    const { tracer, spans, provider } = setup({ defaultRatio: 0 });
    const root = tracer.startSpan("publish t", { attributes: { [ATTR.tenantId]: "acme" } });
    const rootCtx = trace.setSpan(ROOT_CONTEXT, root);
    const child = tracer.startSpan("send b", {}, rootCtx);
    const pending = (root as unknown as { trace: { hold(): boolean; release(): void } }).trace;
    expect(pending.hold()).toBe(true);
    root.end();
    child.setStatus({ code: SpanStatusCode.ERROR });
    child.end();
    expect(spans()).toHaveLength(0); // held: a queued delivery has yet to start
    const delivered = tracer.startSpan("process sub", {}, rootCtx);
    pending.release();
    delivered.end();
    expect(spans().map((s) => s.name).sort()).toEqual(["process sub", "publish t", "send b"]);
    tracer.startSpan("late", {}, rootCtx).end();
    expect(spans().map((s) => s.name)).toContain("late");
    expect(named(spans(), "late").parentSpanContext?.spanId).toBe(root.spanContext().spanId);
    expect(provider.stats().lateSpans).toBe(1);
  });

  it("drops the late spans of a dropped trace", () => {
    const { tracer, spans } = setup({ defaultRatio: 0 });
    const root = tracer.startSpan("send a", { attributes: { [ATTR.tenantId]: "acme" } });
    root.end();
    const late = tracer.startSpan("late", {}, trace.setSpan(ROOT_CONTEXT, root));
    late.setStatus({ code: SpanStatusCode.ERROR });
    late.end();
    expect(spans()).toHaveLength(0);
  });

  it("holds at most maxSpansPerTrace spans of an undecided trace and counts the rest", () => {
    const { tracer, spans, provider } = setup({ defaultRatio: 0, maxSpansPerTrace: 3 });
    runTrace(tracer, "acme", (s) => {
      const ctx = trace.setSpan(ROOT_CONTEXT, s);
      for (let i = 0; i < 5; i++) tracer.startSpan(`extra ${i}`, {}, ctx).end();
      s.setStatus({ code: SpanStatusCode.ERROR });
    });
    expect(spans()).toHaveLength(3);
    expect(provider.stats().spansOverCap).toBe(5);
  });

  it("exports only valid attribute values, as an SDK span would", () => {
    const { tracer, spans } = setup({ defaultRatio: 0 });
    runTrace(tracer, "acme", (s) => {
      s.setAttribute(ATTR.agentKey, { nested: true } as unknown as string);
      s.setAttribute(ATTR.agentType, "a");
      s.setAttributes({ [ATTR.hopCount]: 2 });
      s.addEvent("exception", { "exception.type": "X", "exception.message": "secret" });
      s.setStatus({ code: SpanStatusCode.ERROR });
    });
    const invoke = named(spans(), "invoke_agent a");
    expect(invoke.attributes[ATTR.agentKey]).toBeUndefined();
    expect(invoke.attributes[ATTR.agentType]).toBe("a");
    expect(invoke.attributes[ATTR.hopCount]).toBe(2);
    expect(invoke.events.map((e) => [e.name, e.attributes])).toEqual([["exception", { "exception.type": "X" }]]);
  });

  it("starts active spans that nest", () => {
    const { tracer, spans } = setup({ defaultRatio: 0 });
    tracer.startActiveSpan("outer", { attributes: { [ATTR.tenantId]: "acme" } }, (outer) => {
      tracer.startActiveSpan("inner", (inner) => {
        inner.setStatus({ code: SpanStatusCode.ERROR });
        inner.end();
      });
      outer.end();
    });
    const out = spans();
    expect(named(out, "inner").parentSpanContext?.spanId).toBe(named(out, "outer").spanContext().spanId);
  });
});
