// Cross-tenant attempts against the collector: spoofed tenants and keys at ingest (POST /v1/traces),
// and the query API (/api/v1) probed with other tenants' ids, injection, pollution and absurd ranges.
// Each must be refused with a clear JSON error (or filtered to the caller's own tenant) and leak nothing.
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect } from "vitest";
import { loadCollectorConfig, startCollector, type RunningCollector } from "@troupe/collector";
import { seedUsageRecords } from "../support/usage-records.js";
import { attemptTable } from "./attempt-table.js";
import { otlpJson, traceId, type TestSpan, type TestValue } from "./otlp-json.js";

const attempt = attemptTable("collector-attacks");
const INGEST = "collector ingest";
const QUERY = "query API";
const ADMIN_KEY = `trp_admin_${randomBytes(18).toString("base64url")}`;

let dir: string;
let collector: RunningCollector;
const keys = { acmeIngest: "", globexIngest: "", acmeConsole: "", globexConsole: "", service: "", revoked: "" };
/** globex's secret trace: nobody but globex (and the admin) may ever see it. */
const GLOBEX_TRACE = traceId();
const GLOBEX_MARKER = "globex-confidential-agent";
let acmeTrace = "";

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "troupe-iso-col-"));
  collector = await startCollector(
    { ...loadCollectorConfig({ TROUPE_DATA_DIR: dir, TROUPE_ADMIN_KEY: ADMIN_KEY }), port: 0, host: "127.0.0.1" },
    { writer: { maxBatchDelayMs: 20 }, limits: { maxBodyBytes: 256 * 1024 }, onInternalError: () => undefined },
  );
  const r = collector.registry;
  await r.createTenant({ id: "acme" });
  await r.createTenant({ id: "globex" });
  keys.acmeIngest = (await r.issueKey("acme", "ingest")).key.secret;
  keys.globexIngest = (await r.issueKey("globex", "ingest")).key.secret;
  keys.acmeConsole = (await r.issueKey("acme", "console")).key.secret;
  keys.globexConsole = (await r.issueKey("globex", "console")).key.secret;
  keys.service = (await r.issueServiceKey(["acme"])).secret;
  const revoked = (await r.issueKey("acme", "ingest")).key;
  keys.revoked = revoked.secret;
  await r.revokeKey(revoked.keyId);

  // globex's data, and acme's own (with cells a spreadsheet would run as formulas).
  const g = await ingest(keys.globexIngest, [
    { name: `process ${GLOBEX_MARKER}`, traceId: GLOBEX_TRACE, kind: 5, attributes: [["troupe.agent.type", GLOBEX_MARKER], ["troupe.turn.outcome", "ok"]] },
    { name: "chat gpt-secret", traceId: GLOBEX_TRACE, kind: 3, attributes: [["gen_ai.operation.name", "chat"], ["gen_ai.request.model", "gpt-secret"], ["gen_ai.usage.input_tokens", 7777], ["troupe.agent.type", GLOBEX_MARKER]] },
  ]);
  expect(g.status).toBe(200);
  acmeTrace = traceId();
  const root = "a1a1a1a1a1a1a1a1";
  const a = await ingest(keys.acmeIngest, [
    { name: "=HYPERLINK(\"http://evil.example\",\"click\")", traceId: acmeTrace, spanId: root, startMs: Date.now() - 1000, kind: 5, attributes: [["troupe.agent.type", "=cmd|' /C calc'!A0"], ["troupe.turn.outcome", "ok"]] },
    { name: "chat +m", traceId: acmeTrace, parentSpanId: root, kind: 3, attributes: [["gen_ai.operation.name", "chat"], ["gen_ai.request.model", "@SUM(A1:A9)"], ["gen_ai.usage.input_tokens", 11], ["troupe.agent.type", "-2+3"]] },
  ]);
  expect(a.status).toBe(200);
  // The usage records of both chat calls (usage figures read these, not spans), hostile cells included.
  await seedUsageRecords(collector.gateway, [
    { tenant: "globex", timeMs: Date.now() - 1000, agentType: GLOBEX_MARKER, model: "gpt-secret", inputTokens: 7777 },
    { tenant: "acme", timeMs: Date.now() - 1000, agentType: "-2+3", model: "@SUM(A1:A9)", inputTokens: 11 },
  ]);
  await waitFor(async () => (await rowsOfTrace(GLOBEX_TRACE)).length === 2 && (await rowsOfTrace(acmeTrace)).length === 2);
}, 60_000);

afterAll(async () => {
  await collector?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function ingest(key: string | null, spans: TestSpan[], opts: { resource?: Array<[string, TestValue]>; headers?: Record<string, string> } = {}) {
  const { body, spanIds } = otlpJson(spans, opts.resource);
  const res = await fetch(`${collector.url}/v1/traces`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(key ? { authorization: `Bearer ${key}` } : {}), ...opts.headers },
    body,
  });
  const text = await res.text();
  return { status: res.status, text, json: safeJson(text), spanIds };
}

function safeJson(text: string): Record<string, unknown> | null {
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    return null;
  }
}

async function rowsOf(spanIds: readonly string[]): Promise<Array<{ tenant_id: string; attributes: Record<string, string>; resource_attributes: Record<string, string> }>> {
  return collector.gateway.query("SELECT tenant_id, attributes, resource_attributes FROM spans FINAL WHERE span_id IN {ids:Array(String)}", { ids: spanIds });
}

async function rowsOfTrace(id: string): Promise<Array<{ tenant_id: string }>> {
  return collector.gateway.query("SELECT tenant_id FROM spans FINAL WHERE trace_id = {id:String}", { id });
}

async function waitFor(probe: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error("timed out waiting for spans to be stored");
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Waits until the writer has flushed what was accepted so far (so "not stored" is a real answer). */
async function settle(): Promise<void> {
  await waitFor(async () => collector.pipeline.health().queueDepthSpans === 0);
}

function rejected(json: Record<string, unknown> | null): number {
  const ps = (json?.partialSuccess ?? {}) as { rejectedSpans?: string | number };
  return Number(ps.rejectedSpans ?? 0);
}

async function get(key: string | null, path: string, init: RequestInit = {}): Promise<{ status: number; text: string; json: Record<string, unknown> | null; headers: Headers }> {
  const res = await fetch(`${collector.url}${path}`, { ...init, headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(init.headers as Record<string, string>) } });
  const text = await res.text();
  return { status: res.status, text, json: safeJson(text), headers: res.headers };
}

function errorCode(json: Record<string, unknown> | null): string {
  return String((json?.error as { code?: string } | undefined)?.code ?? "none");
}

/** Nothing of globex's appears in a response body. */
function expectNoGlobex(text: string): void {
  expect(text).not.toContain(GLOBEX_TRACE);
  expect(text).not.toContain(GLOBEX_MARKER);
  expect(text).not.toContain("gpt-secret");
  expect(text).not.toContain("7777");
}

describe("collector ingest: tenant spoofing", () => {
  attempt(INGEST, "acme's ingest key sends a span claiming troupe.tenant.id=globex", "span rejected (tenant_mismatch), nothing stored", async () => {
    const r = await ingest(keys.acmeIngest, [{ name: "spoof", attributes: [["troupe.tenant.id", "globex"]] }]);
    expect(r.status).toBe(200);
    expect(rejected(r.json)).toBe(1);
    await settle();
    expect(await rowsOf(r.spanIds)).toEqual([]);
    return `200, partialSuccess: ${String((r.json?.partialSuccess as { errorMessage?: string }).errorMessage).slice(0, 60)}`;
  });

  attempt(INGEST, "acme's ingest key claims globex on the resource only", "rejected (tenant_mismatch)", async () => {
    const r = await ingest(keys.acmeIngest, [{ name: "spoof-res" }], { resource: [["service.name", "x"], ["troupe.tenant.id", "globex"]] });
    expect(rejected(r.json)).toBe(1);
    await settle();
    expect(await rowsOf(r.spanIds)).toEqual([]);
    return "1 span rejected";
  });

  attempt(INGEST, "span says acme, its resource says globex (claims disagree)", "rejected (tenant_conflict), nothing stored", async () => {
    const r = await ingest(keys.acmeIngest, [{ name: "disagree", attributes: [["troupe.tenant.id", "acme"]] }], { resource: [["service.name", "x"], ["troupe.tenant.id", "globex"]] });
    expect(rejected(r.json)).toBe(1);
    await settle();
    expect(await rowsOf(r.spanIds)).toEqual([]);
    return String((r.json?.partialSuccess as { errorMessage?: string }).errorMessage).slice(0, 80);
  });

  attempt(INGEST, "one span carries troupe.tenant.id twice (acme, then globex)", "rejected (tenant_conflict), nothing stored", async () => {
    const r = await ingest(keys.acmeIngest, [{ name: "dup", attributes: [["troupe.tenant.id", "acme"], ["troupe.tenant.id", "globex"]] }]);
    expect(rejected(r.json)).toBe(1);
    await settle();
    expect(await rowsOf(r.spanIds)).toEqual([]);
    return "1 span rejected";
  });

  attempt(INGEST, "service key allowed [acme] writes a span for globex", "rejected (tenant_not_allowed)", async () => {
    const r = await ingest(keys.service, [{ name: "svc", attributes: [["troupe.tenant.id", "globex"]] }]);
    expect(rejected(r.json)).toBe(1);
    expect(String((r.json?.partialSuccess as { errorMessage?: string }).errorMessage)).toContain("tenant_not_allowed");
    await settle();
    expect(await rowsOf(r.spanIds)).toEqual([]);
    return "tenant_not_allowed";
  });

  attempt(INGEST, "service key sends a span without any tenant", "rejected (missing_tenant)", async () => {
    const r = await ingest(keys.service, [{ name: "no-tenant" }]);
    expect(String((r.json?.partialSuccess as { errorMessage?: string }).errorMessage)).toContain("missing_tenant");
    await settle();
    expect(await rowsOf(r.spanIds)).toEqual([]);
    return "missing_tenant";
  });

  attempt(INGEST, "tenant attribute as a non-string value (array ['acme'], kvlist, int)", "rejected (invalid_tenant) each", async () => {
    const values: TestValue[] = [["acme"], { kv: { id: "acme" } }, 42, true];
    const r = await ingest(keys.service, values.map((v, i) => ({ name: `typed-${i}`, attributes: [["troupe.tenant.id", v]] })));
    expect(rejected(r.json)).toBe(values.length);
    await settle();
    expect(await rowsOf(r.spanIds)).toEqual([]);
    return `${values.length} rejected invalid_tenant`;
  });

  attempt(INGEST, "hostile tenant strings ('ACME', 'acme\\u0000', '../acme', 'acme ', 'аcme' cyrillic)", "rejected (invalid_tenant) each", async () => {
    const hostile = ["ACME", "acme\u0000", "../acme", "acme ", "\u0430cme", "acme%00", ""];
    const r = await ingest(keys.service, hostile.map((t, i) => ({ name: `hostile-${i}`, attributes: [["troupe.tenant.id", t]] })));
    expect(rejected(r.json)).toBe(hostile.length);
    await settle();
    expect(await rowsOf(r.spanIds)).toEqual([]);
    return `${hostile.length} rejected`;
  });

  attempt(INGEST, "tenant named in HTTP headers (X-Scope-OrgID, X-Troupe-Tenant, baggage) with acme's key", "headers ignored: stored under acme only", async () => {
    const r = await ingest(keys.acmeIngest, [{ name: "headers" }], {
      headers: { "x-scope-orgid": "globex", "x-troupe-tenant": "globex", baggage: "troupe.tenant.id=globex", "x-forwarded-for": "10.0.0.1" },
    });
    expect(r.status).toBe(200);
    await waitFor(async () => (await rowsOf(r.spanIds)).length === 1);
    const rows = await rowsOf(r.spanIds);
    expect(rows.map((x) => x.tenant_id)).toEqual(["acme"]);
    return "stored under acme";
  });

  attempt(INGEST, "two bearer tokens in one Authorization header (acme's and globex's)", "401 unauthenticated", async () => {
    const r = await ingest(null, [{ name: "two-keys" }], { headers: { authorization: `Bearer ${keys.acmeIngest}, Bearer ${keys.globexIngest}` } });
    expect(r.status).toBe(401);
    expect(errorCode(r.json)).toBe("unauthenticated");
    return `${r.status} ${errorCode(r.json)}`;
  });

  attempt(INGEST, "console key and admin key used to ingest", "403 forbidden each", async () => {
    const c = await ingest(keys.acmeConsole, [{ name: "console-ingest" }]);
    const a = await ingest(ADMIN_KEY, [{ name: "admin-ingest" }]);
    expect([c.status, a.status]).toEqual([403, 403]);
    expect(errorCode(c.json)).toBe("forbidden");
    return "403 forbidden, 403 forbidden";
  });

  attempt(INGEST, "revoked key, forged key with a valid prefix, key in the query string", "401 each", async () => {
    const revoked = await ingest(keys.revoked, [{ name: "revoked" }]);
    const forged = await ingest(`trp_ingest_${randomBytes(24).toString("base64url")}`, [{ name: "forged" }]);
    const { body } = otlpJson([{ name: "qs" }]);
    const qs = await fetch(`${collector.url}/v1/traces?api_key=${keys.acmeIngest}`, { method: "POST", headers: { "content-type": "application/json" }, body });
    expect([revoked.status, forged.status, qs.status]).toEqual([401, 401, 401]);
    return "401, 401, 401";
  });

  attempt(INGEST, "oversized body and gzip bomb (1 MiB of zeros inflating past the limit)", "413 payload_too_large, collector keeps serving", async () => {
    const big = await fetch(`${collector.url}/v1/traces`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${keys.acmeIngest}` }, body: "x".repeat(300 * 1024) });
    const bomb = await fetch(`${collector.url}/v1/traces`, {
      method: "POST",
      headers: { "content-type": "application/json", "content-encoding": "gzip", authorization: `Bearer ${keys.acmeIngest}` },
      body: gzipSync(Buffer.alloc(64 * 1024 * 1024)),
    });
    expect([big.status, bomb.status]).toEqual([413, 413]);
    expect((await fetch(`${collector.url}/healthz`)).status).toBe(200);
    return "413, 413; healthz 200";
  });

  attempt(INGEST, "unsupported media type and encoding (text/plain, br)", "415 each", async () => {
    const { body } = otlpJson([{ name: "mt" }]);
    const a = await fetch(`${collector.url}/v1/traces`, { method: "POST", headers: { "content-type": "text/plain", authorization: `Bearer ${keys.acmeIngest}` }, body });
    const b = await fetch(`${collector.url}/v1/traces`, { method: "POST", headers: { "content-type": "application/json", "content-encoding": "br", authorization: `Bearer ${keys.acmeIngest}` }, body });
    expect([a.status, b.status]).toEqual([415, 415]);
    return "415, 415";
  });
});

describe("query API: reading another tenant's data", () => {
  attempt(QUERY, "acme's console key asks for globex's trace id", "404 not_found, nothing of globex", async () => {
    const r = await get(keys.acmeConsole, `/api/v1/traces/${GLOBEX_TRACE}`);
    expect(r.status).toBe(404);
    expectNoGlobex(r.text);
    // The same answer as for a trace id nobody has: existence is not revealed.
    const none = await get(keys.acmeConsole, `/api/v1/traces/${traceId()}`);
    expect(none.text).toBe(r.text);
    return `${r.status} ${errorCode(r.json)} (same as an unknown id)`;
  });

  attempt(QUERY, "globex's trace id in upper case", "404, nothing of globex", async () => {
    const r = await get(keys.acmeConsole, `/api/v1/traces/${GLOBEX_TRACE.toUpperCase()}`);
    expect(r.status).toBe(404);
    expectNoGlobex(r.text);
    return `${r.status}`;
  });

  attempt(QUERY, "tenant=globex on /traces, /traces/{id}, /agents, /usage, /overview with acme's key", "403 forbidden each", async () => {
    const statuses: number[] = [];
    for (const p of ["/api/v1/traces?tenant=globex", `/api/v1/traces/${GLOBEX_TRACE}?tenant=globex`, "/api/v1/agents?tenant=globex", "/api/v1/usage?tenant=globex", "/api/v1/overview?tenant=globex"]) {
      const r = await get(keys.acmeConsole, p);
      expectNoGlobex(r.text);
      statuses.push(r.status);
    }
    expect(statuses).toEqual([403, 403, 403, 403, 403]);
    return statuses.join(", ");
  });

  attempt(QUERY, "parameter pollution: tenant=acme&tenant=globex (and reversed)", "400 or acme's own data only", async () => {
    const out: string[] = [];
    for (const qs of ["tenant=acme&tenant=globex", "tenant=globex&tenant=acme", "tenant[]=globex", "tenant=acme%26tenant%3Dglobex"]) {
      const r = await get(keys.acmeConsole, `/api/v1/traces?${qs}`);
      expectNoGlobex(r.text);
      if (r.status === 200) expect((r.json as { tenantId: string }).tenantId).toBe("acme");
      else expect([400, 403]).toContain(r.status);
      out.push(String(r.status));
    }
    return out.join(", ");
  });

  attempt(QUERY, "SQL injection in agentType, operation and q filters", "200 with acme's data only, or 400", async () => {
    const payloads = ["x' OR 1=1 --", "' OR tenant_id='globex' --", "') OR 1=1 UNION SELECT * FROM spans --", "%' OR '1'='1", "globex\\' OR 1=1#", "{tenant:String}"];
    for (const p of payloads) {
      for (const param of ["agentType", "operation", "q"]) {
        const r = await get(keys.acmeConsole, `/api/v1/traces?${param}=${encodeURIComponent(p)}`);
        expect(r.status).toBe(200);
        expectNoGlobex(r.text);
        expect((r.json as { traces: unknown[] }).traces).toEqual([]);
      }
    }
    return `${payloads.length * 3} payloads: 200 with no traces`;
  });

  attempt(QUERY, "SQL injection and traversal in the trace id path", "400 bad_request or 404, nothing of globex", async () => {
    const out: number[] = [];
    for (const p of ["' OR '1'='1", `${GLOBEX_TRACE}' OR tenant_id='globex`, "..%2F..%2Fadmin%2Ftenants", `${GLOBEX_TRACE.slice(0, 31)}%00`, "%2e%2e"]) {
      const r = await get(keys.acmeConsole, `/api/v1/traces/${encodeURIComponent(p)}`);
      expectNoGlobex(r.text);
      expect([400, 404]).toContain(r.status);
      out.push(r.status);
    }
    return out.join(", ");
  });

  attempt(QUERY, "forged pagination cursors (another tenant's trace position, garbage, SQL)", "acme's data only, or 400", async () => {
    const forged = Buffer.from(`99999999999999999999:${GLOBEX_TRACE}`).toString("base64url");
    const ok = await get(keys.acmeConsole, `/api/v1/traces?cursor=${forged}`);
    expectNoGlobex(ok.text);
    const bad = await Promise.all(
      ["not-a-cursor!", Buffer.from("1' OR 1=1:ab").toString("base64url"), Buffer.from(`1:${GLOBEX_TRACE}' --`).toString("base64url"), "A".repeat(101)].map((c) =>
        get(keys.acmeConsole, `/api/v1/traces?cursor=${encodeURIComponent(c)}`),
      ),
    );
    expect(bad.map((b) => b.status)).toEqual([400, 400, 400, 400]);
    return `forged position: ${ok.status} (own data only); malformed: 400 x4`;
  });

  attempt(QUERY, "negative, zero, huge and non-numeric limits", "400 naming \"limit\"", async () => {
    for (const l of ["-1", "0", "501", "100000000", "1e3", "10 OR 1=1", "0x10", " 10"]) {
      const r = await get(keys.acmeConsole, `/api/v1/traces?limit=${encodeURIComponent(l)}`);
      expect(r.status).toBe(400);
      expect(String((r.json?.error as { message: string }).message)).toContain("limit");
    }
    return "8 limits: 400";
  });

  attempt(QUERY, "inverted, negative, 10-year and absurd time ranges", "400 naming the parameter", async () => {
    const day = 86_400_000;
    const now = Date.now();
    const cases = [`from=${now}&to=${now - day}`, "from=-5", `from=0&to=${now}`, "to=99999999999999999", "from=NaN", "from=2024-13-45T99:99:99Z", `from=${encodeURIComponent("1 OR 1=1")}`, "minDurationMs=-1"];
    for (const c of cases) {
      const r = await get(keys.acmeConsole, `/api/v1/usage?${c}`.replace("/usage?minDurationMs", "/traces?minDurationMs"));
      expect(r.status).toBe(400);
      expect(errorCode(r.json)).toBe("bad_request");
    }
    return `${cases.length} ranges: 400 bad_request`;
  });

  attempt(QUERY, "unknown parameters (tenant_id=globex, sql=..., tenantId=globex)", "400 unknown parameter", async () => {
    for (const qs of ["tenant_id=globex", "sql=SELECT%201", "tenantId=globex", "TENANT=globex"]) {
      const r = await get(keys.acmeConsole, `/api/v1/traces?${qs}`);
      expect(r.status).toBe(400);
      expect(String((r.json?.error as { message: string }).message)).toContain("unknown parameter");
    }
    return "4 x 400 unknown parameter";
  });

  attempt(QUERY, "CSV export of acme's own hostile cells (=HYPERLINK, =cmd|, @SUM, -2+3)", "formula cells neutralised with a leading quote", async () => {
    const day = 86_400_000;
    const range = `from=${Date.now() - day}&to=${Date.now() + 60_000}`;
    const traces = await get(keys.acmeConsole, `/api/v1/traces?format=csv&${range}`);
    const agents = await get(keys.acmeConsole, `/api/v1/agents?format=csv&${range}`);
    const usage = await get(keys.acmeConsole, `/api/v1/usage?format=csv&groupBy=model&${range}`);
    for (const csv of [traces, agents, usage]) {
      expect(csv.status).toBe(200);
      expect(csv.headers.get("content-type")).toContain("text/csv");
      expectNoGlobex(csv.text);
      // No cell may start with a formula character unless neutralised by a quote.
      for (const line of csv.text.trim().split("\r\n")) {
        for (const cell of line.split(/,(?=(?:[^"]*"[^"]*")*[^"]*$)/)) {
          const raw = cell.startsWith('"') ? cell.slice(1) : cell;
          if (/^[=+@]/.test(raw) || (/^-/.test(raw) && !/^-?\d+(\.\d+)?(e-?\d+)?$/.test(raw))) throw new Error(`unneutralised cell ${cell}`);
        }
      }
    }
    expect(traces.text).toContain("'=HYPERLINK");
    expect(usage.text).toContain("'@SUM(A1:A9)");
    expect(agents.text).toContain("'=cmd|");
    return "traces, agents, usage CSV: every formula cell prefixed with '";
  });

  attempt(QUERY, "acme's console key on the admin API (list tenants, issue globex a key, raise globex's budget)", "403 forbidden, nothing changed", async () => {
    const list = await get(keys.acmeConsole, "/api/v1/admin/tenants");
    const issue = await get(keys.acmeConsole, "/api/v1/admin/tenants/globex/keys", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ kind: "console" }) });
    const put = await get(keys.acmeConsole, "/api/v1/admin/tenants/globex", { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ budgets: { dailyTokens: 1 } }) });
    const detail = await get(keys.acmeConsole, "/api/v1/admin/tenants/globex");
    expect([list.status, issue.status, put.status, detail.status]).toEqual([403, 403, 403, 403]);
    for (const r of [list, issue, put, detail]) expectNoGlobex(r.text);
    expect((await collector.registry.getTenant("globex"))!.budgets.dailyTokens).toBeNull();
    expect((await collector.registry.listKeys("globex")).filter((k) => k.kind === "console")).toHaveLength(1);
    return "403 x4; globex unchanged";
  });

  attempt(QUERY, "ingest key, no key, malformed Authorization on the query API", "403, 401, 401", async () => {
    const ingestKey = await get(keys.globexIngest, "/api/v1/traces");
    const none = await get(null, "/api/v1/traces");
    const basic = await get(null, "/api/v1/traces", { headers: { authorization: `Basic ${Buffer.from(`x:${keys.globexConsole}`).toString("base64")}` } });
    expect([ingestKey.status, none.status, basic.status]).toEqual([403, 401, 401]);
    return "403, 401, 401";
  });

  attempt(QUERY, "admin key without tenant= (no implicit all-tenant read)", "400 naming \"tenant\"", async () => {
    const r = await get(ADMIN_KEY, "/api/v1/traces");
    expect(r.status).toBe(400);
    expect(String((r.json?.error as { message: string }).message)).toContain("tenant");
    return `${r.status} ${errorCode(r.json)}`;
  });

  attempt(QUERY, "tenant parameter with homoglyphs, case and padding ('gl\\u043ebex', 'GLOBEX', ' globex')", "400 or 403, nothing of globex", async () => {
    for (const t of ["gl\u043ebex", "GLOBEX", " globex", "globex\u200b", "globex%00"]) {
      const r = await get(keys.acmeConsole, `/api/v1/usage?tenant=${encodeURIComponent(t)}`);
      expect([400, 403]).toContain(r.status);
      expectNoGlobex(r.text);
    }
    return "5 x 400/403";
  });

  attempt(QUERY, "acme's usage and agents totals include nothing of globex", "acme's own figures only", async () => {
    const day = 86_400_000;
    const range = `from=${Date.now() - day}&to=${Date.now() + 60_000}`;
    const usage = await get(keys.acmeConsole, `/api/v1/usage?groupBy=model&${range}`);
    const agents = await get(keys.acmeConsole, `/api/v1/agents?${range}`);
    const traces = await get(keys.acmeConsole, `/api/v1/traces?${range}&limit=500`);
    for (const r of [usage, agents, traces]) {
      expect(r.status).toBe(200);
      expectNoGlobex(r.text);
    }
    expect((usage.json as { totals: { inputTokens: number } }).totals.inputTokens).toBe(11);
    return "usage inputTokens = 11 (acme's only)";
  });

  attempt(QUERY, "read issued secrets back (admin tenant detail, key list, /metrics)", "no secret after creation, only key ids", async () => {
    const detail = await get(ADMIN_KEY, "/api/v1/admin/tenants/acme");
    const metrics = await get(null, "/metrics");
    expect(detail.status).toBe(200);
    for (const secret of Object.values(keys)) {
      expect(detail.text).not.toContain(secret);
      expect(metrics.text).not.toContain(secret);
    }
    expect(detail.text).toContain("key_");
    return "secrets absent from the tenant detail and /metrics";
  });

  attempt(QUERY, "look for plaintext keys at rest in the store", "only SHA-256 digests stored", async () => {
    const rows = await collector.gateway.query<Record<string, unknown>>("SELECT * FROM api_keys");
    const audit = await collector.gateway.query<Record<string, unknown>>("SELECT * FROM audit_log");
    const dump = JSON.stringify(rows) + JSON.stringify(audit);
    for (const secret of [...Object.values(keys), ADMIN_KEY]) expect(dump).not.toContain(secret);
    expect(rows.length).toBeGreaterThanOrEqual(6);
    return `${rows.length} key rows, no secret in api_keys or audit_log`;
  });

  attempt(QUERY, "an admin change leaves no trace (raise a budget through the API)", "audited: who, what, when", async () => {
    const put = await get(ADMIN_KEY, "/api/v1/admin/tenants/acme", { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ budgets: { dailyTokens: 123456 } }) });
    expect(put.status).toBe(200);
    const rows = await collector.gateway.query<{ actor: string; action: string; target: string; details: string; at: string }>(
      "SELECT actor, action, target, details, toString(at) AS at FROM audit_log WHERE action = 'tenant.update' AND target = 'acme' ORDER BY at DESC LIMIT 1",
    );
    expect(rows[0]).toMatchObject({ actor: "admin", action: "tenant.update", target: "acme" });
    expect(rows[0]!.details).toContain("123456");
    return `audit_log: ${rows[0]!.actor} ${rows[0]!.action} ${rows[0]!.target} at ${rows[0]!.at}`;
  });
});
