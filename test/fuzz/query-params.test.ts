// Fuzzing the query and admin API: generated query strings (known and unknown parameters, repeated
// keys, hostile values), trace ids and admin bodies against the real routes over chDB. Every answer
// is 2xx or 4xx with a JSON error naming the problem, and a console key never sees another tenant.
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CollectorMetrics,
  createAdminRoutes,
  createCollectorApp,
  createClickHouseSpanStore,
  createQueryRoutes,
  createTenantRegistry,
  openClickHouse,
  plainSpanFields,
  type ClickHouseGateway,
  type SpanRow,
} from "@troupe/collector";

const ADMIN_KEY = `trp_admin_${randomBytes(18).toString("base64url")}`;
let dir: string;
let gateway: ClickHouseGateway;
let app: ReturnType<typeof createCollectorApp>;
let acmeKey = "";
const GLOBEX_TRACE = randomBytes(16).toString("hex");
const internalErrors: unknown[] = [];
const statuses = new Map<number, number>();

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "troupe-fuzz-query-"));
  gateway = await openClickHouse({ kind: "chdb", dataDir: join(dir, "chdb") });
  const registry = createTenantRegistry(gateway, { adminKey: ADMIN_KEY });
  await registry.createTenant({ id: "acme" });
  await registry.createTenant({ id: "globex" });
  acmeKey = (await registry.issueKey("acme", "console")).key.secret;
  const store = createClickHouseSpanStore(gateway);
  const now = BigInt(Date.now()) * 1_000_000n;
  const row = (tenantId: string, traceId: string, name: string, i: number): SpanRow => ({
    tenantId,
    traceId,
    spanId: randomBytes(8).toString("hex"),
    parentSpanId: "",
    name,
    kind: i % 2 === 0 ? 5 : 3,
    startTimeUnixNano: String(now - BigInt(i) * 1_000_000_000n),
    durationNs: 1_000_000 * (i + 1),
    statusCode: i % 3 === 0 ? 2 : 1,
    serviceName: "fuzz",
    attributes: { "troupe.agent.type": `agent-${i % 3}`, "troupe.turn.outcome": "ok", "gen_ai.operation.name": i % 2 ? "chat" : "", "gen_ai.usage.input_tokens": String(i) },
    resourceAttributes: { "service.name": "fuzz" },
    ...plainSpanFields(),
  });
  const rows: SpanRow[] = [];
  for (let i = 0; i < 30; i++) rows.push(row("acme", randomBytes(16).toString("hex"), `op ${i}`, i));
  for (let i = 0; i < 5; i++) rows.push(row("globex", GLOBEX_TRACE, "globex-secret-op", i));
  await store.insertSpans(rows, "fuzz-seed");
  const onInternalError = (err: unknown) => void internalErrors.push(err);
  // The collector's real app (JSON 404s, error bodies), with the query and admin routes mounted.
  app = createCollectorApp({
    authenticator: registry,
    sink: { accept: async () => undefined },
    metrics: new CollectorMetrics(),
    store: { ping: async () => undefined },
    apiRoutes: [createQueryRoutes({ gateway, authenticator: registry, onInternalError }), createAdminRoutes({ gateway, registry, onInternalError })],
  });
}, 60_000);

afterAll(async () => {
  await gateway?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const KNOWN = ["tenant", "from", "to", "agentType", "operation", "status", "model", "attr", "minDurationMs", "maxDurationMs", "q", "limit", "cursor", "format", "groupBy", "id"];
const value = fc.oneof(
  fc.string({ unit: "binary", maxLength: 50 }),
  fc.integer().map(String),
  fc.double().map(String),
  fc.date({ noInvalidDate: false }).map((d) => (Number.isNaN(d.getTime()) ? "Invalid Date" : d.toISOString())),
  fc.constantFrom("acme", "globex", "csv", "json", "ok", "error", "hour", "day", "model", "agent", "-1", "0", "1e309", "' OR 1=1 --", "{tenant:String}", "%", "\u0000", "9".repeat(30), "troupe.agent.type=planner", "gen_ai.conversation.id=' OR 1=1 --", "user.email=x", "troupe.agent.type="),
);
const param = fc.tuple(fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...KNOWN) }, { weight: 1, arbitrary: fc.string({ maxLength: 12 }) }), value);
const path = fc.oneof(
  fc.constantFrom("/api/v1/traces", "/api/v1/agents", "/api/v1/usage", "/api/v1/overview", "/api/v1/sampling", "/api/v1/conversations", `/api/v1/traces/${GLOBEX_TRACE}`),
  fc.string({ unit: "binary", maxLength: 40 }).map((s) => `/api/v1/traces/${encodeURIComponent(s)}`),
);

function queryString(params: Array<[string, string]>): string {
  return params.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join("&");
}

describe("fuzz: query API parameters", () => {
  it("generated query strings on every read route: only 2xx/4xx, JSON errors naming the problem, nothing of another tenant", async () => {
    await fc.assert(
      fc.asyncProperty(path, fc.array(param, { maxLength: 5 }), fc.boolean(), async (p, params, admin) => {
        const res = await app.request(`${p}?${queryString(params)}`, { headers: { authorization: `Bearer ${admin ? ADMIN_KEY : acmeKey}` } });
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        const text = await res.text();
        if (res.status >= 500) throw new Error(`${res.status} for ${p}?${queryString(params)}: ${text.slice(0, 200)}`);
        if (res.status >= 400) {
          const body = JSON.parse(text) as { error: { code: string; message: string } };
          expect(body.error.message.length).toBeGreaterThan(0);
        } else if (!admin) {
          expect(text).not.toContain(GLOBEX_TRACE);
          expect(text).not.toContain("globex-secret-op");
        }
      }),
      { numRuns: 2_500 },
    );
    console.log(`query fuzz statuses: ${JSON.stringify(Object.fromEntries(statuses))}`);
    expect(internalErrors).toEqual([]);
    expect(statuses.get(200) ?? 0).toBeGreaterThan(50);
    expect(statuses.get(400) ?? 0).toBeGreaterThan(50);
  }, 60_000);

  it("generated admin request bodies: only 2xx/4xx, invalid bodies change nothing", async () => {
    const before = (await (await app.request("/api/v1/admin/tenants", { headers: { authorization: `Bearer ${ADMIN_KEY}` } })).json()) as { tenants: unknown[] };
    let created = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom("POST /api/v1/admin/tenants", "PUT /api/v1/admin/tenants/acme", "POST /api/v1/admin/tenants/acme/keys", "POST /api/v1/admin/service-keys"),
        fc.oneof(fc.jsonValue(), fc.record({ id: fc.oneof(fc.stringMatching(/^[a-z][a-z0-9-]{0,10}$/), fc.string()), budgets: fc.anything() }, { requiredKeys: [] }), fc.record({ kind: fc.string(), rotate: fc.anything() }, { requiredKeys: [] })),
        async (route, body) => {
          const [method, p] = route.split(" ") as [string, string];
          const res = await app.request(p, { method, headers: { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" }, body: JSON.stringify(body) ?? "null" });
          const text = await res.text();
          if (res.status >= 500) throw new Error(`${res.status} for ${route} ${JSON.stringify(body)?.slice(0, 200)}: ${text.slice(0, 200)}`);
          if (res.status === 201 && p === "/api/v1/admin/tenants") created++;
          if (res.status >= 400) expect((JSON.parse(text) as { error: { code: string } }).error.code).toMatch(/^[a-z_]+$/);
        },
      ),
      { numRuns: 400 },
    );
    const after = (await (await app.request("/api/v1/admin/tenants", { headers: { authorization: `Bearer ${ADMIN_KEY}` } })).json()) as { tenants: unknown[] };
    expect(after.tenants.length).toBe(before.tenants.length + created);
    expect(internalErrors).toEqual([]);
  }, 60_000);
});
