import { SPAN_ATTRIBUTE_ALLOW_LIST } from "@troupe/contract";
import { attributeFilterParam, traceSearchQuery } from "@troupe/contract/query-api";
import type { z } from "zod";

const KEYS = ["q", "agentType", "status", "model", "attr", "minDurationMs", "maxDurationMs", "cursor"] as const;
type Key = (typeof KEYS)[number];

/**
 * The trace list's filters as they appear in the URL (so a filtered view can be shared): the
 * collector's trace search parameters, each as the contract parses it.
 */
export type TraceFilters = Partial<Pick<z.output<typeof traceSearchQuery>, Key>>;

/** How the page names each filter in a sentence. */
const LABELS: Record<Key, string> = {
  q: "search text",
  agentType: "agent type",
  status: "status",
  model: "model",
  attr: "attribute filter",
  minDurationMs: "minimum duration",
  maxDurationMs: "maximum duration",
  cursor: "cursor",
};

const ATTRIBUTE_FORM = "attribute filter must be key=value, e.g. gen_ai.request.model=gpt-4o";

/** A readable sentence for a value the contract refuses (its own messages are written for API callers). */
function problemOf(key: Key, value: string, contractMessage: string): string {
  switch (key) {
    case "status":
      return 'status must be "ok" or "error"';
    case "minDurationMs":
    case "maxDurationMs":
      return Number(value) < 0 ? `${LABELS[key]} cannot be negative` : `${LABELS[key]} must be a number of milliseconds`;
    default:
      return `${LABELS[key]} ${contractMessage}`;
  }
}

/**
 * An attribute filter's problem, or null when it may be sent. A key the collector does not keep is
 * sent anyway: the collector names it, and the page shows that refusal beside the form.
 */
function attributeProblem(text: string): string | null {
  const parsed = attributeFilterParam.safeParse(text);
  if (parsed.success) return null;
  const eq = text.indexOf("=");
  if (eq <= 0 || eq === text.length - 1) return ATTRIBUTE_FORM;
  if (!SPAN_ATTRIBUTE_ALLOW_LIST.has(text.slice(0, eq))) return null;
  return `${LABELS.attr}: ${parsed.error.issues[0]?.message ?? "is not valid"}`;
}

type Raw = Record<string, string | string[] | undefined>;

/**
 * Reads the filters from URL search parameters, checked with the collector's own parameter schema
 * (so the page never sends what the collector would refuse, bar an attribute key it names itself).
 * Values are trimmed and empty ones are absent; an invalid value is dropped and reported in
 * `problems` (one readable sentence per parameter) instead of failing. A maximum duration below the
 * minimum is dropped too.
 */
export function parseTraceFilters(raw: Raw): { filters: TraceFilters; problems: string[] } {
  const filters: TraceFilters = {};
  const problems: string[] = [];
  for (const key of KEYS) {
    const value = raw[key];
    const single = (Array.isArray(value) ? value[0] : value)?.trim();
    if (single === undefined || single === "") continue;
    if (key === "attr") {
      const problem = attributeProblem(single);
      if (problem === null) filters.attr = single;
      else problems.push(problem);
      continue;
    }
    const parsed = traceSearchQuery.shape[key].safeParse(single);
    if (parsed.success) (filters as Record<string, unknown>)[key] = parsed.data;
    else problems.push(problemOf(key, single, parsed.error.issues[0]?.message ?? "is not valid"));
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
export function traceListQuery(filters: TraceFilters & { range?: string; tenant?: string | undefined }): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(filters)) if (v !== undefined && v !== "") q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : "";
}
