import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MeterProvider, MetricReader } from "@opentelemetry/sdk-metrics";
import { afterEach, describe, expect, it } from "vitest";
import { AgentId } from "../agents/ids.js";
import { RateLimitedError } from "../errors.js";
import { Runtime } from "../runtime.js";
import { SamplingSettings } from "../tracing/sampling-settings.js";
import { followControlPlane, type ControlPlaneFollower } from "./follow-control-plane.js";
import type { FollowControlPlaneOptions } from "./follow-control-plane-options.js";
import type { ManagedTenantConfig } from "./managed-tenant-config.js";
import { startFakeControlServer, type FakeControlServer } from "./testing/fake-control-server.js";
import { until } from "./testing/until.js";

const KEY = "trp_service_test";
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function server(): Promise<FakeControlServer> {
  const s = await startFakeControlServer({ apiKey: KEY });
  cleanups.push(() => s.close());
  return s;
}

async function cacheFile(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "troupe-control-"));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return join(dir, "nested", "settings.json");
}

/** A runtime whose managed settings are recorded as well as applied. */
async function runtime(): Promise<{ rt: Runtime; applied: Array<[string, ManagedTenantConfig | undefined]>; target: FollowControlPlaneOptions["runtime"] }> {
  const rt = new Runtime();
  rt.register("echo", () => ({ onMessage: (m) => m }));
  await rt.start();
  cleanups.push(() => rt.stop());
  const applied: Array<[string, ManagedTenantConfig | undefined]> = [];
  return { rt, applied, target: { setManagedTenantConfig: (t, c) => (applied.push([t, c]), rt.setManagedTenantConfig(t, c)) } };
}

function follow(options: Partial<FollowControlPlaneOptions> & Pick<FollowControlPlaneOptions, "collectorUrl" | "runtime">): { follower: ControlPlaneFollower; lines: string[] } {
  const lines: string[] = [];
  const follower = followControlPlane({ apiKey: KEY, log: (l) => lines.push(l), retry: { minMs: 20, maxMs: 100 }, ...options });
  cleanups.push(() => follower.stop());
  return { follower, lines };
}

/** A reader collecting on demand: the control gauges by name. */
class GaugeReader extends MetricReader {
  protected async onShutdown(): Promise<void> {}
  protected async onForceFlush(): Promise<void> {}
  async gauges(): Promise<Record<string, number>> {
    const { resourceMetrics } = await this.collect();
    const out: Record<string, number> = {};
    for (const scope of resourceMetrics.scopeMetrics) for (const m of scope.metrics) out[m.descriptor.name] = m.dataPoints[0]?.value as number;
    return out;
  }
}

/** True when a second message sent at once is refused by a rate of 1 message/s. */
async function rateLimited(rt: Runtime, tenant: string): Promise<boolean> {
  const results = await Promise.allSettled([0, 1, 2].map((i) => rt.tenant(tenant).send(new AgentId("echo", `k${i}`), i)));
  return results.some((r) => r.status === "rejected" && r.reason instanceof RateLimitedError);
}

describe("followControlPlane", () => {
  it("applies the registry's settings at start and every change within 5 s, to quotas, sampling and check-in headers", async () => {
    const s = await server();
    s.setTenant({ id: "acme", quotas: { messagesPerSecond: 1, maxInFlightTurns: null, maxQueuedMessages: null, turnTimeoutMs: null, weight: null }, samplingRatio: 0.25 });
    s.setTenant({ id: "globex" });
    const { rt, target } = await runtime();
    const sampling = new SamplingSettings();
    const { follower, lines } = follow({ collectorUrl: s.url, runtime: target, sampling, cacheFile: await cacheFile(), runtimeName: "api@host-1" });
    await follower.ready;
    expect(follower.status()).toMatchObject({ state: "following", appliedVersion: 2, source: "collector" });
    expect(await rateLimited(rt, "acme")).toBe(true);
    expect(await rateLimited(rt, "globex")).toBe(false);
    expect(sampling.tenantRatios()).toEqual({ acme: 0.25 });

    // A change reaches the runtime through the open long poll, not after it expires (25 s).
    const changedAt = performance.now();
    s.setTenant({ id: "globex", quotas: { messagesPerSecond: 1, maxInFlightTurns: null, maxQueuedMessages: null, turnTimeoutMs: null, weight: null }, samplingRatio: 0 });
    await until(() => follower.status().appliedVersion === 3);
    expect(performance.now() - changedAt).toBeLessThan(5_000);
    expect(await rateLimited(rt, "globex")).toBe(true);
    expect(sampling.tenantRatios()).toEqual({ acme: 0.25, globex: 0 });

    // A tenant that leaves the registry's answer goes back to code options everywhere.
    s.removeTenant("acme");
    await until(() => sampling.tenantRatios().acme === undefined);
    expect(await rateLimited(rt, "acme")).toBe(false);

    const settingsReads = s.requests.filter((r) => r.path === "/api/v1/control/settings");
    expect(new Set(settingsReads.map((r) => r.runtimeId)).size).toBe(1);
    expect(settingsReads.every((r) => r.runtimeName === "api@host-1")).toBe(true);
    // Each read reports the version applied when it was sent.
    expect(settingsReads.map((r) => r.appliedVersion)).toEqual(expect.arrayContaining(["0", "2", "3"]));
    expect(settingsReads.map((r) => Number(r.appliedVersion))).toEqual(settingsReads.map((r) => Number(r.appliedVersion)).sort((a, b) => a - b));
    expect(lines).toEqual([]);
  });

  it("holds one long poll per wait while nothing changes, each carrying the version it holds", async () => {
    const s = await server();
    s.setTenant({ id: "acme" });
    const { target } = await runtime();
    const { follower } = follow({ collectorUrl: s.url, runtime: target, waitSeconds: 1, cacheFile: await cacheFile() });
    await follower.ready;
    await new Promise((r) => setTimeout(r, 3_500));
    const polls = s.requests.filter((r) => r.path === "/api/v1/control/settings").slice(1);
    // About one per second of wait; a follower that ignored the wait would have sent hundreds.
    expect(polls.length).toBeGreaterThanOrEqual(2);
    expect(polls.length).toBeLessThanOrEqual(5);
    for (const p of polls) {
      expect(p.ifNoneMatch).toBe('"1"');
      expect(p.query.get("wait")).toBe("1");
      expect(p.status).toBe(304);
    }
    expect(follower.status().state).toBe("following");
  });

  it("keeps the last settings while the collector is unreachable, says so once, and recovers", async () => {
    const s = await server();
    s.setTenant({ id: "acme", quotas: { messagesPerSecond: 1, maxInFlightTurns: null, maxQueuedMessages: null, turnTimeoutMs: null, weight: null } });
    const { rt, target, applied } = await runtime();
    const reader = new GaugeReader();
    const meterProvider = new MeterProvider({ readers: [reader] });
    cleanups.push(() => meterProvider.shutdown());
    const { follower, lines } = follow({ collectorUrl: s.url, runtime: target, cacheFile: await cacheFile(), meterProvider });
    await follower.ready;
    expect(await reader.gauges()).toEqual({ "troupe.control.connected": 1, "troupe.control.settings_age_s": 0, "troupe.control.applied_version": 1 });
    await s.down();
    await until(() => follower.status().state === "stale");
    await new Promise((r) => setTimeout(r, 500)); // several retries (backoff 20-100 ms here)
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^control plane: collector unreachable \(.*ECONNREFUSED.*\); keeping settings version 1 from \d{4}-\d{2}-\d{2}T/);
    expect(follower.status()).toMatchObject({ state: "stale", appliedVersion: 1 });
    expect(follower.status().lastError).toMatch(/unreachable/);
    expect(applied).toHaveLength(1); // nothing was taken away
    const stale = await reader.gauges();
    expect(stale).toMatchObject({ "troupe.control.connected": 0, "troupe.control.applied_version": 1 });
    expect(stale["troupe.control.settings_age_s"]).toBeGreaterThan(0.3);
    expect(await rateLimited(rt, "acme")).toBe(true);

    await s.up();
    s.setTenant({ id: "acme" });
    await until(() => follower.status().appliedVersion === 2);
    expect(follower.status()).toMatchObject({ state: "following", lastError: undefined });
    expect(await reader.gauges()).toMatchObject({ "troupe.control.connected": 1, "troupe.control.applied_version": 2 });
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatch(/^control plane: collector http:\/\/127\.0\.0\.1:\d+ reachable again; following settings version \d/);
  });

  it("starts on the cached settings when the collector is down, and says so", async () => {
    const s = await server();
    s.setTenant({ id: "acme", tier: "shared", quotas: { messagesPerSecond: 1, maxInFlightTurns: null, maxQueuedMessages: null, turnTimeoutMs: null, weight: null } });
    const file = await cacheFile();
    const first = follow({ collectorUrl: s.url, runtime: (await runtime()).target, cacheFile: file });
    await first.follower.ready;
    await first.follower.stop();
    const written = await readFile(file, "utf8");
    expect(written).not.toContain(KEY);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    await s.down();

    const { rt, target } = await runtime();
    const { follower, lines } = follow({ collectorUrl: s.url, runtime: target, cacheFile: file });
    await follower.ready;
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^control plane: collector unreachable \(.*\); applied cached settings version 1 from \d{4}-/);
    expect(follower.status()).toMatchObject({ state: "stale", source: "cache", appliedVersion: 1 });
    expect(await rateLimited(rt, "acme")).toBe(true);
  });

  it("runs on code options when the collector is down and nothing is cached, and says so", async () => {
    const s = await server();
    await s.down();
    const { target, applied } = await runtime();
    const { follower, lines } = follow({ collectorUrl: s.url, runtime: target, cacheFile: await cacheFile() });
    await follower.ready;
    expect(lines).toEqual([expect.stringMatching(/^control plane: collector unreachable \(.*\) and no cached settings: running on code options$/)]);
    expect(follower.status()).toMatchObject({ state: "code-options", appliedVersion: 0, source: "code-options" });
    expect(applied).toEqual([]);
  });

  it("never waits more than the startup timeout for a collector that does not answer", async () => {
    const sockets: Socket[] = [];
    const silent: Server = createServer((socket) => void sockets.push(socket));
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", () => r()));
    cleanups.push(() => new Promise((r) => (sockets.forEach((x) => x.destroy()), silent.close(r))));
    const port = (silent.address() as { port: number }).port;
    const { target } = await runtime();
    const { follower, lines } = follow({ collectorUrl: `http://127.0.0.1:${port}`, runtime: target, cacheFile: await cacheFile(), startupTimeoutMs: 300 });
    const t0 = performance.now();
    await follower.ready;
    expect(performance.now() - t0).toBeLessThan(3_000);
    expect(lines).toEqual([expect.stringMatching(/no answer within 0.3 s\) and no cached settings: running on code options/)]);
    const stopping = performance.now();
    await follower.stop();
    expect(performance.now() - stopping).toBeLessThan(1_000);
  });

  it("refuses an answer outside the contract, naming the field, and applies nothing of it", async () => {
    const s = await server();
    s.setTenant({ id: "acme" });
    const { target, applied } = await runtime();
    const { follower, lines } = follow({ collectorUrl: s.url, runtime: target, cacheFile: await cacheFile(), refusedRetryMs: 200 });
    await follower.ready;
    const bad = { version: 9, tenants: [{ ...s.setTenant({ id: "acme" }), quotas: { maxInFlightTurns: null, maxQueuedMessages: null, messagesPerSecond: null, turnTimeoutMs: null, weight: 5000 } }] };
    await until(() => follower.status().appliedVersion === 2);
    s.answerWith(bad);
    s.setTenant({ id: "acme" });
    await until(() => follower.status().state === "stale");
    await new Promise((r) => setTimeout(r, 700)); // retried a few times, logged once
    expect(lines).toEqual([expect.stringMatching(/refused the collector's answer \(.*tenants\.0\.quotas\.weight: must be at most 1000\); keeping settings version 2/)]);
    expect(applied.map(([, c]) => c?.quotas.weight)).toEqual([null, null]);
    expect(follower.status()).toMatchObject({ state: "stale", appliedVersion: 2 });
  });

  it("says what the collector said when it refuses the key, and keeps code options", async () => {
    const s = await server();
    s.setTenant({ id: "acme" });
    const { target, applied } = await runtime();
    const { follower, lines } = follow({ collectorUrl: s.url, apiKey: "trp_service_wrong", runtime: target, cacheFile: await cacheFile() });
    await follower.ready;
    expect(lines).toEqual([expect.stringMatching(/refused \/api\/v1\/control\/settings \(401\): unknown API key.* and no cached settings: running on code options/)]);
    expect(follower.status()).toMatchObject({ state: "code-options", lastError: expect.stringMatching(/401/) });
    expect(applied).toEqual([]);
  });

  it("refuses bad options, naming the option", () => {
    expect(() => followControlPlane({ collectorUrl: "ftp://x", apiKey: KEY, runtime: new Runtime() })).toThrow(/collectorUrl/);
    expect(() => followControlPlane({ collectorUrl: "http://x", apiKey: KEY, runtime: new Runtime(), waitSeconds: 31 })).toThrow(/waitSeconds/);
    expect(() => followControlPlane({ collectorUrl: "http://x", apiKey: KEY, runtime: {} as never })).toThrow(/runtime/);
  });
});
