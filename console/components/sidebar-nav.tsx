"use client";
// The sidebar navigation. It keeps the `tenant` (admin) and `range` URL parameters across pages.
import Link from "next/link";
import { usePathname, useSearchParams } from "next/navigation";

const TENANT_PAGES = [
  { href: "/", label: "Overview", icon: "◧" },
  { href: "/traces", label: "Traces", icon: "≋" },
  { href: "/agents", label: "Agents", icon: "◎" },
  { href: "/usage", label: "Usage & billing", icon: "$" },
];

/** Sidebar links; the Operator section is shown to admins only. */
export function SidebarNav({ isAdmin }: { isAdmin: boolean }) {
  const pathname = usePathname();
  const params = useSearchParams();
  const keep = new URLSearchParams();
  for (const name of ["tenant", "range"]) {
    const v = params.get(name);
    if (v) keep.set(name, v);
  }
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
