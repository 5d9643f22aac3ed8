import type { Metadata } from "next";
import { redirect } from "next/navigation";
import { SignInForm } from "../../components/sign-in-form";
import { currentCsrfToken } from "../../lib/security/csrf-server";
import { RETURN_PARAM, safeReturnPath } from "../../lib/security/return-path";
import { getSession } from "../../lib/session/server-session";

export const metadata: Metadata = { title: "Sign in" };

/**
 * The sign-in page. `?next=` names the page to return to after signing in (same-origin paths only;
 * anything else is ignored); a signed-in visitor goes there, or straight into the console, at once.
 */
export default async function SignInPage({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  const next = safeReturnPath((await searchParams)[RETURN_PARAM]);
  const session = await getSession();
  if (session) redirect(next ?? (session.kind === "admin" ? "/operator" : "/"));
  const csrf = await currentCsrfToken();
  return (
    <main className="auth">
      <div className="card auth-card">
        <div className="brand">
          <span className="brand-mark" aria-hidden="true">T</span>
          Troupe
        </div>
        <div>
          <h1>Sign in to the console</h1>
          <p>{next ? "Sign in to open the page you asked for." : "Traces, agents, usage and cost of your Troupe workloads."}</p>
        </div>
        <SignInForm csrf={csrf} next={next} />
      </div>
    </main>
  );
}
