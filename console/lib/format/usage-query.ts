import { usageGroupBySchema, type UsageGroupBy } from "@troupe/contract/query-api";
import { dayOf, parseDay } from "./time-range";

/** A usage report request as the console reads it from a URL. Days are UTC and both inclusive. */
export interface UsageQuery {
  fromDay: string;
  toDay: string;
  groupBy: UsageGroupBy;
  /** ISO bounds for the API: `from` inclusive, `to` exclusive (the day after `toDay`). */
  from: string;
  to: string;
}

/**
 * Reads `from`, `to` (yyyy-mm-dd) and `groupBy` from URL parameters. Missing values default to the
 * last 7 days by day; malformed ones yield `error` naming the parameter.
 */
export function parseUsageQuery(raw: Record<string, string | string[] | undefined>, nowMs = Date.now()): { query: UsageQuery; error: string | null } {
  const one = (k: string) => (Array.isArray(raw[k]) ? raw[k]![0] : (raw[k] as string | undefined)) || undefined;
  const defaults = { fromDay: dayOf(nowMs - 6 * 86_400_000), toDay: dayOf(nowMs) };
  let error: string | null = null;
  let fromDay = defaults.fromDay;
  let toDay = defaults.toDay;
  let groupBy: UsageGroupBy = "day";
  const f = one("from");
  const t = one("to");
  const g = one("groupBy");
  if (f) {
    if (parseDay(f)) fromDay = f;
    else error = `"from" must be a date as yyyy-mm-dd; got "${f}"`;
  }
  if (t) {
    if (parseDay(t)) toDay = t;
    else error = `"to" must be a date as yyyy-mm-dd; got "${t}"`;
  }
  if (g) {
    const parsed = usageGroupBySchema.safeParse(g);
    if (parsed.success) groupBy = parsed.data;
    else error = `"groupBy" must be one of day, hour, model, agent; got "${g}"`;
  }
  if (fromDay > toDay) {
    error = `"from" (${fromDay}) is after "to" (${toDay})`;
    [fromDay, toDay] = [toDay, fromDay];
  }
  const from = parseDay(fromDay)!;
  const to = new Date(new Date(parseDay(toDay)!).getTime() + 86_400_000).toISOString();
  return { query: { fromDay, toDay, groupBy, from, to }, error };
}
