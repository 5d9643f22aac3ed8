import {
  adminTenantListQuery,
  adminTenantQuery,
  adminTenantsQuery,
  createServiceKeyBody,
  createTenantBody,
  issueKeyBody,
  keyIdParam,
  tenantParam,
  updateTenantBody,
  type AdminTenantDetailResponse,
  type AdminTenantListResponse,
  type AdminTenantOverview,
  type AdminTenantsResponse,
  type CreateServiceKeyResponse,
  type CreateTenantResponse,
  type IssueKeyResponse,
  type IssuedKey,
  type TenantKeyKind,
  type TenantRuntimesResponse,
  type UpdateTenantResponse,
} from "@troupe/contract/query-api";
import { Hono, type Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { CollectorError } from "../errors.js";
import { requirePrincipal, type AuthVariables } from "../http/auth.js";
import { errorResponse } from "../http/error-response.js";
import type { RuntimeCheckIns } from "../control/runtime-checkins.js";
import type { ClickHouseGateway } from "../store/clickhouse-gateway.js";
import type { TenantRegistry } from "../tenants/tenant-registry.js";
import { csvResponse } from "./query-routes.js";
import { jsonBody, parseParams, resolveRange } from "./request-params.js";
import { budgetStatus, budgetUsage, emptyActivity, tenantActivity } from "./tenant-activity-queries.js";
import { definedFields, parseBody } from "./tenant-bodies.js";

/** Dependencies of the admin routes. */
export interface AdminRoutesOptions {
  gateway: ClickHouseGateway;
  /** Authenticates keys (only admin keys pass) and manages tenants and keys. */
  registry: TenantRegistry;
  /** Runtimes' check-ins, for GET /admin/tenants/{id}/runtimes; unset: it lists none. */
  checkIns?: Pick<RuntimeCheckIns, "forTenant">;
  now?: () => number;
  onInternalError?: (err: unknown) => void;
}

/** Largest admin request body. */
export const MAX_ADMIN_BODY_BYTES = 64 * 1024;

const DAY_MS = 86_400_000;

/**
 * The operator API under /admin (mount with `app.route("/api/v1", createAdminRoutes(...))`):
 * all-tenant overview, tenant create/read/update (every setting runtimes follow), the runtimes
 * following a tenant, key issue/rotate/revoke, service keys. Admin keys only (console and ingest
 * keys get 403). Secrets appear only in the answer that creates them.
 * Every change is audited by the registry with the admin key's id.
 */
export function createAdminRoutes(options: AdminRoutesOptions): Hono<{ Variables: AuthVariables }> {
  const { gateway, registry } = options;
  const now = options.now ?? Date.now;
  const app = new Hono<{ Variables: AuthVariables }>();
  app.onError((err, c) => {
    if (!(err instanceof CollectorError) || err.code === "internal") options.onInternalError?.(err);
    return errorResponse(c, err);
  });
  app.use("/admin/*", requirePrincipal(registry, ["admin"]));
  app.use(
    "/admin/*",
    bodyLimit({
      maxSize: MAX_ADMIN_BODY_BYTES,
      onError: () => {
        throw new CollectorError("payload_too_large", `request body over ${MAX_ADMIN_BODY_BYTES} bytes`);
      },
    }),
  );
  const actor = (c: Context<{ Variables: AuthVariables }>) => c.get("principal").keyId;

  /**
   * The rows of the given tenants (or all). Activity is read for every tenant, so each queue wait and
   * handler time share is of all tenants' totals over the range: a tenant's detail reads as its row
   * of the list does.
   */
  async function overviews(fromMs: number, toMs: number, ids?: string[]): Promise<AdminTenantOverview[]> {
    const tenants = ids ? (await Promise.all(ids.map((id) => registry.getTenant(id)))).filter((t) => t !== null) : await registry.listTenants();
    const activity = await tenantActivity(gateway, { fromMs, toMs });
    const budget = await budgetUsage(gateway, now(), ids);
    return tenants.map((tenant) => ({
      tenant,
      activity: activity.get(tenant.id) ?? emptyActivity(),
      budget: budgetStatus(tenant.budgets, budget.get(tenant.id)),
    }));
  }

  // The settings alone: a console's tenant picker asks on every admin page, and must not pay for activity.
  app.get("/admin/tenant-list", async (c) => {
    parseParams(adminTenantListQuery, c.req.query());
    const body: AdminTenantListResponse = { tenants: await registry.listTenants() };
    return c.json(body);
  });

  app.get("/admin/tenants", async (c) => {
    const p = parseParams(adminTenantsQuery, c.req.query());
    const r = resolveRange(p.from, p.to, now(), DAY_MS);
    const rows = (await overviews(r.fromMs, r.toMs)).sort((a, b) => b.activity.costUsd - a.activity.costUsd || a.tenant.id.localeCompare(b.tenant.id));
    if (p.format === "csv") {
      return csvResponse(
        c,
        "tenants.csv",
        ["tenantId", "name", "tier", "retentionDays", "spans", "spanErrors", "turns", "calls", "inputTokens", "outputTokens", "costUsd", "errors", "budgetRejections", "queueWaitShare", "handlerTimeShare", "budgetState", "budgetMaxUtilization", "rateLimited", "timeouts", "cachedInputTokens", "reasoningTokens"],
        rows.map(({ tenant: t, activity: a, budget: b }) => [t.id, t.name, t.tier, t.retentionDays, a.spans, a.spanErrors, a.turns, a.calls, a.inputTokens, a.outputTokens, a.costUsd, a.errors, a.budgetRejections, a.queueWaitShare, a.handlerTimeShare, b.state, b.maxUtilization, a.rateLimited, a.timeouts, a.cachedInputTokens, a.reasoningTokens]),
      );
    }
    const body: AdminTenantsResponse = { from: new Date(r.fromMs).toISOString(), to: new Date(r.toMs).toISOString(), tenants: rows };
    return c.json(body);
  });

  app.post("/admin/tenants", async (c) => {
    const { keys: keyKinds, ...settings } = parseBody(createTenantBody, await jsonBody(c));
    const tenant = await registry.createTenant({ ...definedFields(settings), id: settings.id }, actor(c));
    const keys: IssuedKey[] = [];
    for (const kind of [...new Set<TenantKeyKind>(keyKinds ?? ["ingest", "console"])]) keys.push((await registry.issueKey(tenant.id, kind, { actor: actor(c) })).key);
    const answer: CreateTenantResponse = { tenant, keys };
    return noStore(c.json(answer, 201));
  });

  app.get("/admin/tenants/:id", async (c) => {
    const id = tenantIdParam(c.req.param("id"));
    const p = parseParams(adminTenantQuery, c.req.query());
    const r = resolveRange(p.from, p.to, now(), DAY_MS);
    const [row] = await overviews(r.fromMs, r.toMs, [id]);
    if (!row) throw new CollectorError("not_found", `tenant ${JSON.stringify(id)} does not exist`);
    const answer: AdminTenantDetailResponse = { ...row, keys: await registry.listKeys(id) };
    return c.json(answer);
  });

  app.put("/admin/tenants/:id", async (c) => {
    const id = tenantIdParam(c.req.param("id"));
    const body = parseBody(updateTenantBody, await jsonBody(c));
    const tenant = await registry.updateTenant(id, definedFields(body), actor(c));
    const answer: UpdateTenantResponse = { tenant };
    return c.json(answer);
  });

  app.get("/admin/tenants/:id/runtimes", async (c) => {
    const id = tenantIdParam(c.req.param("id"));
    const tenant = await registry.getTenant(id);
    if (!tenant) throw new CollectorError("not_found", `tenant ${JSON.stringify(id)} does not exist`);
    const runtimes = options.checkIns ? await options.checkIns.forTenant(id, now() - DAY_MS) : [];
    const answer: TenantRuntimesResponse = { tenantId: id, settingsVersion: tenant.settingsVersion, runtimes };
    return noStore(c.json(answer));
  });

  app.post("/admin/tenants/:id/keys", async (c) => {
    const id = tenantIdParam(c.req.param("id"));
    const body = parseParams(issueKeyBody, await jsonBody(c));
    const answer: IssueKeyResponse = await registry.issueKey(id, body.kind, { rotate: body.rotate ?? false, actor: actor(c) });
    return noStore(c.json(answer, 201));
  });

  app.post("/admin/service-keys", async (c) => {
    const body = parseParams(createServiceKeyBody, await jsonBody(c));
    const answer: CreateServiceKeyResponse = { key: await registry.issueServiceKey(body.allowedTenants, actor(c)) };
    return noStore(c.json(answer, 201));
  });

  app.delete("/admin/keys/:keyId", async (c) => {
    const keyId = c.req.param("keyId");
    if (!keyIdParam.safeParse(keyId).success) throw new CollectorError("bad_request", `invalid parameter "keyId": not a key id`);
    return c.json(await registry.revokeKey(keyId, actor(c)));
  });

  return app;
}

function tenantIdParam(id: string): string {
  const r = tenantParam.safeParse(id);
  if (!r.success) throw new CollectorError("bad_request", `invalid parameter "id": is not a valid tenant id`);
  return r.data;
}

/** Answers carrying secrets must not be cached anywhere. */
function noStore(res: Response): Response {
  res.headers.set("Cache-Control", "no-store");
  return res;
}
