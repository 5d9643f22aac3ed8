// Presentational building blocks shared by every page (server-safe: no hooks, no browser APIs; the
// retry button is a client component of its own).
import type { ReactNode } from "react";
import { RetryButton } from "./retry-button";

/** A titled page header with an optional toolbar on the right. */
export function PageHeader({ title, description, children }: { title: string; description?: ReactNode; children?: ReactNode }) {
  return (
    <div className="page-header">
      <div>
        <h1>{title}</h1>
        {description ? <p>{description}</p> : null}
      </div>
      {children ? <div className="toolbar">{children}</div> : null}
    </div>
  );
}

/** A card with an optional header. */
export function Card({ title, description, actions, flush, children, labelledBy }: {
  title?: ReactNode;
  description?: ReactNode;
  actions?: ReactNode;
  flush?: boolean;
  labelledBy?: string;
  children: ReactNode;
}) {
  return (
    <section className="card" aria-labelledby={labelledBy}>
      {title ? (
        <div className="card-header">
          <div>
            <h2 id={labelledBy}>{title}</h2>
            {description ? <p>{description}</p> : null}
          </div>
          {actions}
        </div>
      ) : null}
      <div className={flush ? "card-body flush" : "card-body"}>{children}</div>
    </section>
  );
}

/** A single headline figure. */
export function StatCard({ label, value, sub, testId }: { label: string; value: ReactNode; sub?: ReactNode; testId?: string }) {
  return (
    <div className="card stat" data-testid={testId}>
      <div className="stat-label">{label}</div>
      <div className="stat-value">{value}</div>
      {sub ? <div className="stat-sub">{sub}</div> : null}
    </div>
  );
}

/** Tone of a badge. */
export type BadgeTone = "ok" | "err" | "warn" | "neutral" | "accent" | "sim";

/** A small pill label. */
export function Badge({ tone = "neutral", children, title }: { tone?: BadgeTone; children: ReactNode; title?: string }) {
  return (
    <span className={`badge badge-${tone}`} title={title}>
      {children}
    </span>
  );
}

/** What a list shows when it has nothing to show. */
export function EmptyState({ title, children, icon = "○" }: { title: string; children?: ReactNode; icon?: string }) {
  return (
    <div className="state" role="status">
      <div className="state-icon" aria-hidden="true">{icon}</div>
      <h3>{title}</h3>
      {children ? <p>{children}</p> : null}
    </div>
  );
}

/**
 * What a section shows when its data could not be loaded, with a "Try again" button that renders
 * the page again (`retry={false}` leaves it out).
 */
export function ErrorState({ title = "Could not load this data", message, retry = true }: { title?: string; message: string; retry?: boolean }) {
  return (
    <div className="state" role="alert" data-testid="error-state">
      <div className="state-icon" aria-hidden="true" style={{ color: "var(--err)" }}>!</div>
      <h3>{title}</h3>
      <p>{message}</p>
      {retry ? <RetryButton /> : null}
    </div>
  );
}

/** A usage meter against a limit (role="meter"); `ratio` null means no limit is set. */
export function Meter({ label, usedText, limitText, ratio }: { label: string; usedText: string; limitText: string; ratio: number | null }) {
  const pct = ratio === null ? 0 : Math.min(100, Math.max(0, ratio * 100));
  const tone = ratio === null ? "" : ratio >= 1 ? "over" : ratio >= 0.8 ? "near" : "";
  return (
    <div className="meter">
      <div className="meter-top">
        <span>{label}</span>
        <span className="mono">{usedText} / {limitText}</span>
      </div>
      <div
        className="meter-track"
        role="meter"
        aria-label={label}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={Math.round(pct)}
        aria-valuetext={ratio === null ? "no limit set" : `${Math.round(ratio * 100)}% used`}
      >
        <div className={`meter-fill ${tone}`} style={{ width: `${pct}%` }} />
      </div>
    </div>
  );
}

/** A placeholder block shown while data loads. */
export function Skeleton({ height = 16, width = "100%" }: { height?: number; width?: number | string }) {
  return <div className="skeleton" style={{ height, width }} aria-hidden="true" />;
}

/** The skeleton of a console page (header, four stat cards, two panels), shown while it renders on the server. */
export function PageSkeleton() {
  return (
    <div aria-busy="true" aria-live="polite" style={{ display: "flex", flexDirection: "column", gap: 20 }}>
      <span className="visually-hidden">Loading…</span>
      <Skeleton height={28} width={240} />
      <div className="grid grid-4">
        {[0, 1, 2, 3].map((i) => <div key={i} className="card stat"><Skeleton height={14} width={90} /><div style={{ height: 10 }} /><Skeleton height={26} width={120} /></div>)}
      </div>
      <div className="card card-body"><Skeleton height={220} /></div>
      <div className="card card-body"><Skeleton height={160} /></div>
    </div>
  );
}
