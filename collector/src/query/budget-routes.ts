import { budgetQuery, type BudgetResponse } from "@troupe/contract/query-api";
import { Hono } from "hono";
import { CollectorError } from "../errors.js";
import { requirePrincipal, type AuthVariables } from "../http/auth.js";
import { errorResponse } from "../http/error-response.js";
import type { ClickHouseGateway } from "../store/clickhouse-gateway.js";
import type { TenantRegistry } from "../tenants/tenant-registry.js";
import { parseParams } from "./request-params.js";
import { budgetStatus, budgetUsage } from "./tenant-activity-queries.js";
import { resolveTenant } from "./tenant-scope.js";

/** Dependencies of the budget route. */
export interface BudgetRoutesOptions {
  gateway: ClickHouseGateway;
  /** Authenticates keys and knows each tenant's budgets. */
  registry: Pick<TenantRegistry, "authenticate" | "getTenant">;
  /** Clock deciding "today" and "this month" (tests). */
  now?: () => number;
  onInternalError?: (err: unknown) => void;
}

/**
 * GET /budget (mount under /api/v1): BudgetResponse, a tenant's budgets and where it stands against
 * them, so a tenant sees in its own console what its operator sees. Scoped by the key: a console key
 * reads its own tenant only (naming another is 403), an admin key names one with `tenant=` (an
 * unknown tenant is 404); other keys are 403. Read-only.
 */
export function createBudgetRoutes(options: BudgetRoutesOptions): Hono<{ Variables: AuthVariables }> {
  const { gateway, registry } = options;
  const now = options.now ?? Date.now;
  const app = new Hono<{ Variables: AuthVariables }>();
  app.onError((err, c) => {
    if (!(err instanceof CollectorError) || err.code === "internal") options.onInternalError?.(err);
    return errorResponse(c, err);
  });
  app.use("/budget", requirePrincipal(registry, ["console", "admin"]));

  app.get("/budget", async (c) => {
    const p = parseParams(budgetQuery, c.req.query());
    const tenantId = resolveTenant(c.get("principal"), p.tenant);
    const tenant = await registry.getTenant(tenantId);
    if (!tenant) throw new CollectorError("not_found", `tenant ${JSON.stringify(tenantId)} does not exist`);
    const used = await budgetUsage(gateway, now(), [tenantId]);
    const answer: BudgetResponse = { tenantId, budgets: tenant.budgets, status: budgetStatus(tenant.budgets, used.get(tenantId)) };
    return c.json(answer);
  });

  return app;
}
