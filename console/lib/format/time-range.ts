// The console's time ranges: named relative ranges for live views, explicit dates for reports.
import { parseCustomRange } from "./custom-range";

/** The relative ranges offered by the time-range picker. */
export const RANGES = [
  { key: "15m", label: "Last 15 minutes", ms: 15 * 60_000 },
  { key: "1h", label: "Last hour", ms: 60 * 60_000 },
  { key: "6h", label: "Last 6 hours", ms: 6 * 60 * 60_000 },
  { key: "24h", label: "Last 24 hours", ms: 24 * 60 * 60_000 },
  { key: "7d", label: "Last 7 days", ms: 7 * 24 * 60 * 60_000 },
  { key: "30d", label: "Last 30 days", ms: 30 * 24 * 60 * 60_000 },
] as const;

/** A range key. */
export type RangeKey = (typeof RANGES)[number]["key"];

/** A resolved range: ISO bounds, `from` inclusive, `to` exclusive. */
export interface ResolvedRange {
  /** A RangeKey, or a custom range's ISO interval (custom-range.ts): what the `range` URL parameter holds. */
  key: RangeKey | (string & {});
  label: string;
  from: string;
  to: string;
}

/**
 * Resolves a `range` URL parameter (a preset key or a custom range's interval; unknown values fall
 * back to `fallback`) against `nowMs`.
 */
export function resolveRange(param: string | undefined, fallback: RangeKey = "1h", nowMs = Date.now()): ResolvedRange {
  const custom = parseCustomRange(param);
  if (custom) return custom;
  const found = RANGES.find((r) => r.key === param) ?? RANGES.find((r) => r.key === fallback)!;
  // Round `to` up to the next minute so that repeated renders within a minute ask the same question.
  const to = Math.ceil(nowMs / 60_000) * 60_000;
  return { key: found.key, label: found.label, from: new Date(to - found.ms).toISOString(), to: new Date(to).toISOString() };
}

/** A yyyy-mm-dd date parameter as the ISO start of that UTC day, or null when it is not one. */
export function parseDay(param: string | undefined): string | null {
  if (!param || !/^\d{4}-\d{2}-\d{2}$/.test(param)) return null;
  const d = new Date(`${param}T00:00:00.000Z`);
  return Number.isNaN(d.getTime()) || d.toISOString().slice(0, 10) !== param ? null : d.toISOString();
}

/** The yyyy-mm-dd of an epoch ms (UTC). */
export function dayOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}
