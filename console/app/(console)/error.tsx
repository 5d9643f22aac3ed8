"use client";
import { ErrorState } from "../../components/ui";
import { RetryButton } from "../../components/retry-button";

/** Shown when a console page fails to render; "Try again" renders it again from the server. */
export default function ConsoleError({ error, reset }: { error: Error & { digest?: string }; reset: () => void }) {
  return (
    <div className="card">
      <ErrorState title="This page could not be shown" message={error.digest ? `An unexpected error occurred (reference ${error.digest}).` : "An unexpected error occurred."} retry={false} />
      <div style={{ display: "flex", justifyContent: "center", paddingBottom: 24 }}>
        <RetryButton onRetry={reset} />
      </div>
    </div>
  );
}
