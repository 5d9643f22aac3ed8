import { ROOT_CONTEXT, propagation, trace, TraceFlags } from "@opentelemetry/api";
import { describe, expect, it } from "vitest";
import { TENANT_BAGGAGE_KEY } from "@troupe/contract";
import { parseTenantId } from "../tenancy/parse-tenant-id.js";
import { extractContext, injectContext } from "./propagation.js";

const spanContext = { traceId: "0af7651916cd43dd8448eb211c80319c", spanId: "b7ad6b7169203331", traceFlags: TraceFlags.SAMPLED, isRemote: false };

describe("propagation across a boundary", () => {
  it("round-trips trace context and tenant with no global propagator registered", () => {
    const ctx = trace.setSpanContext(ROOT_CONTEXT, spanContext);
    const carrier: Record<string, string> = {};
    injectContext(ctx, parseTenantId("acme"), carrier);
    expect(carrier.traceparent).toBe("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    expect(carrier.baggage).toContain(`${TENANT_BAGGAGE_KEY}=acme`);

    const { context, tenant } = extractContext(carrier);
    expect(tenant).toBe("acme");
    const remote = trace.getSpanContext(context)!;
    expect(remote.traceId).toBe(spanContext.traceId);
    expect(remote.spanId).toBe(spanContext.spanId);
    expect(remote.isRemote).toBe(true);
  });

  it("writes the same carrier for an untraced context as the general path does, and never shares it between calls", () => {
    // An invalid span (a no-op tracer's) counts as none; the general path is taken with baggage present.
    const noopSpan = trace.wrapSpanContext({ traceId: "0".repeat(32), spanId: "0".repeat(16), traceFlags: TraceFlags.NONE });
    for (const ctx of [ROOT_CONTEXT, trace.setSpan(ROOT_CONTEXT, noopSpan)]) {
      const fast: Record<string, string> = {};
      injectContext(ctx, parseTenantId("acme"), fast);
      const general: Record<string, string> = {};
      injectContext(propagation.setBaggage(ctx, propagation.createBaggage({ [TENANT_BAGGAGE_KEY]: { value: "someone-else" } })), parseTenantId("acme"), general);
      expect(fast).toEqual(general);
      expect(fast).toEqual({ baggage: `${TENANT_BAGGAGE_KEY}=acme` });
      fast.baggage = "changed";
      const again: Record<string, string> = {};
      injectContext(ctx, parseTenantId("acme"), again);
      expect(again.baggage).toBe(`${TENANT_BAGGAGE_KEY}=acme`);
      expect(extractContext(again).tenant).toBe("acme");
    }
  });

  it("reads a baggage-only carrier the same way every time, hostile or not, and only from the root context", () => {
    for (let i = 0; i < 2; i++) {
      expect(extractContext({ baggage: `${TENANT_BAGGAGE_KEY}=acme` }).tenant).toBe("acme");
      const hostile = extractContext({ baggage: `${TENANT_BAGGAGE_KEY}=ACME,keep=1` });
      expect(hostile.tenant).toBeUndefined();
      expect(propagation.getBaggage(hostile.context)!.getEntry(TENANT_BAGGAGE_KEY)).toBeUndefined();
      expect(propagation.getBaggage(hostile.context)!.getEntry("keep")!.value).toBe("1");
    }
    // A context derived from another base keeps that base's values.
    const key = Symbol("base value");
    const base = ROOT_CONTEXT.setValue(key, 42);
    expect(extractContext({ baggage: `${TENANT_BAGGAGE_KEY}=acme` }, base).context.getValue(key)).toBe(42);
  });

  it("keeps other baggage entries, and the explicit tenant wins", () => {
    let ctx = trace.setSpanContext(ROOT_CONTEXT, { ...spanContext, traceState: undefined });
    ctx = propagation.setBaggage(ctx, propagation.createBaggage({ [TENANT_BAGGAGE_KEY]: { value: "other" }, region: { value: "eu" } }));
    const carrier: Record<string, string> = {};
    injectContext(ctx, parseTenantId("acme"), carrier);
    const { context, tenant } = extractContext(carrier);
    expect(tenant).toBe("acme");
    expect(propagation.getBaggage(context)!.getEntry("region")!.value).toBe("eu");
  });

  it("returns no tenant (and no throw) for hostile baggage, and drops the bad entry", () => {
    const hostile = ["ACME", "a b", "../etc", "x".repeat(200), "", "acme;drop", "%00"];
    for (const value of hostile) {
      const carrier = {
        traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        baggage: `${TENANT_BAGGAGE_KEY}=${encodeURIComponent(value)},keep=1`,
      };
      const { context, tenant } = extractContext(carrier);
      expect(tenant, value).toBeUndefined();
      expect(propagation.getBaggage(context)?.getEntry(TENANT_BAGGAGE_KEY), value).toBeUndefined();
      expect(trace.getSpanContext(context)?.traceId).toBe("0af7651916cd43dd8448eb211c80319c");
    }
  });

  it("ignores garbage without throwing", () => {
    const garbage: Record<string, string>[] = [
      {},
      { traceparent: "garbage", baggage: "===,,,;;;" },
      { traceparent: "00-00000000000000000000000000000000-0000000000000000-01" },
      { baggage: "%E0%A4%A" + "x".repeat(10_000) },
      JSON.parse('{"__proto__": {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}}') as Record<string, string>,
    ];
    for (const carrier of garbage) {
      const { context, tenant } = extractContext(carrier);
      expect(tenant).toBeUndefined();
      expect(trace.getSpanContext(context)).toBeUndefined();
    }
  });

  it("writes only baggage when the context has no span", () => {
    const carrier: Record<string, string> = {};
    injectContext(ROOT_CONTEXT, parseTenantId("t1"), carrier);
    expect(carrier.traceparent).toBeUndefined();
    expect(extractContext(carrier).tenant).toBe("t1");
  });
});
