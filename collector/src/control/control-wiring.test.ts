import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CONTROL_HEADERS, CONTROL_PATHS, type ControlUsageResponse } from "@troupe/contract";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadCollectorConfig } from "../config.js";
import type { TenantRuntimesResponse } from "@troupe/contract/query-api";
import { startCollector, type RunningCollector } from "../start-collector.js";
import { usageRecordRows } from "../store/usage-row.test-helper.js";
import { USAGE_READ_WAIT_MS } from "./control-routes.js";

const ADMIN = "wiring-admin-key-0123456789";
let dir: string;
let collector: RunningCollector;
let serviceKey: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "troupe-control-wiring-"));
  collector = await startCollector(
    {
      ...loadCollectorConfig({ TROUPE_DATA_DIR: dir, TROUPE_ADMIN_KEY: ADMIN }),
      port: 0,
      host: "127.0.0.1",
      // The body deadline well below the waits below: long polls must outlive it.
      connectionLimits: { headersTimeoutMs: 1_000, requestTimeoutMs: 1_000 },
    },
    // Usage records would be stored a minute after they arrive: a usage read must not wait for that.
    { usageWriter: { maxBatchDelayMs: 60_000 } },
  );
  await collector.registry.createTenant({ id: "acme" });
  serviceKey = (await collector.registry.issueServiceKey(["acme"])).secret;
});

afterAll(async () => {
  await collector?.close();
  await rm(dir, { recursive: true, force: true });
});

function poll(query: string, etag: string): Promise<Response> {
  return fetch(`${collector.url}${CONTROL_PATHS.settings}${query}`, {
    headers: { authorization: `Bearer ${serviceKey}`, "if-none-match": etag, [CONTROL_HEADERS.runtimeId]: "wired-1", [CONTROL_HEADERS.appliedVersion]: "0" },
  });
}

describe("the control plane in a started collector", () => {
  it("serves settings under /api/v1/control, records the check-in for the admin API, and a long poll outlives the server's body deadline", async () => {
    const first = await fetch(`${collector.url}${CONTROL_PATHS.settings}`, { headers: { authorization: `Bearer ${serviceKey}` } });
    expect(first.status).toBe(200);
    const etag = first.headers.get("etag")!;
    const started = Date.now();
    const res = await poll("?wait=3", etag);
    expect(res.status).toBe(304);
    expect(Date.now() - started).toBeGreaterThanOrEqual(2_900);
    const runtimes = await fetch(`${collector.url}/api/v1/admin/tenants/acme/runtimes`, { headers: { authorization: `Bearer ${ADMIN}` } });
    expect(((await runtimes.json()) as TenantRuntimesResponse).runtimes.map((r) => r.runtimeId)).toEqual(["wired-1"]);
  });

  it("counts in /control/usage the usage records acknowledged a moment before (a runtime's last, before it was killed)", async () => {
    const rows = usageRecordRows(3, { timeMs: Date.now(), ledgerId: "killed-runtime" });
    await collector.usagePipeline.accept(rows);
    const started = Date.now();
    const res = await fetch(`${collector.url}${CONTROL_PATHS.usage}?excludeLedger=restarted-runtime`, { headers: { authorization: `Bearer ${serviceKey}` } });
    expect(res.status).toBe(200);
    const body = (await res.json()) as ControlUsageResponse;
    // (10 + 1) + (11 + 1) + (12 + 1) tokens, 0.5 USD each.
    expect(body.tenants).toEqual([{ id: "acme", dayTokens: 36, dayCostUsd: 1.5, monthTokens: 36, monthCostUsd: 1.5 }]);
    expect(Date.now() - started).toBeLessThan(USAGE_READ_WAIT_MS);
    expect(collector.usagePipeline.health().queueDepthRecords).toBe(0);
  });

  it("closing the collector answers a waiting long poll at once instead of waiting out its 30 s", async () => {
    const first = await fetch(`${collector.url}${CONTROL_PATHS.settings}`, { headers: { authorization: `Bearer ${serviceKey}` } });
    const polled = poll("?wait=30", first.headers.get("etag")!);
    await new Promise((r) => setTimeout(r, 300));
    const started = Date.now();
    await collector.close();
    expect((await polled).status).toBe(304);
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});
