import type { Metadata } from "next";
import { redirect } from "next/navigation";
import { SignInForm } from "../../components/sign-in-form";
import { currentCsrfToken } from "../../lib/security/csrf-server";
import { getSession } from "../../lib/session/server-session";

export const metadata: Metadata = { title: "Sign in" };

/** The sign-in page; a signed-in visitor goes straight to the console. */
export default async function SignInPage() {
  const session = await getSession();
  if (session) redirect(session.kind === "admin" ? "/operator" : "/");
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
          <p>Traces, agents, usage and cost of your Troupe workloads.</p>
        </div>
        <SignInForm csrf={csrf} />
      </div>
    </main>
  );
}
