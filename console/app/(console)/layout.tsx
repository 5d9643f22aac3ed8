import type { ReactNode } from "react";
import { Suspense } from "react";
import { SidebarNav } from "../../components/sidebar-nav";
import { TenantPicker } from "../../components/tenant-picker";
import { currentCsrfToken } from "../../lib/security/csrf-server";
import { requireSession } from "../../lib/session/server-session";
import { listTenants } from "../../lib/session/tenant-scope";
import { signOut } from "../actions/session-actions";

/** The console shell: sidebar, header with the tenant and sign-out; signed-in visitors only. */
export default async function ConsoleLayout({ children }: { children: ReactNode }) {
  const signedIn = await requireSession();
  const { session } = signedIn;
  const csrf = await currentCsrfToken();
  const tenants = session.kind === "admin" ? await listTenants(signedIn.client).catch(() => []) : null;
  const who = session.kind === "admin" ? "Operator" : session.tenantId;

  return (
    <div className="shell">
      <a className="skip-link" href="#content">Skip to content</a>
      <aside className="sidebar">
        <div className="brand">
          <span className="brand-mark" aria-hidden="true">T</span>
          Troupe
        </div>
        <Suspense fallback={null}>
          <SidebarNav isAdmin={session.kind === "admin"} />
        </Suspense>
        <div className="sidebar-foot">Metadata only: no prompts or message content are stored.</div>
      </aside>
      <div className="main">
        <header className="topbar">
          <div className="topbar-tenant">
            <span className="avatar" aria-hidden="true">{who.slice(0, 1).toUpperCase()}</span>
            <span data-testid="signed-in-as">{who}</span>
            <span className={`badge ${session.kind === "admin" ? "badge-accent" : "badge-neutral"}`}>{session.kind === "admin" ? "Admin" : "Tenant"}</span>
          </div>
          {tenants && tenants.length > 0 ? (
            <Suspense fallback={null}>
              <TenantPicker tenants={tenants.map((t) => ({ id: t.id, name: t.name }))} fallback={tenants[0]!.id} />
            </Suspense>
          ) : null}
          <div className="topbar-spacer" />
          <form action={signOut}>
            <input type="hidden" name="csrf" value={csrf} />
            <button type="submit" className="btn btn-sm">Sign out</button>
          </form>
        </header>
        <main id="content" className="content">{children}</main>
      </div>
    </div>
  );
}
