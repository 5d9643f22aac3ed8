import { isTenantId } from "@troupe/contract";
import { CollectorError } from "../errors.js";
import type { TenantRecord } from "@troupe/contract/query-api";
import type { Principal } from "../tenants/principal.js";
import type { TenantRegistry } from "../tenants/tenant-registry.js";

/** The most tenants one control read may name. */
export const MAX_CONTROL_TENANTS = 1000;

/** The tenants a control read covers: the records, and whether it is every tenant (an admin key naming none). */
export interface ControlScope {
  tenants: TenantRecord[];
  all: boolean;
}

/**
 * The tenants a key reads on the control API: those `tenantsParam` ("a,b") names, or by default
 * every tenant the key serves (a service key's allowed tenants, a tenant ingest key's tenant, for
 * an admin key all). Throws CollectorErrors naming the tenant: 400 for a malformed id, 403 for one
 * the key does not serve, 404 for one that does not exist.
 */
export async function resolveControlScope(principal: Principal, tenantsParam: string | undefined, registry: Pick<TenantRegistry, "listTenants">): Promise<ControlScope> {
  const served: readonly string[] | "all" =
    principal.kind === "admin" ? "all" : principal.kind === "service-ingest" ? principal.allowedTenants : principal.kind === "tenant-ingest" ? [principal.tenantId] : [];
  if (tenantsParam === undefined) {
    if (served === "all") return { tenants: await registry.listTenants(), all: true };
    return { tenants: await existing(served, registry), all: false };
  }
  const ids = [...new Set(tenantsParam.split(",").map((s) => s.trim()))];
  if (ids.length > MAX_CONTROL_TENANTS) throw new CollectorError("bad_request", `invalid parameter "tenants": names more than ${MAX_CONTROL_TENANTS} tenants`);
  for (const id of ids) {
    if (!isTenantId(id)) throw new CollectorError("bad_request", `invalid parameter "tenants": ${JSON.stringify(id.slice(0, 80))} is not a valid tenant id`);
  }
  for (const id of ids) {
    if (served !== "all" && !served.includes(id)) throw new CollectorError("forbidden", `this key does not serve tenant ${JSON.stringify(id)}`);
  }
  return { tenants: await existing(ids, registry), all: false };
}

async function existing(ids: readonly string[], registry: Pick<TenantRegistry, "listTenants">): Promise<TenantRecord[]> {
  const tenants = await registry.listTenants(ids);
  const found = new Set(tenants.map((t) => t.id));
  const missing = ids.find((id) => !found.has(id));
  if (missing !== undefined) throw new CollectorError("not_found", `tenant ${JSON.stringify(missing)} does not exist`);
  return tenants;
}
