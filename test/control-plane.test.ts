import { randomBytes } from "node:crypto";
import type { ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startMockOpenAiServer, type MockOpenAiServer } from "@troupe/runtime/testing";
import { exited, startCollectorProcess, type CollectorProcess } from "./support/collector-process.js";
import { freePort } from "./support/free-port.js";
import { startFollowedRuntime, type FollowedRuntime, type FollowedRuntimeConfig } from "./support/followed-runtime.js";

// One control plane, end to end with real processes: a collector process (chDB) holding the
// tenants' settings, runtime processes following them with a service key (long poll, disk cache,
// usage so far from usage records), LLM calls to a local OpenAI-compatible server. Every call
// reports 800 + 200 tokens.

const ADMIN_KEY = `trp_admin_${randomBytes(18).toString("base64url")}`;
const TOKENS_PER_CALL = 1_000;
const started: ChildProcess[] = [];
let dir: string;
let port: number;
let collector: CollectorProcess;
let llmServer: MockOpenAiServer;
let serviceKey: string;

async function admin<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(collector.url + path, {
    method,
    headers: { authorization: `Bearer ${ADMIN_KEY}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const json = (await res.json()) as T;
  if (!res.ok) throw new Error(`${method} ${path} answered ${res.status}: ${JSON.stringify(json)}`);
  return json;
}

const setTenant = (id: string, patch: Record<string, unknown>) => admin("PUT", `/api/v1/admin/tenants/${id}`, patch);

async function startCollector(): Promise<CollectorProcess> {
  return startCollectorProcess(join(dir, "collector"), started, { port, env: { TROUPE_ADMIN_KEY: ADMIN_KEY } });
}

function runtimeConfig(name: string, tenants: string[], extra: Partial<FollowedRuntimeConfig> = {}): FollowedRuntimeConfig {
  return { name, collectorUrl: collector.url, apiKey: serviceKey, llmBaseUrl: llmServer.baseURL, tenants, cacheFile: join(dir, `${name}.cache.json`), ...extra };
}

/** Polls `probe` until it returns true; resolves with the milliseconds it took, or throws after `timeoutMs`. */
async function within(timeoutMs: number, what: string, probe: () => Promise<boolean>): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    if (await probe()) return Date.now() - t0;
    if (Date.now() - t0 > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function storedTokens(tenant: string): Promise<{ tokens: number; budgetRejections: number }> {
  const { totals } = await admin<{ totals: { inputTokens: number; outputTokens: number; budgetRejections: number } }>("GET", `/api/v1/usage?tenant=${tenant}`);
  return { tokens: totals.inputTokens + totals.outputTokens, budgetRejections: totals.budgetRejections };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "troupe-control-plane-"));
  port = await freePort();
  collector = await startCollector();
  for (const id of ["initech", "acme", "budgetco", "duo"]) await admin("POST", "/api/v1/admin/tenants", { id, keys: [] });
  ({ key: { secret: serviceKey } } = await admin<{ key: { secret: string } }>("POST", "/api/v1/admin/service-keys", { allowedTenants: ["initech", "acme", "budgetco", "duo"] }));
  llmServer = await startMockOpenAiServer({
    behaviour: () => ({ type: "completion", content: "ok", usage: { promptTokens: 800, completionTokens: 200 } }),
  });
}, 120_000);

afterAll(async () => {
  for (const child of started) child.kill("SIGKILL");
  await llmServer?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("runtimes follow the settings operators make", () => {
  let runtime: FollowedRuntime;

  beforeAll(async () => {
    runtime = await startFollowedRuntime(runtimeConfig("rt-main", ["initech", "acme"]), started);
  }, 90_000);

  it("a lowered daily token budget refuses the next call within 5 s, counted as budget_rejected; raising it lets calls through", async () => {
    expect(await runtime.chat("initech")).toEqual({ ok: true });
    await setTenant("initech", { budgets: { dailyTokens: 500 } });
    const refusedAfterMs = await within(5_000, "refusal after lowering the budget", async () => (await runtime.chat("initech")).error === "BUDGET_EXCEEDED");
    expect(refusedAfterMs).toBeLessThan(5_000);
    await runtime.flush();
    await within(10_000, "budget_rejected in the usage report", async () => (await storedTokens("initech")).budgetRejections >= 1);

    await setTenant("initech", { budgets: { dailyTokens: null } });
    await within(5_000, "calls again after raising the budget", async () => (await runtime.chat("initech")).ok);
  });

  it("a tier change to worker runs the tenant's next turns in worker threads, and back to shared on the main thread", async () => {
    expect((await runtime.where("acme")).isMainThread).toBe(true);
    await setTenant("acme", { tier: "worker" });
    await within(5_000, "turns in a worker thread", async () => !(await runtime.where("acme")).isMainThread);
    // The spans say so: the process span of a hosted turn carries troupe.turn.isolation=worker.
    await within(15_000, "a stored span of a turn in a worker thread", async () => {
      const { traces } = await admin<{ traces: Array<{ traceId: string }> }>("GET", "/api/v1/traces?tenant=acme&limit=20");
      for (const t of traces) {
        const { spans } = await admin<{ spans: Array<{ name: string; attributes: Record<string, unknown> }> }>("GET", `/api/v1/traces/${t.traceId}?tenant=acme`);
        if (spans.some((span) => span.name === "process where" && span.attributes["troupe.turn.isolation"] === "worker")) return true;
      }
      return false;
    });
    await setTenant("acme", { tier: "shared" });
    await within(5_000, "turns on the main thread again", async () => (await runtime.where("acme")).isMainThread);
  });

  it("shows each connected runtime's applied settings version to the operator", async () => {
    const { tenant } = await setTenant("acme", { quotas: { weight: 3 } }) as { tenant: { settingsVersion: number } };
    await within(5_000, "the runtime checks in with the new version", async () => {
      const { runtimes } = await admin<{ runtimes: Array<{ name: string; appliedVersion: number }> }>("GET", "/api/v1/admin/tenants/acme/runtimes");
      return runtimes.some((r) => r.name === "rt-main" && r.appliedVersion >= tenant.settingsVersion);
    });
  });
});

describe("budgets hold across restarts and processes", () => {
  it("a runtime killed at 80% of its budget and restarted refuses once the remaining 20% is spent", async () => {
    await setTenant("budgetco", { budgets: { dailyTokens: 10 * TOKENS_PER_CALL } });
    const first = await startFollowedRuntime(runtimeConfig("rt-killed", ["budgetco"]), started);
    for (let i = 0; i < 8; i++) expect(await first.chat("budgetco")).toEqual({ ok: true });
    await first.flush();
    first.child.kill("SIGKILL");
    await exited(first.child);

    const second = await startFollowedRuntime(runtimeConfig("rt-restarted", ["budgetco"]), started);
    const outcomes: string[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await second.chat("budgetco");
      outcomes.push(r.ok ? "ok" : r.error!);
    }
    // 8 calls before the kill + 2 after = the 10-call budget; the third after the restart is refused.
    expect(outcomes).toEqual(["ok", "ok", "BUDGET_EXCEEDED", "BUDGET_EXCEEDED", "BUDGET_EXCEEDED"]);
  });

  it("two runtime processes serving one tenant stay within its budget plus the documented bound", async () => {
    const budget = 100 * TOKENS_PER_CALL;
    await setTenant("duo", { budgets: { dailyTokens: budget } });
    const refreshMs = 500;
    const [a, b] = await Promise.all([
      startFollowedRuntime(runtimeConfig("rt-duo-a", ["duo"], { usageRefreshMs: refreshMs }), started),
      startFollowedRuntime(runtimeConfig("rt-duo-b", ["duo"], { usageRefreshMs: refreshMs }), started),
    ]);
    // Each process calls one at a time, ~10 calls/s, until refused twice in a row: alone, each would
    // take ~10 s to spend the budget, well past the time the other's usage takes to be seen.
    const spend = async (rt: FollowedRuntime): Promise<{ calls: number; elapsedMs: number }> => {
      const t0 = Date.now();
      let calls = 0;
      let refusals = 0;
      while (refusals < 2 && Date.now() - t0 < 60_000) {
        const r = await rt.chat("duo");
        if (r.ok) {
          calls++;
          refusals = 0;
        } else refusals++;
        await new Promise((res) => setTimeout(res, 100));
      }
      await rt.flush();
      return { calls, elapsedMs: Date.now() - t0 };
    };
    const [sa, sb] = await Promise.all([spend(a), spend(b)]);
    const spent = (sa.calls + sb.calls) * TOKENS_PER_CALL;
    // The bound: what the other process spent that this one had not yet seen when it reserved —
    // its calls within one usage refresh and the usage export delay (1 s): a usage read counts what
    // the collector acknowledged, stored or not — plus one in-flight reservation each.
    const callsPerSecond = Math.max(sa.calls / (sa.elapsedMs / 1_000), sb.calls / (sb.elapsedMs / 1_000));
    const unseenSeconds = refreshMs / 1_000 + 1;
    const bound = 2 * Math.ceil(callsPerSecond * unseenSeconds + 1) * TOKENS_PER_CALL;
    expect(spent).toBeGreaterThanOrEqual(budget);
    expect(spent).toBeLessThanOrEqual(budget + bound);
    // Without shared usage each process would have spent the whole budget.
    expect(spent).toBeLessThan(2 * budget);
    await within(10_000, "the collector stored every call", async () => (await storedTokens("duo")).tokens === spent);
  });
});

describe("collector outage", () => {
  it("runtimes keep enforcing the last settings while the collector is down 30 s, and follow again once it is back", async () => {
    await setTenant("initech", { budgets: { dailyTokens: 500 } });
    const rt = await startFollowedRuntime(runtimeConfig("rt-outage", ["initech", "acme"], { waitSeconds: 5 }), started);
    await within(5_000, "budget applied", async () => (await rt.chat("initech")).error === "BUDGET_EXCEEDED");

    collector.child.kill("SIGKILL");
    await exited(collector.child);
    const downAt = Date.now();
    while (Date.now() - downAt < 30_000) {
      expect((await rt.chat("initech")).error).toBe("BUDGET_EXCEEDED");
      expect((await rt.chat("acme")).ok).toBe(true);
      await new Promise((r) => setTimeout(r, 1_000));
    }
    expect((await rt.status()).state).toBe("stale");
    expect(rt.log()).toMatch(/unreachable/);

    collector = await startCollector();
    await setTenant("initech", { budgets: { dailyTokens: null } });
    const appliedMs = await within(5_000, "the change made after the restart", async () => (await rt.chat("initech")).ok);
    expect(appliedMs).toBeLessThan(5_000);
    expect((await rt.status()).state).toBe("following");
  }, 120_000);
});
