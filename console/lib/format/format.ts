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

/** US dollars: four decimals below one dollar ("$0.0126"), cents otherwise ("$12.34"). */
export function formatUsd(usd: number): string {
  if (usd === 0) return "$0.00";
  if (Math.abs(usd) < 1) return `$${usd.toFixed(4)}`;
  return `$${usd.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
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

/** An ISO time as "Jan 02" (UTC). */
export function formatDay(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleDateString("en-US", { month: "short", day: "2-digit", timeZone: "UTC" });
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
