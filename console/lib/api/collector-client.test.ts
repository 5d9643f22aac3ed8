import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CollectorClient } from "./collector-client";
import { CollectorApiError } from "./collector-error";

// A local HTTP server speaking the collector's API shape: admin key, console key of tenant "acme",
// an ingest key; every request is recorded.
const seen: Array<{ method: string; url: string; auth: string | undefined; body: string }> = [];
let server: Server;
let baseUrl: string;

function reply(res: ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

async function bodyOf(req: IncomingMessage): Promise<string> {
  let s = "";
  for await (const chunk of req) s += chunk;
  return s;
}

beforeAll(async () => {
  server = createServer(async (req, res) => {
    const body = await bodyOf(req);
    seen.push({ method: req.method!, url: req.url!, auth: req.headers.authorization, body });
    const key = req.headers.authorization?.replace(/^Bearer /, "");
    const path = new URL(req.url!, "http://x").pathname;
    if (key === "slow") return void setTimeout(() => reply(res, 200, {}), 2000);
    if (key === "slow-body") {
      res.writeHead(200, { "content-type": "application/json" });
      res.write("{");
      return void setTimeout(() => res.end("}"), 2000);
    }
    if (key !== "admin" && key !== "console-acme" && key !== "ingest-acme") return reply(res, 401, { error: { code: "unauthenticated", message: "unknown or revoked API key" } });
    if (path.startsWith("/api/v1/admin/")) {
      if (key !== "admin") return reply(res, 403, { error: { code: "forbidden", message: "a console key cannot use this endpoint" } });
      if (path === "/api/v1/admin/tenants" && req.method === "POST") return reply(res, 201, { tenant: { id: JSON.parse(body).id }, keys: [] });
      return reply(res, 200, { from: "", to: "", tenants: [] });
    }
    if (key === "ingest-acme") return reply(res, 403, { error: { code: "forbidden", message: "an ingest key cannot read" } });
    if (path === "/api/v1/traces") return reply(res, 200, { tenantId: "acme", traces: [], nextCursor: null });
    if (path.startsWith("/api/v1/traces/")) return reply(res, 404, { error: { code: "not_found", message: "no such trace" } });
    if (path === "/api/v1/usage") {
      res.writeHead(200, { "content-type": "text/csv" });
      return res.end("group,calls\n2025-01-01,3\n");
    }
    return reply(res, 404, { error: { code: "not_found", message: "no route" } });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe("CollectorClient", () => {
  it("identifies an admin key", async () => {
    await expect(new CollectorClient({ baseUrl, key: "admin" }).identify()).resolves.toEqual({ kind: "admin" });
  });

  it("identifies a console key and its tenant", async () => {
    await expect(new CollectorClient({ baseUrl, key: "console-acme" }).identify()).resolves.toEqual({ kind: "console", tenantId: "acme" });
  });

  it("rejects an unknown key with code unauthenticated and an ingest key with forbidden", async () => {
    await expect(new CollectorClient({ baseUrl, key: "nope" }).identify()).rejects.toMatchObject({ code: "unauthenticated", status: 401 });
    await expect(new CollectorClient({ baseUrl, key: "ingest-acme" }).identify()).rejects.toMatchObject({ code: "forbidden", status: 403 });
  });

  it("sends the key as a bearer token and the filters as query parameters, omitting empty ones", async () => {
    seen.length = 0;
    await new CollectorClient({ baseUrl: baseUrl + "/", key: "console-acme" }).traces({ q: "chat", agentType: "", status: "error", limit: 10 });
    expect(seen).toHaveLength(1);
    expect(seen[0]!.auth).toBe("Bearer console-acme");
    const url = new URL(seen[0]!.url, "http://x");
    expect(url.pathname).toBe("/api/v1/traces");
    expect(Object.fromEntries(url.searchParams)).toEqual({ q: "chat", status: "error", limit: "10" });
  });

  it("encodes the trace id into the path and surfaces not_found", async () => {
    seen.length = 0;
    const err = await new CollectorClient({ baseUrl, key: "console-acme" }).trace("a/b?c").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CollectorApiError);
    expect((err as CollectorApiError).code).toBe("not_found");
    expect(seen[0]!.url).toBe("/api/v1/traces/a%2Fb%3Fc");
  });

  it("posts JSON bodies to the admin API", async () => {
    seen.length = 0;
    const created = await new CollectorClient({ baseUrl, key: "admin" }).createTenant({ id: "new-co" });
    expect(created.tenant.id).toBe("new-co");
    expect(seen[0]!.method).toBe("POST");
    expect(JSON.parse(seen[0]!.body)).toEqual({ id: "new-co" });
  });

  it("reaches the control-plane routes with the tenant id encoded into the path", async () => {
    seen.length = 0;
    const admin = new CollectorClient({ baseUrl, key: "admin" });
    await admin.tenantRuntimes("a/b");
    await admin.tenantAlerts("acme");
    await admin.setWebhook("acme", { url: "https://hooks.example.com/t" });
    await admin.testWebhook("acme");
    await admin.deleteWebhook("acme");
    await new CollectorClient({ baseUrl, key: "console-acme" }).ownAlerts().catch(() => undefined);
    expect(seen.map((r) => `${r.method} ${r.url}`)).toEqual([
      "GET /api/v1/admin/tenants/a%2Fb/runtimes",
      "GET /api/v1/admin/tenants/acme/alerts",
      "PUT /api/v1/admin/tenants/acme/webhook",
      "POST /api/v1/admin/tenants/acme/webhook/test",
      "DELETE /api/v1/admin/tenants/acme/webhook",
      "GET /api/v1/alerts",
    ]);
    expect(JSON.parse(seen[2]!.body)).toEqual({ url: "https://hooks.example.com/t" });
  });

  it("streams a CSV export as-is", async () => {
    const res = await new CollectorClient({ baseUrl, key: "console-acme" }).usageExport({ format: "csv", groupBy: "day" });
    expect(await res.text()).toBe("group,calls\n2025-01-01,3\n");
  });

  it("tells a slow collector (timeout) from one that cannot be reached (connection refused)", async () => {
    await expect(new CollectorClient({ baseUrl: "http://127.0.0.1:1", key: "admin" }).traces({})).rejects.toMatchObject({ code: "unreachable", status: 0 });
    await expect(new CollectorClient({ baseUrl, key: "slow", timeoutMs: 100 }).traces({})).rejects.toMatchObject({ code: "timeout", status: 0 });
    // The head came in time, the body did not: still slow, not a malformed answer.
    await expect(new CollectorClient({ baseUrl, key: "slow-body", timeoutMs: 300 }).traces({})).rejects.toMatchObject({ code: "timeout" });
  });
});
