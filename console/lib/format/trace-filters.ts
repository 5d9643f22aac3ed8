import { z } from "zod";

/** The trace list's filters as they appear in the URL (so a filtered view can be shared). */
export interface TraceFilters {
  q?: string;
  agentType?: string;
  status?: "ok" | "error";
  /** A model name (response model, else request model) that one of the trace's spans has. */
  model?: string;
  /** `key=value`: an allow-listed span attribute with exactly this text (the collector names a key it does not keep). */
  attr?: string;
  minDurationMs?: number;
  maxDurationMs?: number;
  cursor?: string;
}

const durationMs = (which: string) =>
  z.coerce.number({ error: `${which} duration must be a number of milliseconds` }).min(0, `${which} duration cannot be negative`).max(86_400_000, `${which} duration is at most one day`);

const schema = z.object({
  q: z.string().trim().max(200, "search text is at most 200 characters").optional(),
  agentType: z.string().trim().max(128, "agent type is at most 128 characters").optional(),
  status: z.enum(["ok", "error"], { error: 'status must be "ok" or "error"' }).optional(),
  model: z.string().trim().max(200, "model is at most 200 characters").optional(),
  attr: z.string().trim().max(400, "attribute filter is at most 400 characters").regex(/^[^=\s]+=.+$/s, "attribute filter must be key=value, e.g. gen_ai.request.model=gpt-4o").optional(),
  minDurationMs: durationMs("minimum").optional(),
  maxDurationMs: durationMs("maximum").optional(),
  cursor: z.string().max(1024, "cursor is too long").optional(),
});

const KEYS = ["q", "agentType", "status", "model", "attr", "minDurationMs", "maxDurationMs", "cursor"] as const;

type Raw = Record<string, string | string[] | undefined>;

/**
 * Reads the filters from URL search parameters. Empty values are absent; an invalid value is
 * dropped and reported in `problems` (one readable sentence per parameter) instead of failing. A
 * maximum duration below the minimum is dropped too.
 */
export function parseTraceFilters(raw: Raw): { filters: TraceFilters; problems: string[] } {
  const filters: TraceFilters = {};
  const problems: string[] = [];
  for (const key of KEYS) {
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
  if (filters.minDurationMs !== undefined && filters.maxDurationMs !== undefined && filters.maxDurationMs < filters.minDurationMs) {
    delete filters.maxDurationMs;
    problems.push("maximum duration cannot be below the minimum");
  }
  return { filters, problems };
}

/** Whether any filter narrows the list (the cursor does not). */
export function isFiltered(filters: TraceFilters): boolean {
  return KEYS.some((k) => k !== "cursor" && filters[k] !== undefined);
}

/** The URL query for a page of traces with these filters (empty values omitted). */
export function traceListQuery(filters: TraceFilters & { range?: string; tenant?: string }): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(filters)) if (v !== undefined && v !== "") q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : "";
}
