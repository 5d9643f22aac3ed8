import { alertsQuery, setWebhookBody, tenantParam, type RemoveWebhookResponse } from "@troupe/contract/query-api";
import { Hono, type Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { z } from "zod";
import { CollectorError } from "../errors.js";
import { requirePrincipal, type AuthVariables } from "../http/auth.js";
import { errorResponse } from "../http/error-response.js";
import type { SetWebhookResponse, TenantAlertsResponse, TenantRecord, WebhookDelivery } from "@troupe/contract/query-api";
import { jsonBody, parseParams } from "../query/request-params.js";
import { resolveTenant } from "../query/tenant-scope.js";
import type { ClickHouseGateway } from "../store/clickhouse-gateway.js";
import { toClickHouseDateTime } from "../store/clickhouse-time.js";
import type { TenantRegistry } from "../tenants/tenant-registry.js";
import type { AlertStore } from "./alert-store.js";
import { alertThresholdsOf } from "./alert-windows.js";
import type { WebhookSender } from "./webhook-sender.js";
import type { TenantWebhook, WebhookStore } from "./webhook-store.js";

/** Dependencies of the alert routes. */
export interface AlertRoutesOptions {
  /** Authenticates keys and knows the tenants. */
  registry: Pick<TenantRegistry, "authenticate" | "getTenant">;
  /** For the audit log. */
  gateway: ClickHouseGateway;
  alerts: AlertStore;
  webhooks: WebhookStore;
  sender: Pick<WebhookSender, "sendTest">;
  now?: () => number;
  onInternalError?: (err: unknown) => void;
}

/** Alerts listed per answer, newest first. */
export const MAX_ALERTS_LISTED = 500;
/** Delivery attempts listed in the admin view, newest first. */
export const MAX_DELIVERIES_LISTED = 100;
const MAX_WEBHOOK_BODY_BYTES = 8 * 1024;

/**
 * Budget alerts and webhooks, mounted under /api/v1 (`app.route("/api/v1", createAlertRoutes(...))`):
 * - GET /admin/tenants/{id}/alerts: TenantAlertsResponse with the latest delivery attempts (admin);
 * - GET /alerts: a tenant's own alerts, without deliveries (console key; an admin names `tenant=`);
 * - PUT /admin/tenants/{id}/webhook {url}: SetWebhookResponse, the new secret shown this once;
 * - DELETE /admin/tenants/{id}/webhook: RemoveWebhookResponse;
 * - POST /admin/tenants/{id}/webhook/test: sends a "test" event now, answers the WebhookDelivery.
 * Guarantees: the signing secret appears only in the PUT answer (never cached, logged or audited);
 * a tenant's own view shows its webhook's origin only (a URL path often carries a token); changes are
 * audited with the admin key's id; an unknown tenant is 404, a bad URL 400 naming "url".
 */
export function createAlertRoutes(options: AlertRoutesOptions): Hono<{ Variables: AuthVariables }> {
  const { registry, alerts, webhooks, sender } = options;
  const now = options.now ?? Date.now;
  const app = new Hono<{ Variables: AuthVariables }>();
  app.onError((err, c) => {
    if (!(err instanceof CollectorError) || err.code === "internal") options.onInternalError?.(err);
    return errorResponse(c, err);
  });
  const admin = requirePrincipal(registry, ["admin"]);
  app.use("/admin/tenants/:id/alerts", admin);
  // "/webhook/*" also matches "/webhook" in Hono.
  app.use("/admin/tenants/:id/webhook/*", admin);
  app.use(
    "/admin/tenants/:id/webhook/*",
    bodyLimit({
      maxSize: MAX_WEBHOOK_BODY_BYTES,
      onError: () => {
        throw new CollectorError("payload_too_large", `request body over ${MAX_WEBHOOK_BODY_BYTES} bytes`);
      },
    }),
  );
  app.use("/alerts", requirePrincipal(registry, ["console", "admin"]));
  const actor = (c: Context<{ Variables: AuthVariables }>) => c.get("principal").keyId;

  async function existingTenant(id: string): Promise<TenantRecord> {
    const tenant = await registry.getTenant(id);
    if (!tenant) throw new CollectorError("not_found", `tenant ${JSON.stringify(id)} does not exist`);
    return tenant;
  }

  async function alertsOf(tenant: TenantRecord, view: "admin" | "tenant"): Promise<TenantAlertsResponse> {
    const [webhook, list, deliveries] = await Promise.all([
      webhooks.get(tenant.id),
      alerts.listAlerts(tenant.id, MAX_ALERTS_LISTED),
      view === "admin" ? alerts.listDeliveries(tenant.id, MAX_DELIVERIES_LISTED) : Promise.resolve([]),
    ]);
    return {
      tenantId: tenant.id,
      thresholds: [...alertThresholdsOf(tenant)],
      webhook: webhook ? { url: view === "admin" ? webhook.url : originOf(webhook), updatedAt: webhook.updatedAt } : null,
      alerts: list,
      deliveries,
    };
  }

  async function audit(actorId: string, action: string, target: string, details: Record<string, unknown>): Promise<void> {
    await options.gateway.insert("audit_log", [{ at: toClickHouseDateTime(now()), actor: actorId, action, target, details: JSON.stringify(details) }]);
  }

  app.get("/admin/tenants/:id/alerts", async (c) => {
    const tenant = await existingTenant(tenantIdParam(c.req.param("id")));
    parseParams(z.strictObject({}), c.req.query());
    return c.json(await alertsOf(tenant, "admin"));
  });

  app.get("/alerts", async (c) => {
    const p = parseParams(alertsQuery, c.req.query());
    const tenant = await existingTenant(resolveTenant(c.get("principal"), p.tenant));
    return c.json(await alertsOf(tenant, "tenant"));
  });

  app.put("/admin/tenants/:id/webhook", async (c) => {
    const id = tenantIdParam(c.req.param("id"));
    const body = parseParams(setWebhookBody, await jsonBody(c));
    await existingTenant(id);
    const webhook = await webhooks.set(id, body.url);
    await audit(actor(c), "webhook.set", id, { url: webhook.url });
    const answer: SetWebhookResponse = { url: webhook.url, secret: webhook.secret };
    return noStore(c.json(answer));
  });

  app.delete("/admin/tenants/:id/webhook", async (c) => {
    const id = tenantIdParam(c.req.param("id"));
    await existingTenant(id);
    const removed = await webhooks.remove(id);
    if (removed) await audit(actor(c), "webhook.remove", id, {});
    const answer: RemoveWebhookResponse = { tenantId: id, removed };
    return c.json(answer);
  });

  app.post("/admin/tenants/:id/webhook/test", async (c) => {
    const id = tenantIdParam(c.req.param("id"));
    await existingTenant(id);
    const delivery: WebhookDelivery | null = await sender.sendTest(id);
    if (!delivery) throw new CollectorError("not_found", `tenant ${JSON.stringify(id)} has no webhook: PUT one first`);
    return c.json(delivery);
  });

  return app;
}

function tenantIdParam(id: string): string {
  const r = tenantParam.safeParse(id);
  if (!r.success) throw new CollectorError("bad_request", `invalid parameter "id": is not a valid tenant id`);
  return r.data;
}

/** The webhook's scheme and host only: its path and query often carry a token the tenant's users must not see. */
function originOf(webhook: TenantWebhook): string {
  return new URL(webhook.url).origin;
}

/** Answers carrying secrets must not be cached anywhere. */
function noStore(res: Response): Response {
  res.headers.set("Cache-Control", "no-store");
  return res;
}
