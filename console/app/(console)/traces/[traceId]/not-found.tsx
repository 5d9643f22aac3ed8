import Link from "next/link";
import { EmptyState } from "../../../../components/ui";

/** A trace id that is malformed, expired, or not this tenant's: never anyone else's data. */
export default function TraceNotFound() {
  return (
    <div className="card" data-testid="trace-not-found">
      <EmptyState title="Trace not found" icon="?">
        No trace with this id exists for your tenant. It may have passed its retention period, or the id may be mistyped.
      </EmptyState>
      <div style={{ display: "flex", justifyContent: "center", paddingBottom: 24 }}>
        <Link className="btn" href="/traces">Back to traces</Link>
      </div>
    </div>
  );
}
