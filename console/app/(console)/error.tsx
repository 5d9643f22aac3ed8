"use client";
import { ErrorState } from "../../components/ui";

/** Shown when a console page fails to render. */
export default function ConsoleError({ error, reset }: { error: Error & { digest?: string }; reset: () => void }) {
  return (
    <div className="card">
      <ErrorState title="This page could not be shown" message={error.digest ? `An unexpected error occurred (reference ${error.digest}).` : "An unexpected error occurred."} />
      <div style={{ display: "flex", justifyContent: "center", paddingBottom: 24 }}>
        <button type="button" className="btn" onClick={reset}>Try again</button>
      </div>
    </div>
  );
}
