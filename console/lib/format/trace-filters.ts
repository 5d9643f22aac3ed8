import { z } from "zod";

/** The trace list's filters as they appear in the URL (so a filtered view can be shared). */
export interface TraceFilters {
  q?: string;
  agentType?: string;
  status?: "ok" | "error";
  minDurationMs?: number;
  cursor?: string;
}

const schema = z.object({
  q: z.string().trim().max(200, "search text is at most 200 characters").optional(),
  agentType: z.string().trim().max(128, "agent type is at most 128 characters").optional(),
  status: z.enum(["ok", "error"], { error: 'status must be "ok" or "error"' }).optional(),
  minDurationMs: z.coerce.number({ error: "minimum duration must be a number of milliseconds" }).min(0, "minimum duration cannot be negative").max(86_400_000, "minimum duration is at most one day").optional(),
  cursor: z.string().max(1024, "cursor is too long").optional(),
});

type Raw = Record<string, string | string[] | undefined>;

/**
 * Reads the filters from URL search parameters. Empty values are absent; an invalid value is
 * dropped and reported in `problems` (one readable sentence per parameter) instead of failing.
 */
export function parseTraceFilters(raw: Raw): { filters: TraceFilters; problems: string[] } {
  const filters: TraceFilters = {};
  const problems: string[] = [];
  for (const key of ["q", "agentType", "status", "minDurationMs", "cursor"] as const) {
    const value = raw[key];
    const single = Array.isArray(value) ? value[0] : value;
    if (single === undefined || single.trim() === "") continue;
    const parsed = schema.shape[key].safeParse(single);
    if (parsed.success) {
      if (parsed.data !== undefined && parsed.data !== "") (filters as Record<string, unknown>)[key] = parsed.data;
    } else {
      problems.push(parsed.error.issues[0]?.message ?? `${key} is not valid`);
    }
  }
  return { filters, problems };
}

/** The URL query for a page of traces with these filters (empty values omitted). */
export function traceListQuery(filters: TraceFilters & { range?: string; tenant?: string }): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(filters)) if (v !== undefined && v !== "") q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : "";
}
