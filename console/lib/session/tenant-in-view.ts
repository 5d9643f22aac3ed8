// Which tenant a console page shows, read from its URL, so that the header's tenant picker and the
// sidebar links follow the page instead of guessing. Pure functions (used by client components).

const TENANT_PAGE = /^\/operator\/tenants\/([^/]+)\/?$/;

/**
 * The tenant a page shows: the `[id]` of an operator tenant page, none ("") on the operator's
 * all-tenants list, else the `tenant` URL parameter, defaulting to `fallback` (the first tenant, as
 * the tenant-scoped pages default: lib/session/tenant-scope.ts).
 */
export function tenantInView(pathname: string, tenantParam: string | null, fallback: string): string {
  const page = TENANT_PAGE.exec(pathname);
  if (page) return safeDecode(page[1]!);
  if (pathname === "/operator" || pathname.startsWith("/operator/")) return "";
  return tenantParam || fallback;
}

/**
 * Where choosing `tenant` in the picker goes from this page: the same kind of page for that tenant
 * (an operator tenant page → that tenant's page; a tenant-scoped page → the same page with
 * `?tenant=`, without its pagination cursor); from a trace, which belongs to one tenant, to that
 * tenant's trace list; from the all-tenants list, to that tenant's overview.
 */
export function tenantSwitchHref(pathname: string, params: URLSearchParams, tenant: string): string {
  if (TENANT_PAGE.test(pathname)) return `/operator/tenants/${encodeURIComponent(tenant)}`;
  const next = new URLSearchParams(params.toString());
  next.set("tenant", tenant);
  next.delete("cursor");
  next.delete("span");
  const base = pathname.startsWith("/traces/") ? "/traces" : pathname.startsWith("/operator") ? "/" : pathname;
  return `${base}?${next.toString()}`;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
