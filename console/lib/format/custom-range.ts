// Absolute time ranges ("from this minute to that one", UTC) beside the relative presets. Pure functions.

/** A resolved custom range (a ResolvedRange of time-range.ts): ISO bounds, `from` inclusive, `to` exclusive. */
export interface CustomRange {
  /** The ISO interval, as the `range` URL parameter holds it. */
  key: string;
  label: string;
  from: string;
  to: string;
}

/** The longest custom range accepted. */
export const MAX_CUSTOM_RANGE_MS = 90 * 86_400_000;

const EARLIEST_MS = Date.UTC(2000, 0, 1);
const LATEST_MS = Date.UTC(2100, 0, 1);
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2}))?(?:Z| ?UTC)?$/i;

/**
 * A UTC date and time typed as ISO-8601, "2026-03-01 14:30", "2026-03-01T14:30:05Z" or with " UTC",
 * as epoch ms; null for anything else, impossible dates (Feb 30) included, and years outside 2000-2099.
 */
export function parseUtcDateTime(text: string): number | null {
  const m = DATE_TIME.exec(text.trim());
  if (!m) return null;
  const [y, mo, d, h, mi, s] = m.slice(1).map((v) => Number(v ?? 0)) as [number, number, number, number, number, number];
  const ms = Date.UTC(y, mo - 1, d, h, mi, s);
  const back = new Date(ms);
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d || h > 23 || mi > 59 || s > 59) return null;
  return ms >= EARLIEST_MS && ms < LATEST_MS ? ms : null;
}

/** Epoch ms as "2026-03-01 14:30" (UTC; seconds only when not zero), the form the range inputs show. */
export function formatUtcDateTime(ms: number): string {
  const iso = new Date(ms).toISOString();
  return iso.slice(17, 19) === "00" ? `${iso.slice(0, 10)} ${iso.slice(11, 16)}` : `${iso.slice(0, 10)} ${iso.slice(11, 19)}`;
}

/** Why a custom range cannot be used ("" when it can): from before to, at most MAX_CUSTOM_RANGE_MS long. */
export function customRangeProblem(fromMs: number, toMs: number): string {
  if (fromMs >= toMs) return "the start must be before the end";
  if (toMs - fromMs > MAX_CUSTOM_RANGE_MS) return `a custom range spans at most ${MAX_CUSTOM_RANGE_MS / 86_400_000} days`;
  return "";
}

/** The `range` URL parameter of a custom range: an ISO-8601 interval, "2026-03-01T14:30Z/2026-03-01T16:00Z". */
export function customRangeKey(fromMs: number, toMs: number): string {
  const iso = (ms: number) => `${formatUtcDateTime(ms).replace(" ", "T")}Z`;
  return `${iso(fromMs)}/${iso(toMs)}`;
}

/**
 * A `range` parameter holding a custom range (see customRangeKey), resolved; null when it is not
 * one or fails customRangeProblem. Its key is the parameter itself, so links that keep `range`
 * keep the custom range.
 */
export function parseCustomRange(param: string | undefined): CustomRange | null {
  if (!param || param.length > 64) return null;
  const parts = param.split("/");
  if (parts.length !== 2) return null;
  const fromMs = parseUtcDateTime(parts[0]!);
  const toMs = parseUtcDateTime(parts[1]!);
  if (fromMs === null || toMs === null || customRangeProblem(fromMs, toMs) !== "") return null;
  const from = formatUtcDateTime(fromMs);
  const to = formatUtcDateTime(toMs);
  const sameDay = from.slice(0, 10) === to.slice(0, 10);
  return {
    key: param,
    label: `${from} – ${sameDay ? to.slice(11) : to} UTC`,
    from: new Date(fromMs).toISOString(),
    to: new Date(toMs).toISOString(),
  };
}
