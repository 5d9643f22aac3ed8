// A worker-tier tenant crashes its worker thread again and again (process.exit inside its handler).
// Other tenants — inline ones, and worker-tier ones placed on another worker — keep their results
// and their latency; the crashing tenant gets WorkerCrashedError, never a hang.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AgentId, Runtime, WorkerCrashedError, WorkerThreadTurnHost } from "@troupe/runtime";

const OPS = { module: new URL("../../runtime/src/isolation/test-agents/ops-agent.ts", import.meta.url), exportName: "createOpsAgent" };
let rt: Runtime;
let host: WorkerThreadTurnHost;

beforeAll(async () => {
  const ref: { rt?: Runtime } = {};
  host = new WorkerThreadTurnHost({ size: 2, onOutbound: (o) => ref.rt!.handleHostedOutbound(o), abortGraceMs: 200, restartBackoff: { initialMs: 10, maxMs: 100 } });
  rt = new Runtime({
    turnHost: host,
    quotas: { tiers: { isolated: { isolation: "worker", turnTimeoutMs: 10_000 } }, tenants: { crashy: { tier: "isolated" }, neighbour: { tier: "isolated" } } },
  });
  ref.rt = rt;
  rt.registerModule("ops", OPS);
  rt.register("echo", () => ({ onMessage: (m: unknown) => m }));
  await rt.start();
}, 30_000);

afterAll(async () => {
  await rt?.stop();
  await host?.close();
});

/** The worker an agent of a worker-tier tenant runs on (seen from the pool's per-worker turn counters). */
async function workerOf(tenant: string, key: string): Promise<number> {
  const before = host.metrics().workers.map((w) => w.turnsStarted);
  await rt.tenant(tenant).send(new AgentId("ops", key), { op: "echo", value: 0 });
  const after = host.metrics().workers.map((w) => w.turnsStarted);
  return after.findIndex((n, i) => n > before[i]!);
}

function p95(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * 0.95))]!;
}

describe("fault: a tenant's worker thread crashes repeatedly", () => {
  it("other tenants' results and latency are unaffected; the crashing tenant gets WorkerCrashedError each time", async () => {
    const crashWorker = await workerOf("crashy", "bomb");
    let neighbourKey = "";
    for (let i = 0; i < 50 && neighbourKey === ""; i++) if ((await workerOf("neighbour", `n${i}`)) !== crashWorker) neighbourKey = `n${i}`;
    expect(neighbourKey).not.toBe("");

    // Baseline: the inline tenant alone.
    const baseline: number[] = [];
    for (let i = 0; i < 100; i++) {
      const t0 = performance.now();
      expect(await rt.tenant("steady").send(new AgentId("echo", `k${i % 10}`), i)).toBe(i);
      baseline.push(performance.now() - t0);
    }

    // Under crashes: 15 exits in a row from the crashing tenant while the others keep working.
    const crashes = (async () => {
      const outcomes: unknown[] = [];
      for (let i = 0; i < 15; i++) outcomes.push(await rt.tenant("crashy").send(new AgentId("ops", "bomb"), { op: "exit" }).catch((e: unknown) => e));
      return outcomes;
    })();
    const inline: number[] = [];
    const neighbour: unknown[] = [];
    let done = false;
    void crashes.finally(() => (done = true));
    let i = 0;
    while (!done || i < 100) {
      const t0 = performance.now();
      expect(await rt.tenant("steady").send(new AgentId("echo", `k${i % 10}`), i)).toBe(i);
      inline.push(performance.now() - t0);
      if (i % 5 === 0) {
        const r = (await rt.tenant("neighbour").send(new AgentId("ops", neighbourKey), { op: "echo", value: i })) as { value: number; ctxTenant: string };
        neighbour.push(r.value === i && r.ctxTenant === "neighbour");
      }
      i++;
      // Paced, so the measurements span the whole crash period.
      await new Promise((r) => setTimeout(r, 2));
    }
    const outcomes = await crashes;

    expect(outcomes.every((o) => o instanceof WorkerCrashedError)).toBe(true);
    expect(host.metrics().crashes).toBeGreaterThanOrEqual(15);
    expect(neighbour.length).toBeGreaterThan(5);
    expect(neighbour.every((ok) => ok === true)).toBe(true);
    const [b, u] = [p95(baseline), p95(inline)];
    console.log(`worker crashes: ${host.metrics().crashes} crashes, ${inline.length} inline turns (p95 ${u.toFixed(2)} ms vs baseline ${b.toFixed(2)} ms), ${neighbour.length} neighbour turns on worker ${1 - crashWorker} all correct`);
    expect(u).toBeLessThan(b * 10 + 20);
    // And the crashing tenant recovers once it stops crashing.
    const again = (await rt.tenant("crashy").send(new AgentId("ops", "bomb"), { op: "echo", value: "back" })) as { value: string };
    expect(again.value).toBe("back");
  }, 60_000);
});
