import Link from "next/link";

/** The 403 page: a tenant key asked for an operator page. */
export default function Forbidden() {
  return (
    <main className="auth">
      <div className="card auth-card" data-testid="forbidden">
        <span className="badge badge-err" style={{ alignSelf: "flex-start" }}>403 · Forbidden</span>
        <h1>Operators only</h1>
        <p>This page needs the admin key. You are signed in with a tenant console key, which can only see its own tenant.</p>
        <Link className="btn btn-primary" href="/">Back to your overview</Link>
      </div>
    </main>
  );
}
