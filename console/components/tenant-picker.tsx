"use client";
// Lets an admin choose which tenant the tenant-scoped pages show (the `tenant` URL parameter).
import { usePathname, useRouter, useSearchParams } from "next/navigation";

/** A labelled select of tenants; changing it navigates with the new `tenant` parameter. */
export function TenantPicker({ tenants, fallback }: { tenants: Array<{ id: string; name: string }>; fallback: string }) {
  const router = useRouter();
  const pathname = usePathname();
  const params = useSearchParams();
  const current = params.get("tenant") || fallback;
  // Trace detail belongs to one tenant; switching tenant goes back to the list.
  const base = pathname.startsWith("/traces/") ? "/traces" : pathname.startsWith("/operator") ? "/" : pathname;
  return (
    <label className="topbar-tenant" style={{ fontWeight: 500 }}>
      <span>Viewing tenant</span>
      <select
        value={current}
        onChange={(e) => {
          const next = new URLSearchParams(params.toString());
          next.set("tenant", e.target.value);
          next.delete("cursor");
          router.push(`${base}?${next.toString()}`);
        }}
      >
        {tenants.map((t) => (
          <option key={t.id} value={t.id}>
            {t.name === t.id ? t.id : `${t.name} (${t.id})`}
          </option>
        ))}
      </select>
    </label>
  );
}
