// The contract's QueryApiClient against a started collector on loopback: every endpoint answers the
// client's typed calls, and each way a call can fail reaches the caller as a QueryApiError with the
// collector's code and message.
import { createServer, type Server } from "node:http";
import { mkdtemp, rm } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { QueryApiClient, QueryApiError } from "@troupe/contract/query-api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadCollectorConfig } from "../config.js";
import { startCollector, type RunningCollector } from "../start-collector.js";

const ADMIN = "client-admin-key-0123456789";
let dir: string;
let collector: RunningCollector;
let admin: QueryApiClient;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "troupe-query-client-"));
  collector = await startCollector({ ...loadCollectorConfig({ TROUPE_DATA_DIR: dir, TROUPE_ADMIN_KEY: ADMIN }), port: 0, host: "127.0.0.1" });
  admin = new QueryApiClient({ baseUrl: `${collector.url}/`, key: ADMIN });
});

afterAll(async () => {
  await collector?.close();
  await rm(dir, { recursive: true, force: true });
});

/** The QueryApiError a call rejects with (fails the test when it resolves or rejects otherwise). */
async function failure(call: Promise<unknown>): Promise<QueryApiError> {
  const err = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(QueryApiError);
  return err as QueryApiError;
}

describe("QueryApiClient against a started collector", () => {
  it("administers a tenant end to end: create, read, update, keys, service key, revoke", async () => {
    const created = await admin.createTenant({ id: "acme", name: "Acme", tier: "worker", budgets: { dailyTokens: 5000 } });
    expect(created.tenant).toMatchObject({ id: "acme", name: "Acme", tier: "worker", budgets: { dailyTokens: 5000 } });
    expect(created.keys.map((k) => k.kind).sort()).toEqual(["console", "ingest"]);

    const updated = await admin.updateTenant("acme", { retentionDays: 14, quotas: { weight: 2 } });
    expect(updated.tenant).toMatchObject({ retentionDays: 14, quotas: { weight: 2 } });
    const detail = await admin.adminTenant("acme");
    expect(detail.tenant.retentionDays).toBe(14);
    expect(detail.keys).toHaveLength(2);
    expect((await admin.adminTenants()).tenants.map((t) => t.tenant.id)).toEqual(["acme"]);
    expect(await admin.adminTenantsCsv()).toMatch(/^tenantId,name,tier,/);

    const rotated = await admin.issueKey("acme", { kind: "console", rotate: true });
    expect(rotated.revokedKeyIds).toHaveLength(1);
    const service = await admin.createServiceKey({ allowedTenants: ["acme"] });
    expect(service.key.allowedTenants).toEqual(["acme"]);
    expect((await admin.revokeKey(service.key.keyId)).keyId).toBe(service.key.keyId);
    expect((await admin.tenantRuntimes("acme")).runtimes).toEqual([]);
    expect((await admin.tenantAlerts("acme")).alerts).toEqual([]);
    expect((await admin.setWebhook("acme", { url: "https://hooks.example.com/troupe" })).secret).toMatch(/^whsec_/);
    expect(await admin.removeWebhook("acme")).toEqual({ tenantId: "acme", removed: true });
  });

  it("reads a tenant's data with its console key, in JSON and CSV", async () => {
    const { key } = await admin.issueKey("acme", { kind: "console" });
    const tenant = new QueryApiClient({ baseUrl: collector.url, key: key.secret });
    const now = Date.now();
    const range = { from: now - 3_600_000, to: now };
    expect(await tenant.traces({ ...range, status: "error", limit: 10 })).toEqual({ tenantId: "acme", traces: [], nextCursor: null });
    expect(await tenant.tracesCsv(range)).toMatch(/^traceId,rootName,/);
    expect((await tenant.agents(range)).agents).toEqual([]);
    expect(await tenant.agentsCsv(range)).toMatch(/^agentType,turns,/);
    expect(await tenant.usage({ ...range, groupBy: "model" })).toMatchObject({ tenantId: "acme", groupBy: "model", rows: [] });
    expect(await tenant.usageCsv(range)).toMatch(/^group,calls,inputTokens,/);
    expect((await tenant.overview(range)).tenantId).toBe("acme");
    expect((await tenant.sampling(range)).sampling).toEqual({ ratios: [1], sampled: false });
    expect((await tenant.conversations(range)).conversations).toEqual([]);
    expect((await tenant.budget()).budgets.dailyTokens).toBe(5000);
    expect((await tenant.alerts()).tenantId).toBe("acme");

    const digest = "d".repeat(43);
    expect((await tenant.sessionEnded(digest)).ended).toBe(false);
    await tenant.endSession({ digest, expiresAt: Date.now() + 60_000 });
    expect((await tenant.sessionEnded(digest)).ended).toBe(true);
  });

  it("a bad parameter is a bad_request whose message names it", async () => {
    const err = await failure(admin.traces({ tenant: "acme", limit: 501 }));
    expect(err).toMatchObject({ code: "bad_request", status: 400, method: "GET", path: "/api/v1/traces" });
    expect(err.message).toBe('invalid parameter "limit": must be between 1 and 500');
    const body = await failure(admin.updateTenant("acme", { quotas: { weight: -1 } }));
    expect(body).toMatchObject({ code: "bad_request", status: 400 });
    expect(body.message).toMatch(/^invalid parameter "quotas\.weight": /);
    expect((await failure(admin.trace("not-a-trace-id", { tenant: "acme" }))).message).toBe('invalid parameter "traceId": must be 32 hexadecimal characters');
  });

  it("an unknown key is unauthenticated (401), a console key on the admin API forbidden (403), a missing tenant not_found", async () => {
    expect(await failure(new QueryApiClient({ baseUrl: collector.url, key: "trp_console_nope" }).traces())).toMatchObject({ code: "unauthenticated", status: 401 });
    const { key } = await admin.issueKey("acme", { kind: "console" });
    expect(await failure(new QueryApiClient({ baseUrl: collector.url, key: key.secret }).adminTenants())).toMatchObject({ code: "forbidden", status: 403 });
    const missing = await failure(admin.adminTenant("nobody"));
    expect(missing).toMatchObject({ code: "not_found", status: 404 });
    expect(missing.message).toContain("nobody");
    expect(await failure(admin.createTenant({ id: "acme" }))).toMatchObject({ code: "conflict", status: 409 });
  });

  it("names an unreachable collector, and a slow one as a timeout", async () => {
    const down = await failure(new QueryApiClient({ baseUrl: "http://127.0.0.1:1", key: ADMIN }).adminTenants());
    expect(down).toMatchObject({ code: "unreachable", status: 0 });
    expect(down.message).toContain("the collector at http://127.0.0.1:1 could not be reached");

    const silent: Server = createServer(() => undefined);
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    try {
      const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
      const slow = await failure(new QueryApiClient({ baseUrl: url, key: ADMIN, timeoutMs: 200 }).usage());
      expect(slow).toMatchObject({ code: "timeout", status: 0 });
      expect(slow.message).toBe(`the collector at ${url} did not answer GET /api/v1/usage within 200 ms`);
    } finally {
      silent.closeAllConnections();
      await new Promise((r) => silent.close(r));
    }
  });

  it("keeps the start of a body that is not the collector's JSON error", async () => {
    const proxy: Server = createServer((_req, res) => {
      res.writeHead(502, { "content-type": "text/html" });
      res.end("<html>bad gateway</html>");
    });
    await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
    try {
      const err = await failure(new QueryApiClient({ baseUrl: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`, key: ADMIN }).overview());
      expect(err).toMatchObject({ code: "internal", status: 502, answerText: "<html>bad gateway</html>" });
      expect(err.message).toBe("the collector answered 502 to GET /api/v1/overview");
    } finally {
      await new Promise((r) => proxy.close(r));
    }
  });
});
