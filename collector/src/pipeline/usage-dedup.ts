import type { UsageRecord } from "@troupe/contract";
import type { UsageRecordRow } from "../store/usage-record-row.js";

/** A batch split against what is stored: the records to insert, and how many were dropped and why. */
export interface UsageDedup {
  /** Records whose id is not stored yet (the first copy of each, in batch order). */
  fresh: UsageRecordRow[];
  /**
   * With `restoreStored`: one copy of each record found stored with the same figures, to insert again
   * (the tables derived from the raw one may lack it, see UsageWriter). Empty otherwise.
   */
  restored: UsageRecordRow[];
  /** Copies identical to a stored record or to an earlier one in the batch (the restored ones included). */
  duplicates: number;
  /** Records reusing the id of a stored (or earlier) record with different figures: the first one wins. */
  conflicts: number;
}

/**
 * Splits a batch against the records already stored under its ids. Guarantees: at most one record
 * per (tenant, id) in `fresh` and `restored` together, none of those in `fresh` stored yet; a record
 * identical to the one that is kept (every field of the record; the time to the stored millisecond)
 * is a duplicate, any other a conflict. With `restoreStored`, the first copy of a batch record
 * identical to a stored one goes to `restored` (still counted as a duplicate).
 */
export function dedupeUsage(batch: readonly UsageRecordRow[], stored: readonly UsageRecord[], options: { restoreStored?: boolean } = {}): UsageDedup {
  const first = new Map<string, UsageRecord>();
  for (const record of stored) {
    const key = keyOf(record);
    if (!first.has(key)) first.set(key, record);
  }
  const fresh: UsageRecordRow[] = [];
  const restored: UsageRecordRow[] = [];
  /** Keys taken by a row of this batch (fresh or restored). */
  const taken = new Set<string>();
  let duplicates = 0;
  let conflicts = 0;
  for (const row of batch) {
    const key = keyOf(row);
    const kept = first.get(key);
    if (kept === undefined) {
      first.set(key, row);
      taken.add(key);
      fresh.push(row);
    } else if (!sameRecord(kept, row)) conflicts++;
    else {
      duplicates++;
      if (options.restoreStored && !taken.has(key)) {
        taken.add(key);
        restored.push(row);
      }
    }
  }
  return { fresh, restored, duplicates, conflicts };
}

function keyOf(r: Pick<UsageRecord, "tenant" | "id">): string {
  return `${r.tenant}\u0000${r.id}`;
}

function sameRecord(a: UsageRecord, b: UsageRecord): boolean {
  return (
    Math.floor(a.timeMs) === Math.floor(b.timeMs) &&
    a.inputTokens === b.inputTokens &&
    a.outputTokens === b.outputTokens &&
    a.cachedInputTokens === b.cachedInputTokens &&
    a.reasoningTokens === b.reasoningTokens &&
    a.costUsd === b.costUsd &&
    a.outcome === b.outcome &&
    a.usageExact === b.usageExact &&
    a.model === b.model &&
    a.responseModel === b.responseModel &&
    a.provider === b.provider &&
    a.agentType === b.agentType &&
    a.traceId === b.traceId &&
    a.spanId === b.spanId
  );
}
