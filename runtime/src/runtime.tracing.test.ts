import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { context, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { Runtime } from "./runtime.js";
import { AgentId, TopicId } from "./agents/ids.js";
import { typeSubscription } from "./agents/subscription.js";
import { ATTR, SPAN_ATTRIBUTE_ALLOW_LIST } from "@troupe/contract";

const contextManager = new AsyncLocalStorageContextManager();
beforeAll(() => {
  context.setGlobalContextManager(contextManager.enable());
});
afterAll(() => {
  context.disable();
});

function setup() {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const rt = new Runtime({ tracerProvider: provider, maxHops: 3, watchdogIntervalMs: 5 });
  return { exporter, provider, rt };
}
const byName = (spans: ReadableSpan[], name: string) => spans.filter((s) => s.name === name);
const parentId = (s: ReadableSpan) => s.parentSpanContext?.spanId;

describe("runtime spans", () => {
  it("emits send -> process -> invoke_agent with causality, tenant attributes and no payload; handler spans nest under invoke_agent", async () => {
    const { exporter, rt, provider } = setup();
    const secret = "TOP-SECRET-PAYLOAD";
    rt.register("planner", () => ({
      onMessage: async (_m, ctx) => {
        // A span made inside the handler (as the LLM layer does) must nest under invoke_agent.
        const inner = provider.getTracer("test").startSpan("chat fake-model");
        await new Promise((r) => setTimeout(r, 1));
        inner.end();
        return ctx.send(new AgentId("writer", "w1"), secret);
      },
    }));
    rt.register("writer", () => ({ onMessage: (m) => `${String(m)}!` }));
    await rt.start();
    expect(await rt.tenant("acme").send(new AgentId("planner", "p1"), secret)).toBe(`${secret}!`);
    await rt.stop();
    const spans = exporter.getFinishedSpans();
    const [sendP] = byName(spans, "send planner");
    const [processP] = byName(spans, "process planner");
    const [invokeP] = byName(spans, "invoke_agent planner");
    const [sendW] = byName(spans, "send writer");
    const [processW] = byName(spans, "process writer");
    const [invokeW] = byName(spans, "invoke_agent writer");
    expect(sendP && processP && invokeP && sendW && processW && invokeW).toBeTruthy();
    expect(sendP!.kind).toBe(SpanKind.PRODUCER);
    expect(processP!.kind).toBe(SpanKind.CONSUMER);
    expect(invokeP!.kind).toBe(SpanKind.INTERNAL);
    expect(parentId(processP!)).toBe(sendP!.spanContext().spanId);
    expect(parentId(invokeP!)).toBe(processP!.spanContext().spanId);
    expect(parentId(sendW!)).toBe(invokeP!.spanContext().spanId);
    expect(parentId(processW!)).toBe(sendW!.spanContext().spanId);
    expect(parentId(invokeW!)).toBe(processW!.spanContext().spanId);
    const [chat] = byName(spans, "chat fake-model");
    expect(parentId(chat!)).toBe(invokeP!.spanContext().spanId);
    expect(new Set(spans.map((s) => s.spanContext().traceId)).size).toBe(1);

    for (const s of spans.filter((x) => !x.name.startsWith("chat"))) {
      expect(s.attributes[ATTR.tenantId]).toBe("acme");
      expect(s.attributes[ATTR.outcome]).toBe("ok");
      // The hop count is a messaging property: on send/publish/process spans, not on invoke_agent (its child).
      if (!s.name.startsWith("invoke_agent")) expect(typeof s.attributes[ATTR.hopCount]).toBe("number");
      for (const [k, v] of Object.entries(s.attributes)) {
        expect(SPAN_ATTRIBUTE_ALLOW_LIST.has(k)).toBe(true);
        expect(String(v)).not.toContain(secret);
      }
    }
    expect(invokeP!.attributes[ATTR.genAiOperation]).toBe("invoke_agent");
    expect(invokeP!.attributes[ATTR.agentType]).toBe("planner");
    expect(invokeP!.attributes[ATTR.agentKey]).toBe("p1");
    // Turn timings live on the turn's process span (the one turn-counting queries read), once.
    expect(typeof processP!.attributes[ATTR.handlerWallMs]).toBe("number");
    expect(typeof processP!.attributes[ATTR.handlerBlockedMs]).toBe("number");
    expect(invokeP!.attributes[ATTR.handlerWallMs]).toBeUndefined();
    expect(typeof processP!.attributes[ATTR.queueWaitMs]).toBe("number");
    expect(processW!.attributes[ATTR.hopCount]).toBe(1);
    expect(sendP!.attributes[ATTR.messagingSystem]).toBe("troupe");
    expect(sendP!.attributes[ATTR.messagingOperationType]).toBe("send");
    expect(processP!.attributes[ATTR.messagingOperationType]).toBe("process");
  });

  it("makes process spans of published deliveries children of the publish span", async () => {
    const { exporter, rt } = setup();
    rt.register("l", () => ({ onMessage: () => undefined }));
    rt.subscribe(typeSubscription("news", "l"));
    await rt.start();
    await rt.tenant("globex").publish(new TopicId("news", "s1"), "x");
    await rt.stopWhenIdle();
    const spans = exporter.getFinishedSpans();
    const [pub] = byName(spans, "publish news");
    const [proc] = byName(spans, "process l");
    expect(pub!.kind).toBe(SpanKind.PRODUCER);
    expect(parentId(proc!)).toBe(pub!.spanContext().spanId);
    expect(pub!.attributes[ATTR.tenantId]).toBe("globex");
    expect(proc!.attributes[ATTR.tenantId]).toBe("globex");
  });

  it("marks errors, timeouts and loop drops on spans with the outcome and error type only", async () => {
    const { exporter, rt } = setup();
    rt.register("bad", () => ({
      onMessage: () => {
        throw new Error("secret detail");
      },
    }));
    rt.register("slow", () => ({ onMessage: () => new Promise(() => {}) }), { turnTimeoutMs: 20 });
    rt.register("loop", () => ({ onMessage: (_m, ctx) => ctx.send(new AgentId("loop", `k${ctx.hopCount + 1}`), 1) }));
    await rt.start();
    const acme = rt.tenant("acme");
    await acme.send(new AgentId("bad", "k"), 1).catch(() => undefined);
    await acme.send(new AgentId("slow", "k"), 1).catch(() => undefined);
    await acme.send(new AgentId("loop", "k0"), 1).catch(() => undefined);
    await rt.stop();
    const spans = exporter.getFinishedSpans();
    const badInvoke = byName(spans, "invoke_agent bad")[0]!;
    expect(badInvoke.status.code).toBe(SpanStatusCode.ERROR);
    expect(badInvoke.status.message ?? "").not.toContain("secret");
    expect(badInvoke.attributes[ATTR.outcome]).toBe("error");
    expect(badInvoke.attributes[ATTR.errorType]).toBe("HANDLER_ERROR");
    const slowProcess = byName(spans, "process slow")[0]!;
    expect(slowProcess.attributes[ATTR.outcome]).toBe("timeout");
    expect(slowProcess.status.code).toBe(SpanStatusCode.ERROR);
    expect(byName(spans, "send slow")[0]!.attributes[ATTR.errorType]).toBe("TIMEOUT");
    const loopDropped = byName(spans, "send loop").filter((s) => s.attributes[ATTR.outcome] === "loop_dropped");
    expect(loopDropped.length).toBe(1);
    expect(loopDropped[0]!.status.code).toBe(SpanStatusCode.ERROR);
    expect(loopDropped[0]!.attributes[ATTR.hopCount]).toBe(4);
  });

  it("emits nothing and stays on the untraced path with the default no-op provider", async () => {
    const rt = new Runtime();
    rt.register("e", () => ({ onMessage: () => trace.getActiveSpan() }));
    await rt.start();
    expect(await rt.tenant("acme").send(new AgentId("e", "k"), 1)).toBeUndefined();
    await rt.stop();
  });
});
