"use client";
// The sidebar navigation. It keeps the tenant in view (admin) and the `range` URL parameter across pages.
import Link from "next/link";
import { usePathname, useSearchParams } from "next/navigation";
import { tenantInView } from "../lib/session/tenant-in-view";

const TENANT_PAGES = [
  { href: "/", label: "Overview", icon: "◧" },
  { href: "/traces", label: "Traces", icon: "≋" },
  { href: "/conversations", label: "Conversations", icon: "❝" },
  { href: "/agents", label: "Agents", icon: "◎" },
  { href: "/usage", label: "Usage & billing", icon: "$" },
];

/** Sidebar links; the Operator section is shown to admins only. */
export function SidebarNav({ isAdmin }: { isAdmin: boolean }) {
  const pathname = usePathname();
  const params = useSearchParams();
  const keep = new URLSearchParams();
  // The tenant in view (on an operator tenant page, that tenant) and the range carry over.
  const tenant = isAdmin ? tenantInView(pathname, params.get("tenant"), "") : "";
  if (tenant) keep.set("tenant", tenant);
  const range = params.get("range");
  if (range) keep.set("range", range);
  const suffix = keep.size ? `?${keep.toString()}` : "";
  const active = (href: string) => (href === "/" ? pathname === "/" : pathname === href || pathname.startsWith(`${href}/`));
  return (
    <nav className="nav" aria-label="Main">
      {TENANT_PAGES.map((p) => (
        <Link key={p.href} href={p.href + suffix} aria-current={active(p.href) ? "page" : undefined}>
          <span className="nav-icon" aria-hidden="true">{p.icon}</span>
          {p.label}
        </Link>
      ))}
      {isAdmin ? (
        <>
          <div className="nav-section">Operator</div>
          <Link href="/operator" aria-current={active("/operator") ? "page" : undefined}>
            <span className="nav-icon" aria-hidden="true">⚙</span>
            Tenants
          </Link>
        </>
      ) : null}
    </nav>
  );
}
