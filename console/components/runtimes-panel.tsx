// The operator's view of which runtimes follow a tenant's settings and whether each has applied the
// current version (server component).
import Link from "next/link";
import type { Loaded } from "../lib/api/load";
import type { TenantRuntimesResponse } from "../lib/api/types";
import { runtimeIsCurrent, shortId } from "../lib/format/budget-alerts";
import { formatRelative } from "../lib/format/format";
import { Badge, Card, EmptyState, ErrorState } from "./ui";

/** Runtimes that checked in for the tenant's settings in the last 24 h, up to date or behind. */
export function RuntimesPanel({ runtimes, nowMs }: { runtimes: Loaded<TenantRuntimesResponse>; nowMs: number }) {
  return (
    <Card
      title="Runtimes"
      description={runtimes.ok ? <>Following this tenant&apos;s settings, seen in the last 24 h · current version <span className="mono">{runtimes.data.settingsVersion}</span></> : "Following this tenant's settings"}
      labelledBy="runtimes-title"
      flush
    >
      {!runtimes.ok ? (
        <ErrorState title="Could not load the runtimes" message={runtimes.message} />
      ) : runtimes.data.runtimes.length === 0 ? (
        <div data-testid="runtimes-empty">
          <EmptyState title="No runtime has checked in" icon="⇄">
            A runtime follows this tenant when it starts with <span className="mono">followControlPlane</span> and a service key (or this
            tenant&apos;s ingest key): it reads these settings from the collector, applies changes within seconds and checks in at least every
            30 s. See <Link href="/help/control-plane">Control plane</Link>.
          </EmptyState>
        </div>
      ) : (
        <div className="table-wrap">
          <table className="data" data-testid="runtimes-table">
            <caption className="visually-hidden">Runtimes following this tenant</caption>
            <thead>
              <tr>
                <th scope="col">Runtime</th>
                <th scope="col">State</th>
                <th scope="col">Applied version</th>
                <th scope="col">Last check-in</th>
              </tr>
            </thead>
            <tbody>
              {runtimes.data.runtimes.map((r) => {
                const current = runtimeIsCurrent(r, runtimes.data.settingsVersion);
                return (
                  <tr key={r.runtimeId} data-runtime-id={r.runtimeId}>
                    <td>
                      {r.name || "(unnamed)"}
                      <span className="cell-sub mono" title={r.runtimeId}>{shortId(r.runtimeId)}</span>
                    </td>
                    <td>
                      <Badge tone={current ? "ok" : "warn"} title={current ? "Has applied the current settings" : "Has not applied the current settings yet"}>
                        {current ? "up to date" : "behind"}
                      </Badge>
                    </td>
                    <td>
                      <span className="mono">{r.appliedVersion === 0 ? "none yet" : r.appliedVersion}</span>
                      <span className="cell-sub">{current ? "the current version" : <>current: <span className="mono">{runtimes.data.settingsVersion}</span></>}</span>
                    </td>
                    <td>
                      <time dateTime={r.lastSeenAt} title={r.lastSeenAt}>{formatRelative(r.lastSeenAt, nowMs)}</time>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </Card>
  );
}
