import type { CollectorError } from "../errors.js";

/** Items (spans, usage records) refused for one reason: how many, and the first one's message. */
export interface IngestRejection {
  /** Stable: also a metric label. */
  reason: string;
  count: number;
  example: string;
}

/** The request was taken: `accepted` items are durable, the `rejections` were refused one by one. */
export interface IngestAccepted {
  kind: "accepted";
  accepted: number;
  /** By reason, in order of first refusal; empty when every item was accepted. */
  rejections: readonly IngestRejection[];
}

/**
 * Nothing of the request was taken; `error` says why with its stable code: bad_request,
 * payload_too_large, rate_limited or overloaded/store_unavailable (the last three with the
 * Retry-After they call for).
 */
export interface IngestRefused {
  kind: "refused";
  error: CollectorError;
}

/**
 * What an ingest service made of one export request. Guarantees: `accepted` is answered only once
 * the accepted items are durable; `refused` means nothing was stored.
 */
export type IngestOutcome = IngestAccepted | IngestRefused;

/** The rejections of a request where every item was accepted (shared: nothing to allocate per request). */
export const NO_REJECTIONS: readonly IngestRejection[] = Object.freeze([]);

/**
 * The partial-success figures of an accepted outcome: how many items were refused and a message
 * naming each reason ("3 span(s) rejected: 2 tenant_mismatch (…); 1 too_many_events (…)");
 * undefined when none was.
 */
export function rejectionSummary(outcome: IngestAccepted, noun: string): { rejected: number; message: string } | undefined {
  if (outcome.rejections.length === 0) return undefined;
  let rejected = 0;
  const parts: string[] = [];
  for (const { reason, count, example } of outcome.rejections) {
    rejected += count;
    parts.push(`${count} ${reason} (${example})`);
  }
  return { rejected, message: `${rejected} ${noun} rejected: ${parts.join("; ")}` };
}
