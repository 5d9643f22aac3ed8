import { cache } from "react";
import type { CollectorClient } from "../api/collector-client";
import type { TenantRecord } from "../api/types";
import type { SignedIn } from "./server-session";

/** Which tenant a tenant-scoped page shows, and how to ask the collector for it. */
export interface TenantScope {
  /** The tenant shown ("" when an admin has no tenants yet). */
  tenantId: string;
  /** What to pass as `tenant` to the API: undefined for a console key (the key decides, always). */
  apiTenant: string | undefined;
  /** All tenants, for admins; null for a tenant session. */
  tenants: TenantRecord[] | null;
}

/** Every tenant, sorted by id, for an admin's picker: settings only, no activity (one registry read). Cached per request. */
export const listTenants = cache(async (client: CollectorClient): Promise<TenantRecord[]> => (await client.adminTenantList()).tenants);

/**
 * The scope of a tenant-scoped page. A console session is always its own tenant and never sends a
 * tenant parameter (whatever the URL says); an admin picks one with `?tenant=`, defaulting to the
 * first tenant.
 */
export async function tenantScope({ session, client }: SignedIn, tenantParam: string | string[] | undefined): Promise<TenantScope> {
  if (session.kind === "console") return { tenantId: session.tenantId, apiTenant: undefined, tenants: null };
  const tenants = await listTenants(client);
  const wanted = typeof tenantParam === "string" ? tenantParam : undefined;
  const chosen = tenants.find((t) => t.id === wanted)?.id ?? wanted ?? tenants[0]?.id ?? "";
  return { tenantId: chosen, apiTenant: chosen || undefined, tenants };
}
