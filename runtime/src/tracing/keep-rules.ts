import type { SamplingKeptBy } from "@troupe/contract";

/**
 * The keep rules, as bits a pending trace collects while its spans run: any bit set when the trace is
 * decided keeps it whole, whatever its ratio. Collecting a bit is one `|=`, so the rules cost the hot
 * path a comparison per outcome attribute, status and span end. This one: a span's outcome was
 * `budget_rejected` (an LLM call refused by the tenant's budget).
 */
export const KEEP_BUDGET_REJECTED = 1;
/** A span's outcome was `rate_limited` (the runtime's message rate, or an LLM rate limit). */
export const KEEP_RATE_LIMITED = 2;
/** A span's outcome was `timeout` (a turn past its budget, or a caller that stopped waiting). */
export const KEEP_TIMEOUT = 4;
/** A span's status was ERROR. */
export const KEEP_ERROR = 8;
/** A span lasted at least `keepSlowerThanMs`. */
export const KEEP_SLOW = 16;

/** The keep bit an outcome (`troupe.turn.outcome`) sets; 0 for none. Other failures set KEEP_ERROR through their error status. */
export function keepBitOfOutcome(outcome: unknown): number {
  switch (outcome) {
    case "budget_rejected":
      return KEEP_BUDGET_REJECTED;
    case "rate_limited":
      return KEEP_RATE_LIMITED;
    case "timeout":
      return KEEP_TIMEOUT;
    default:
      return 0;
  }
}

/**
 * The `troupe.sampling.kept_by` of a trace kept by rule: when several rules fired, the most specific
 * (budget rejection, then rate limit, timeout, error, slow), so the console can tell a budget-rejected
 * trace from any failing one. Undefined when no rule fired.
 */
export function keptByOf(bits: number): SamplingKeptBy | undefined {
  if (bits === 0) return undefined;
  if (bits & KEEP_BUDGET_REJECTED) return "budget_rejected";
  if (bits & KEEP_RATE_LIMITED) return "rate_limited";
  if (bits & KEEP_TIMEOUT) return "timeout";
  if (bits & KEEP_ERROR) return "error";
  return "slow";
}
