import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { trace } from "@opentelemetry/api";
import { afterEach, describe, expect, it } from "vitest";
import { AgentId } from "./agents/ids.js";
import { InvalidArgumentError } from "./errors.js";
import { startTelemetry, type Telemetry } from "./otel.js";
import { Runtime } from "./runtime.js";
import { ATTR } from "@troupe/contract";
import { SamplingSettings } from "./tracing/sampling-settings.js";
import { SamplingTracerProvider } from "./tracing/sampling-tracer-provider.js";

interface WireSpan {
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  attributes: Record<string, unknown>;
}

/** An OTLP/HTTP JSON traces receiver on 127.0.0.1. */
async function startReceiver(): Promise<{ url: string; spans: WireSpan[]; close(): Promise<void> }> {
  const spans: WireSpan[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as {
        resourceSpans: { scopeSpans: { spans: (Omit<WireSpan, "attributes"> & { attributes?: { key: string; value: Record<string, unknown> }[] })[] }[] }[];
      };
      for (const rs of body.resourceSpans) {
        for (const ss of rs.scopeSpans) {
          for (const s of ss.spans) {
            const attributes = Object.fromEntries((s.attributes ?? []).map((a) => [a.key, Object.values(a.value)[0]]));
            spans.push({ name: s.name, traceId: s.traceId, spanId: s.spanId, ...(s.parentSpanId ? { parentSpanId: s.parentSpanId } : {}), attributes });
          }
        }
      }
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/v1/traces`, spans, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

describe("startTelemetry with sampling", () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    while (cleanups.length > 0) await cleanups.pop()!();
  });

  it("exports failing traces whole and ok traces by their tenant's ratio, changeable at run time, through the real OTLP exporter", async () => {
    const receiver = await startReceiver();
    cleanups.push(receiver.close);
    const telemetry: Telemetry = startTelemetry({
      serviceName: "sampling-test",
      collector: { url: receiver.url },
      protocol: "http/json",
      usageRecords: false,
      batch: { scheduledDelayMs: 20 },
      sampling: { defaultRatio: 0, tenants: { vip: 1 } },
    });
    cleanups.push(() => telemetry.shutdown());
    expect(telemetry.tracerProvider).toBeInstanceOf(SamplingTracerProvider);
    expect(telemetry.sampling?.ratioFor("vip")).toBe(1);

    // The runtime reads the global provider, which startTelemetry registered.
    const rt = new Runtime();
    rt.register("planner", () => ({ onMessage: (m, ctx) => ctx.send(new AgentId("worker", "w"), m) }));
    rt.register("worker", () => ({
      onMessage: (m) => {
        trace.getActiveSpan()?.setAttribute("app.prompt", "secret");
        if (m === "fail") throw new Error("worker failed");
        return m;
      },
    }));
    await rt.start();
    cleanups.push(() => rt.stop());
    const acme = rt.tenant("acme");
    await acme.send(new AgentId("planner", "ok"), "ok");
    await acme.send(new AgentId("planner", "bad"), "fail").catch(() => undefined);
    await rt.tenant("vip").send(new AgentId("planner", "v"), "ok");
    telemetry.sampling!.setTenantRatio("acme", 1);
    await acme.send(new AgentId("planner", "later"), "ok");
    await rt.stopWhenIdle();
    await telemetry.forceFlush();

    const roots = receiver.spans.filter((s) => s.parentSpanId === undefined);
    expect(roots.map((r) => [r.attributes[ATTR.tenantId], r.attributes[ATTR.samplingKeptBy], r.attributes[ATTR.samplingRatio]]).sort()).toEqual(
      [
        ["acme", "error", 0],
        ["acme", "ratio", 1],
        ["vip", "ratio", 1],
      ].sort(),
    );
    for (const root of roots) {
      const spans = receiver.spans.filter((s) => s.traceId === root.traceId);
      expect(spans.map((s) => s.name).sort()).toEqual(["invoke_agent planner", "invoke_agent worker", "process planner", "process worker", "send planner", "send worker"]);
      const ids = new Set(spans.map((s) => s.spanId));
      for (const s of spans) if (s !== root) expect(ids.has(s.parentSpanId!)).toBe(true);
      for (const s of spans) expect(s.attributes["app.prompt"]).toBeUndefined();
    }
    const stats = telemetry.samplingStats()!;
    expect(stats.keptByRule.error).toBe(1);
    expect(stats.dropped).toBeGreaterThanOrEqual(1);
  });

  it("refuses a bad ratio with an error naming it, and sampling beside samplerRatio", () => {
    expect(() => startTelemetry({ serviceName: "s", collector: false, usageRecords: false, sampling: { defaultRatio: 1.5 } })).toThrow(/sampling\.defaultRatio must be a number from 0 to 1; got 1\.5/);
    expect(() => startTelemetry({ serviceName: "s", collector: false, usageRecords: false, sampling: { tenants: { acme: -0.1 } } })).toThrow(/tenant "acme".*got -0\.1/);
    expect(() => startTelemetry({ serviceName: "s", collector: false, usageRecords: false, sampling: { defaultRatio: 0.1 }, samplerRatio: 0.1 })).toThrow(InvalidArgumentError);
    expect(() => startTelemetry({ serviceName: "s", collector: false, usageRecords: false, sampling: "0.1" as unknown as SamplingSettings })).toThrow(/telemetry option sampling/);
  });

  it("takes a SamplingSettings to hold for run-time changes, and stays out of the globals when asked", async () => {
    const settings = new SamplingSettings({ defaultRatio: 0.5 });
    const telemetry = startTelemetry({ serviceName: "s", collector: false, usageRecords: false, registerGlobal: false, sampling: settings });
    cleanups.push(() => telemetry.shutdown());
    expect(telemetry.sampling).toBe(settings);
    expect(trace.getTracer("global").startSpan("noop").isRecording()).toBe(false);
    expect(telemetry.tracerProvider.getTracer("t").startSpan("local", { attributes: { [ATTR.tenantId]: "acme" } }).isRecording()).toBe(true);
  });
});
