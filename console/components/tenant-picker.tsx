"use client";
// Lets an admin choose which tenant the console shows. It always names the tenant of the page in
// view (lib/session/tenant-in-view.ts) and switches to the same kind of page for the chosen one.
import { usePathname, useRouter, useSearchParams } from "next/navigation";
import { tenantInView, tenantSwitchHref } from "../lib/session/tenant-in-view";

/** A labelled select of tenants; on the all-tenants list it reads "All tenants". */
export function TenantPicker({ tenants, fallback }: { tenants: Array<{ id: string; name: string }>; fallback: string }) {
  const router = useRouter();
  const pathname = usePathname();
  const params = useSearchParams();
  const current = tenantInView(pathname, params.get("tenant"), fallback);
  // A tenant the list does not hold (just created, or mistyped in the URL) is still named, not replaced by the first.
  const options = current && !tenants.some((t) => t.id === current) ? [...tenants, { id: current, name: current }] : tenants;
  return (
    <label className="topbar-tenant topbar-picker">
      <span>Viewing tenant</span>
      <select
        value={current}
        data-testid="tenant-picker"
        onChange={(e) => {
          if (e.target.value) router.push(tenantSwitchHref(pathname, params, e.target.value));
        }}
      >
        {current === "" ? <option value="">All tenants</option> : null}
        {options.map((t) => (
          <option key={t.id} value={t.id}>
            {t.name === t.id ? t.id : `${t.name} (${t.id})`}
          </option>
        ))}
      </select>
    </label>
  );
}

/** What the picker's place shows while the tenant list loads (same size, so nothing moves). */
export function TenantPickerPlaceholder() {
  return (
    <label className="topbar-tenant topbar-picker" aria-busy="true">
      <span>Viewing tenant</span>
      <select disabled defaultValue="">
        <option value="">Loading tenants…</option>
      </select>
    </label>
  );
}
