import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { AgentId } from "../agents/ids.js";
import { InvalidArgumentError } from "../errors.js";
import { WorkerThreadTurnHost } from "../isolation/worker-thread-turn-host.js";
import { Runtime } from "../runtime.js";
import { followControlPlane } from "./follow-control-plane.js";
import { startFakeControlServer, type FakeControlServer } from "./testing/fake-control-server.js";
import { until } from "./testing/until.js";

const OPS = { module: new URL("../isolation/test-agents/ops-agent.ts", import.meta.url), exportName: "createOpsAgent" };
const KEY = "trp_service_test";
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(withHost: boolean): Promise<{ s: FakeControlServer; rt: Runtime; host: WorkerThreadTurnHost | undefined; lines: string[]; version: () => number }> {
  const s = await startFakeControlServer({ apiKey: KEY });
  cleanups.push(() => s.close());
  const ref: { rt?: Runtime } = {};
  const host = withHost ? new WorkerThreadTurnHost({ onOutbound: (o) => ref.rt!.handleHostedOutbound(o), abortGraceMs: 200, restartBackoff: { initialMs: 0, maxMs: 50 } }) : undefined;
  // The code puts acme on an inline tier; the registry has the last word.
  const rt = new Runtime({ ...(host ? { turnHost: host } : {}), quotas: { tiers: { small: { isolation: "inline" } }, tenants: { acme: { tier: "small" } } } });
  ref.rt = rt;
  if (host) cleanups.push(() => host.close());
  cleanups.push(() => rt.stop());
  rt.registerModule("ops", OPS);
  rt.register("factory", () => ({ onMessage: (m) => m }));
  await rt.start();
  const dir = await mkdtemp(join(tmpdir(), "troupe-tiers-"));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const lines: string[] = [];
  const follower = followControlPlane({ collectorUrl: s.url, apiKey: KEY, runtime: rt, cacheFile: join(dir, "c.json"), log: (l) => lines.push(l) });
  cleanups.push(() => follower.stop());
  s.setTenant({ id: "acme", tier: "shared" });
  await follower.ready;
  await until(() => follower.status().appliedVersion === 1);
  return { s, rt, host, lines, version: () => follower.status().appliedVersion };
}

/** Whether acme's new turns run in a worker: a factory-registered type cannot run there. */
async function runsInWorker(rt: Runtime): Promise<boolean> {
  const echoed = (await rt.tenant("acme").send(new AgentId("ops", "a"), { op: "echo", value: 1 })) as { value: number };
  expect(echoed.value).toBe(1);
  const error = await rt
    .tenant("acme")
    .send(new AgentId("factory", "a"), "x")
    .then(
      () => undefined,
      (e: unknown) => e,
    );
  if (error !== undefined) expect((error as Error).message).toMatch(/registerModule/);
  return error instanceof InvalidArgumentError;
}

describe("tiers from the registry", () => {
  it("switches a tenant's new turns to the worker threads and back as its tier changes", async () => {
    const { s, rt, host, lines, version } = await setup(true);
    expect(await runsInWorker(rt)).toBe(false);
    expect(host!.tenantsWithWorkers()).toEqual([]);

    s.setTenant({ id: "acme", tier: "worker" });
    await until(() => version() === 2);
    expect(await runsInWorker(rt)).toBe(true);
    expect(host!.tenantsWithWorkers()).toEqual(["acme"]);

    s.setTenant({ id: "acme", tier: "shared" });
    await until(() => version() === 3);
    expect(await runsInWorker(rt)).toBe(false);

    // One runtime has no worker processes: the process tier runs in its worker threads.
    s.setTenant({ id: "acme", tier: "process" });
    await until(() => version() === 4);
    expect(await runsInWorker(rt)).toBe(true);
    expect(lines).toEqual([]);
  });

  it("keeps a worker-tier tenant inline on a runtime without a turnHost, and says so once", async () => {
    const { s, rt, lines, version } = await setup(false);
    s.setTenant({ id: "acme", tier: "worker", quotas: { weight: 2, maxInFlightTurns: null, maxQueuedMessages: null, messagesPerSecond: null, turnTimeoutMs: null } });
    await until(() => version() === 2);
    s.setTenant({ id: "acme", tier: "worker", quotas: { weight: 3, maxInFlightTurns: null, maxQueuedMessages: null, messagesPerSecond: null, turnTimeoutMs: null } });
    await until(() => version() === 3);
    expect(await rt.tenant("acme").send(new AgentId("factory", "a"), "x")).toBe("x");
    expect(lines).toEqual([`control plane: tenant "acme" has tier "worker" in the tenant registry, but this runtime has no turnHost: its turns run inline (on the main event loop)`]);
  });
});
