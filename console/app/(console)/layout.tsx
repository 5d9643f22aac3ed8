import type { ReactNode } from "react";
import { Suspense } from "react";
import { SidebarNav } from "../../components/sidebar-nav";
import { SignOutForm } from "../../components/sign-out-form";
import { TenantPicker, TenantPickerPlaceholder } from "../../components/tenant-picker";
import type { CollectorClient } from "../../lib/api/collector-client";
import { currentCsrfToken } from "../../lib/security/csrf-server";
import { requireSession } from "../../lib/session/server-session";
import { listTenants } from "../../lib/session/tenant-scope";

/**
 * The console shell: sidebar, header with the tenant and sign-out; signed-in visitors only. The
 * shell streams at once: the admin's tenant picker waits for the tenant list inside its own
 * Suspense boundary, so no page's first byte waits for it.
 */
export default async function ConsoleLayout({ children }: { children: ReactNode }) {
  const signedIn = await requireSession();
  const { session } = signedIn;
  const csrf = await currentCsrfToken();
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
          {session.kind === "admin" ? (
            <Suspense fallback={<TenantPickerPlaceholder />}>
              <AdminTenantPicker client={signedIn.client} />
            </Suspense>
          ) : null}
          <div className="topbar-spacer" />
          <SignOutForm csrf={csrf} />
        </header>
        <main id="content" className="content">{children}</main>
      </div>
    </div>
  );
}

/** The admin's tenant picker, once the tenant list has answered (nothing if it failed or there are none). */
async function AdminTenantPicker({ client }: { client: CollectorClient }) {
  const tenants = await listTenants(client).catch(() => []);
  if (tenants.length === 0) return null;
  return <TenantPicker tenants={tenants.map((t) => ({ id: t.id, name: t.name }))} fallback={tenants[0]!.id} />;
}
