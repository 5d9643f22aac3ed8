import Link from "next/link";

/** The 404 page. */
export default function NotFound() {
  return (
    <main className="auth">
      <div className="card auth-card" data-testid="not-found">
        <span className="badge badge-neutral" style={{ alignSelf: "flex-start" }}>404 · Not found</span>
        <h1>Page not found</h1>
        <p>There is nothing at this address.</p>
        <Link className="btn btn-primary" href="/">Go to the overview</Link>
      </div>
    </main>
  );
}
