import { afterEach, describe, expect, it } from "vitest";
import { isMainThread } from "node:worker_threads";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { Runtime } from "./runtime.js";
import { AgentId } from "./agents/ids.js";
import { InvalidArgumentError } from "./errors.js";
import { WorkerThreadTurnHost } from "./isolation/worker-thread-turn-host.js";
import { ATTR } from "@troupe/contract";

// A worker-tier tenant's turns run in the TurnHost and say so on their process span; a type the
// platform pins inline (it holds in-process resources) runs on the main loop for every tier.

const OPS = { module: new URL("./isolation/test-agents/ops-agent.ts", import.meta.url), exportName: "createOpsAgent" };
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function make(): { rt: Runtime; exporter: InMemorySpanExporter } {
  const exporter = new InMemorySpanExporter();
  const ref: { rt?: Runtime } = {};
  const host = new WorkerThreadTurnHost({ onOutbound: (o) => ref.rt!.handleHostedOutbound(o) });
  const rt = new Runtime({
    turnHost: host,
    tracerProvider: new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }),
    quotas: { tiers: { heavy: { isolation: "worker" } }, tenants: { heavyco: { tier: "heavy" } } },
  });
  ref.rt = rt;
  cleanups.push(() => host.close(), () => rt.stop());
  rt.registerModule("ops", OPS);
  rt.register("pinned", () => ({ onMessage: () => ({ isMainThread }) }), { isolation: "inline" });
  return { rt, exporter };
}

describe("isolation of a turn", () => {
  it("marks a hosted turn's process span with troupe.turn.isolation=worker, and leaves inline turns unmarked", async () => {
    const { rt, exporter } = make();
    await rt.start();
    await rt.tenant("heavyco").send(new AgentId("ops", "a"), { op: "echo", value: 1 });
    await rt.tenant("acme").send(new AgentId("ops", "a"), { op: "echo", value: 1 });
    const process = exporter.getFinishedSpans().filter((s) => s.name.startsWith("process "));
    const byTenant = (t: string) => process.find((s) => s.attributes[ATTR.tenantId] === t)!;
    expect(byTenant("heavyco").attributes[ATTR.turnIsolation]).toBe("worker");
    expect(byTenant("acme").attributes[ATTR.turnIsolation]).toBeUndefined();
  });

  it("runs a type pinned inline on the main loop for a worker-tier tenant", async () => {
    const { rt } = make();
    await rt.start();
    expect(await rt.tenant("heavyco").send(new AgentId("pinned", "a"), {})).toEqual({ isMainThread: true });
  });

  it("refuses an isolation option other than inline, naming the type", () => {
    const rt = new Runtime();
    expect(() => rt.register("bad", () => ({ onMessage: () => 1 }), { isolation: "worker" as "inline" })).toThrow(InvalidArgumentError);
    expect(() => rt.register("bad", () => ({ onMessage: () => 1 }), { isolation: "worker" as "inline" })).toThrow(/agent type "bad": isolation must be "inline"/);
  });
});
