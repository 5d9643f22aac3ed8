// A worker-tier tenant crashes its worker thread again and again (process.exit inside its handler).
// Workers are never shared between tenants, so other tenants — inline ones, and another worker-tier
// tenant — keep their results and their latency: none of their turns fails or waits behind the
// crashing tenant's restart backoff. The crashing tenant gets WorkerCrashedError, never a hang.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AgentId, Runtime, WorkerCrashedError, WorkerThreadTurnHost } from "@troupe/runtime";

const OPS = { module: new URL("../../runtime/src/isolation/test-agents/ops-agent.ts", import.meta.url), exportName: "createOpsAgent" };
const CRASHES = 12;
let rt: Runtime;
let host: WorkerThreadTurnHost;
const crashedTenants: string[] = [];
const restartDelaysMs: number[] = [];

beforeAll(async () => {
  const ref: { rt?: Runtime } = {};
  host = new WorkerThreadTurnHost({
    onOutbound: (o) => ref.rt!.handleHostedOutbound(o),
    abortGraceMs: 200,
    // A real backoff: a neighbour sharing the crashing worker would wait up to 200 ms per restart.
    restartBackoff: { initialMs: 50, maxMs: 200 },
    onWorkerCrash: (e) => {
      crashedTenants.push(e.tenant);
      restartDelaysMs.push(e.restartInMs);
    },
  });
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

function p95(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * 0.95))]!;
}

/** One turn of each steady tenant; returns their latencies. */
async function steadyRound(i: number): Promise<{ inlineMs: number; neighbourMs: number }> {
  let t0 = performance.now();
  expect(await rt.tenant("steady").send(new AgentId("echo", `k${i % 10}`), i)).toBe(i);
  const inlineMs = performance.now() - t0;
  t0 = performance.now();
  const r = (await rt.tenant("neighbour").send(new AgentId("ops", `n${i % 4}`), { op: "echo", value: i })) as { value: number; ctxTenant: string };
  const neighbourMs = performance.now() - t0;
  expect(r.value).toBe(i);
  expect(r.ctxTenant).toBe("neighbour");
  return { inlineMs, neighbourMs };
}

describe("fault: a tenant's worker thread crashes repeatedly", () => {
  it(`${CRASHES} exits in a row never fail or delay a turn of an inline tenant or of another worker-tier tenant`, async () => {
    // Both worker-tier tenants warm (their workers started), then a baseline without crashes.
    await rt.tenant("crashy").send(new AgentId("ops", "bomb"), { op: "echo", value: 0 });
    await steadyRound(0);
    const baseline = { inline: [] as number[], neighbour: [] as number[] };
    for (let i = 0; i < 60; i++) {
      const r = await steadyRound(i);
      baseline.inline.push(r.inlineMs);
      baseline.neighbour.push(r.neighbourMs);
    }
    const neighbourThread = host.metrics().tenants.find((t) => t.tenant === "neighbour")!.workers[0]!.threadId;

    const crashes = (async () => {
      const outcomes: unknown[] = [];
      for (let i = 0; i < CRASHES; i++) outcomes.push(await rt.tenant("crashy").send(new AgentId("ops", "bomb"), { op: "exit" }).catch((e: unknown) => e));
      return outcomes;
    })();
    let done = false;
    void crashes.finally(() => (done = true));
    const under = { inline: [] as number[], neighbour: [] as number[] };
    // Every steady turn is checked inside steadyRound: a single failure fails the test.
    for (let i = 0; !done || i < 60; i++) {
      const r = await steadyRound(i);
      under.inline.push(r.inlineMs);
      under.neighbour.push(r.neighbourMs);
      // Paced, so the measurements span the whole crash period.
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    const outcomes = await crashes;

    expect(outcomes.every((o) => o instanceof WorkerCrashedError)).toBe(true);
    expect(crashedTenants).toHaveLength(CRASHES);
    expect(new Set(crashedTenants)).toEqual(new Set(["crashy"]));
    // The crashing tenant really backed off (up to 200 ms per restart) ...
    expect(Math.max(...restartDelaysMs)).toBe(200);
    // ... and the neighbour never waited for it: same worker thread throughout, no crash, no restart.
    const neighbour = host.metrics().tenants.find((t) => t.tenant === "neighbour")!;
    expect(neighbour.crashes).toBe(0);
    expect(neighbour.turnsFailed).toBe(0);
    expect(neighbour.workers[0]!.threadId).toBe(neighbourThread);
    const crashy = host.metrics().tenants.find((t) => t.tenant === "crashy")!;
    expect(crashy.crashes).toBe(CRASHES);
    expect(crashy.turnsLostToCrashes).toBe(CRASHES);

    const [bi, ui, bn, un] = [p95(baseline.inline), p95(under.inline), p95(baseline.neighbour), p95(under.neighbour)];
    console.log(
      `worker crashes: ${CRASHES} crashes of "crashy"; ${under.inline.length} rounds: inline p95 ${ui.toFixed(2)} ms (alone ${bi.toFixed(2)}), worker-tier neighbour p95 ${un.toFixed(2)} ms (alone ${bn.toFixed(2)}), max ${Math.max(...under.neighbour).toFixed(2)} ms`,
    );
    // Generous: a 2-core machine also pays for the crashing tenant's worker restarts.
    expect(ui).toBeLessThan(bi * 10 + 20);
    expect(un).toBeLessThan(bn * 10 + 50);
    // And the crashing tenant recovers once it stops crashing.
    const again = (await rt.tenant("crashy").send(new AgentId("ops", "bomb"), { op: "echo", value: "back" })) as { value: string };
    expect(again.value).toBe("back");
  }, 60_000);
});
