// Number, duration, money and time formatting shared by server and client components. Pure functions.

const intFmt = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
const compactFmt = new Intl.NumberFormat("en-US", { notation: "compact", maximumFractionDigits: 1 });

/** 12,345 */
export function formatInt(n: number): string {
  return intFmt.format(Math.round(n));
}

/** 12.3K; exact below 10,000. */
export function formatCompact(n: number): string {
  return Math.abs(n) < 10_000 ? formatInt(n) : compactFmt.format(n);
}

/** A duration in ms as "850 µs", "12.4 ms", "3.20 s" or "4m 05s". */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return "–";
  if (ms < 1) return `${Math.round(ms * 1000)} µs`;
  if (ms < 1000) return `${ms < 10 ? ms.toFixed(2) : ms < 100 ? ms.toFixed(1) : Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(2)} s`;
  const m = Math.floor(ms / 60_000);
  const s = Math.round((ms % 60_000) / 1000);
  return `${m}m ${String(s).padStart(2, "0")}s`;
}

/**
 * The console's one cost format, in US dollars: cents from one dollar up ("$12.34", "$1,234.50"),
 * up to four decimals below it, never fewer than two ("$0.50", "$0.0126"), "$0.00" for nothing and
 * "<$0.0001" for a cost too small to show (so that a non-zero cost never reads as zero).
 */
export function formatUsd(usd: number): string {
  if (!Number.isFinite(usd)) return "–";
  if (usd === 0) return "$0.00";
  const sign = usd < 0 ? "-" : "";
  const abs = Math.abs(usd);
  if (abs < 0.0001) return `${sign}<$0.0001`;
  const digits = abs < 1 ? 4 : 2;
  return `${sign}$${abs.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: digits })}`;
}

/** A 0-1 ratio as a percentage: "12.5%". */
export function formatPct(ratio: number): string {
  if (!Number.isFinite(ratio)) return "–";
  const pct = ratio * 100;
  return `${pct < 10 && pct !== 0 ? pct.toFixed(1) : Math.round(pct)}%`;
}

/** An ISO time as "2025-01-02 03:04:05 UTC" (stable across server and browser). */
export function formatDateTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${d.toISOString().slice(0, 19).replace("T", " ")} UTC`;
}

/** An ISO time as "03:04" (UTC), for chart axes. */
export function formatClock(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toISOString().slice(11, 16);
}

/** An ISO time as its UTC day, "2025-01-02" (ISO 8601, like every date the console shows). */
export function formatDay(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toISOString().slice(0, 10);
}

/**
 * A count with its noun, singular or plural as the count asks: "1 row", "2 rows", "1,204 errors",
 * "0 traces". `plural` defaults to the singular with an "s".
 */
export function formatCount(n: number, singular: string, plural = `${singular}s`): string {
  return `${formatInt(n)} ${Math.round(n) === 1 ? singular : plural}`;
}

/** How long ago an ISO time was, relative to `nowMs`: "just now", "42 s ago", "5 min ago", "3 h ago", "2 d ago". */
export function formatRelative(iso: string, nowMs: number): string {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  const s = Math.round((nowMs - t) / 1000);
  if (s < 5) return s < -5 ? "in the future" : "just now";
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86_400)} d ago`;
}
