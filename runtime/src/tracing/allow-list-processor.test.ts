import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { afterEach, describe, expect, it } from "vitest";
import { AllowListSpanProcessor } from "./allow-list-processor.js";
import { ATTR, EVENT_ATTRIBUTE_ALLOW_LIST, MAX_ATTRIBUTE_VALUE_LENGTH, RESOURCE_ATTRIBUTE_ALLOW_LIST, SPAN_ATTRIBUTE_ALLOW_LIST } from "@troupe/contract";

function setup() {
  const exporter = new InMemorySpanExporter();
  const processor = new AllowListSpanProcessor(new SimpleSpanProcessor(exporter));
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ "service.name": "svc", "k8s.secret.token": "s3cret", "user.email": "a@b.c" }),
    spanProcessors: [processor],
  });
  return { exporter, processor, provider, tracer: provider.getTracer("test") };
}

describe("AllowListSpanProcessor", () => {
  let cleanup: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await cleanup?.();
    cleanup = undefined;
  });

  it("exports only allow-listed attributes, capped, with no content in events, links, status or resource", async () => {
    const { exporter, processor, provider, tracer } = setup();
    cleanup = () => provider.shutdown();
    const long = "x".repeat(10 * 1024);
    const linked = tracer.startSpan("linked");
    linked.end();
    const span = tracer.startSpan("invoke_agent", {
      kind: SpanKind.INTERNAL,
      attributes: {
        [ATTR.tenantId]: "acme",
        [ATTR.agentType]: long,
        [ATTR.genAiFinishReasons]: ["stop", long],
        [ATTR.genAiInputTokens]: 12,
        "gen_ai.input.messages": JSON.stringify([{ role: "user", content: "my password is hunter2" }]),
        "gen_ai.output.messages": "secret answer",
        "http.request.body": "{\"card\":\"4111\"}",
        "tool.arguments": "rm -rf /",
      },
      links: [{ context: linked.spanContext(), attributes: { [ATTR.tenantId]: "acme", "message.body": "hello" } }],
    });
    span.recordException(new Error("the user said: my password is hunter2"));
    span.addEvent("custom", { "prompt.text": "hi", [ATTR.errorType]: "Boom" });
    span.setStatus({ code: SpanStatusCode.ERROR, message: "failed on input hunter2" });
    span.end();
    await processor.forceFlush();

    const exported = exporter.getFinishedSpans().find((s) => s.name === "invoke_agent");
    expect(exported).toBeDefined();
    const s = exported!;
    expect(Object.keys(s.attributes).sort()).toEqual([ATTR.agentType, ATTR.genAiFinishReasons, ATTR.genAiInputTokens, ATTR.tenantId].sort());
    for (const name of Object.keys(s.attributes)) expect(SPAN_ATTRIBUTE_ALLOW_LIST.has(name)).toBe(true);
    expect(s.attributes[ATTR.agentType]).toHaveLength(MAX_ATTRIBUTE_VALUE_LENGTH);
    expect(s.attributes[ATTR.genAiFinishReasons]).toEqual(["stop", "x".repeat(MAX_ATTRIBUTE_VALUE_LENGTH)]);
    expect(s.attributes[ATTR.genAiInputTokens]).toBe(12);
    expect(s.attributes[ATTR.tenantId]).toBe("acme");

    const exception = s.events.find((e) => e.name === "exception")!;
    expect(exception.attributes).toEqual({ "exception.type": "Error" });
    const custom = s.events.find((e) => e.name === "custom")!;
    expect(custom.attributes).toEqual({ [ATTR.errorType]: "Boom" });
    for (const event of s.events) for (const name of Object.keys(event.attributes ?? {})) expect(EVENT_ATTRIBUTE_ALLOW_LIST.has(name)).toBe(true);

    expect(s.links[0]!.attributes).toEqual({ [ATTR.tenantId]: "acme" });
    expect(s.status).toEqual({ code: SpanStatusCode.ERROR });
    expect(s.resource.attributes["service.name"]).toBe("svc");
    for (const name of Object.keys(s.resource.attributes)) expect(RESOURCE_ATTRIBUTE_ALLOW_LIST.has(name)).toBe(true);
    expect(s.resource.attributes["k8s.secret.token"]).toBeUndefined();

    const serialized = JSON.stringify({ attributes: s.attributes, events: s.events, links: s.links.map((l) => l.attributes), status: s.status, resource: s.resource.attributes });
    expect(serialized).not.toContain("hunter2");
    expect(serialized).not.toContain("4111");
    expect(serialized).not.toContain("secret");

    // 4 span attributes + 1 link attribute + message and stacktrace of the exception + 1 event attribute + 2 resource attributes.
    expect(processor.droppedAttributes).toBe(4 + 1 + 2 + 1 + 2);
    expect(s.droppedAttributesCount).toBe(4);
    const counts = processor.dropCounts();
    expect(counts.droppedStatusMessages).toBe(1);
    expect(counts.truncatedValues).toBe(2);
  });

  it("passes clean spans through without copying their attributes", async () => {
    const { exporter, processor, provider, tracer } = setup();
    cleanup = () => provider.shutdown();
    const span = tracer.startSpan("send", { attributes: { [ATTR.tenantId]: "acme", [ATTR.hopCount]: 1 } });
    span.end();
    await processor.forceFlush();
    const [s] = exporter.getFinishedSpans();
    expect(s!.attributes).toEqual({ [ATTR.tenantId]: "acme", [ATTR.hopCount]: 1 });
    expect(s!.spanContext().traceId).toBe(span.spanContext().traceId);
    expect(s!.droppedAttributesCount).toBe(0);
    // The filtered resource is cached: its two disallowed attributes are counted once, not per span.
    const span2 = tracer.startSpan("send2", { attributes: { [ATTR.tenantId]: "acme" } });
    span2.end();
    await processor.forceFlush();
    expect(processor.droppedAttributes).toBe(2);
  });

  it("hands a span with nothing to remove on as it is, and still filters the next one", async () => {
    const exporter = new InMemorySpanExporter();
    const processor = new AllowListSpanProcessor(new SimpleSpanProcessor(exporter));
    const provider = new BasicTracerProvider({ resource: resourceFromAttributes({ "service.name": "svc" }), spanProcessors: [processor] });
    cleanup = () => provider.shutdown();
    const tracer = provider.getTracer("test");
    const clean = tracer.startSpan("send", { attributes: { [ATTR.tenantId]: "acme" } });
    clean.end();
    const dirty = tracer.startSpan("send", { attributes: { [ATTR.tenantId]: "acme", "message.body": "hunter2" } });
    dirty.end();
    const failed = tracer.startSpan("send", { attributes: { [ATTR.tenantId]: "acme" } });
    failed.setStatus({ code: SpanStatusCode.ERROR, message: "hunter2" });
    failed.end();
    await processor.forceFlush();
    const [a, b, c] = exporter.getFinishedSpans();
    expect(a).toBe(clean);
    expect(b).not.toBe(dirty);
    expect(b!.attributes).toEqual({ [ATTR.tenantId]: "acme" });
    expect(b!.droppedAttributesCount).toBe(1);
    expect(c!.status).toEqual({ code: SpanStatusCode.ERROR });
    expect(processor.droppedAttributes).toBe(1);
  });

  it("caps long span and event names", async () => {
    const { exporter, processor, provider, tracer } = setup();
    cleanup = () => provider.shutdown();
    const span = tracer.startSpan("n".repeat(1000));
    span.addEvent("e".repeat(1000));
    span.end();
    await processor.forceFlush();
    const [s] = exporter.getFinishedSpans();
    expect(s!.name).toHaveLength(MAX_ATTRIBUTE_VALUE_LENGTH);
    expect(s!.events[0]!.name).toHaveLength(MAX_ATTRIBUTE_VALUE_LENGTH);
  });
});
