import { createContextKey, propagation, ROOT_CONTEXT, trace, TraceFlags, type Context } from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { describe, expect, it } from "vitest";
import { contextWithSpan } from "./overlay-context.js";

const span = (spanId: string) => trace.wrapSpanContext({ traceId: "0af7651916cd43dd8448eb211c80319c", spanId, traceFlags: TraceFlags.SAMPLED });

describe("contextWithSpan", () => {
  it("answers as trace.setSpan would: the span, the parent's other values, and later sets and deletes", () => {
    const key = createContextKey("k");
    const base = ROOT_CONTEXT.setValue(key, "v");
    const ctx = contextWithSpan(base, span("b7ad6b7169203331"));
    expect(trace.getSpan(ctx)?.spanContext().spanId).toBe("b7ad6b7169203331");
    expect(ctx.getValue(key)).toBe("v");
    expect(trace.getSpan(base)).toBeUndefined();
    const child = contextWithSpan(ctx, span("00f067aa0ba902b7"));
    expect(trace.getSpan(child)?.spanContext().spanId).toBe("00f067aa0ba902b7");
    expect(trace.getSpan(ctx)?.spanContext().spanId).toBe("b7ad6b7169203331");
    expect(child.deleteValue(key).getValue(key)).toBeUndefined();
    expect(trace.getSpan(trace.deleteSpan(child))).toBeUndefined();
    const carrier: Record<string, string> = {};
    new W3CTraceContextPropagator().inject(child, carrier, { set: (c, k, v) => (c[k] = v) });
    expect(carrier.traceparent).toBe("00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01");
    expect(propagation.getBaggage(child)).toBeUndefined();
  });

  it("keeps lookups short on a deep chain and still finds every value", () => {
    const key = createContextKey("deep");
    let ctx: Context = ROOT_CONTEXT.setValue(key, "bottom");
    for (let i = 0; i < 100; i++) ctx = contextWithSpan(ctx, span((i + 1).toString(16).padStart(16, "0")));
    expect(trace.getSpan(ctx)?.spanContext().spanId).toBe((100).toString(16).padStart(16, "0"));
    expect(ctx.getValue(key)).toBe("bottom");
    expect((ctx as unknown as { depth?: number }).depth ?? 0).toBeLessThanOrEqual(24);
  });
});
