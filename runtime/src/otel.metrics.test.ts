import { metrics } from "@opentelemetry/api";
import { afterEach, describe, expect, it } from "vitest";
import { AgentId } from "./agents/ids.js";
import { InvalidArgumentError } from "./errors.js";
import { METRIC } from "./metrics/metric-names.js";
import { RuntimeMetrics } from "./metrics/runtime-metrics.js";
import { CollectingMetricReader } from "./metrics/testing/collecting-metric-reader.js";
import { startTelemetry, type Telemetry } from "./otel.js";
import { Runtime } from "./runtime.js";

// startTelemetry's metrics pipeline: the meter provider it exposes and registers, and its options.

const started: Telemetry[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((t) => t.shutdown()));
});

function telemetry(options: Partial<Parameters<typeof startTelemetry>[0]> = {}): Telemetry {
  const t = startTelemetry({ serviceName: "metrics-test", collector: false, usageRecords: false, ...options });
  started.push(t);
  return t;
}

async function turnOnce(rt: Runtime): Promise<void> {
  rt.register("echo", () => ({ onMessage: (m) => m }));
  await rt.start();
  await rt.tenant("acme").send(new AgentId("echo", "k"), 1);
  await rt.stop();
}

describe("startTelemetry metrics", () => {
  it("registers its meter provider globally until shutdown: a runtime started meanwhile records through it, with the allow-listed resource", async () => {
    const reader = new CollectingMetricReader();
    const t = telemetry({ resourceAttributes: { "service.namespace": "shop", "customer.secret": "x" }, metrics: { exporters: [], readers: [reader] } });
    expect(metrics.getMeterProvider()).toBe(t.meterProvider);
    await turnOnce(new Runtime());
    expect(await reader.counter(METRIC.turns)).toEqual([{ attributes: { "troupe.tenant.id": "acme", "troupe.agent.type": "echo", "troupe.turn.outcome": "ok" }, value: 1 }]);
    const { resourceMetrics } = await reader.collect();
    expect(resourceMetrics.resource.attributes).toMatchObject({ "service.name": "metrics-test", "service.namespace": "shop" });
    expect(resourceMetrics.resource.attributes["customer.secret"]).toBeUndefined();

    await t.shutdown();
    expect(RuntimeMetrics.create(metrics.getMeterProvider())).toBeNull();
  });

  it("with registerGlobal false leaves the global alone; the runtime takes the provider explicitly", async () => {
    const reader = new CollectingMetricReader();
    const t = telemetry({ registerGlobal: false, metrics: { exporters: [], readers: [reader] } });
    expect(RuntimeMetrics.create(metrics.getMeterProvider())).toBeNull();
    await turnOnce(new Runtime({ meterProvider: t.meterProvider }));
    expect((await reader.counter(METRIC.turns)).map((p) => p.value)).toEqual([1]);
  });

  it("is off with `metrics: false` or with nothing to export to: the no-op provider, nothing registered", () => {
    for (const options of [{ metrics: false as const }, { metrics: { exporters: [] } }]) {
      const t = telemetry(options);
      expect(RuntimeMetrics.create(t.meterProvider)).toBeNull();
      expect(RuntimeMetrics.create(metrics.getMeterProvider())).toBeNull();
    }
  });

  it("refuses invalid metrics options, naming them", () => {
    const refused = (m: object): string => {
      try {
        telemetry({ metrics: m });
      } catch (error) {
        expect(error).toBeInstanceOf(InvalidArgumentError);
        return (error as Error).message;
      }
      throw new Error("accepted");
    };
    expect(refused({ url: "ftp://apm/v1/metrics" })).toMatch(/^telemetry option metrics\.url: must be an http\(s\) URL/);
    expect(refused({ exporters: ["prometheus"] })).toMatch(/^telemetry option metrics\.exporters\.0/);
    expect(refused({ exportIntervalMs: 1000, exportTimeoutMs: 2000 })).toMatch(/metrics\.exportTimeoutMs must not exceed metrics\.exportIntervalMs/);
  });
});
