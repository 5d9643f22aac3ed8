import { createHash } from "node:crypto";
import type { CollectorMetrics } from "../metrics/collector-metrics.js";
import type { UsageRecordRow } from "../store/usage-record-row.js";
import type { UsageStore } from "../store/usage-store.js";
import type { Spool, SpoolBatchRead } from "./spool.js";
import { SpoolWriter, type SpoolWriterOptions } from "./spool-writer.js";
import { dedupeUsage } from "./usage-dedup.js";

/**
 * Defaults: large inserts, stored within a second. Longer than the span writer's quarter second:
 * each batch's lookup reads the tenant's record ids of three days whatever the batch's size, so
 * fewer, larger batches cost less per record (and usage reports need no sub-second freshness).
 */
export const DEFAULT_USAGE_WRITER_OPTIONS: SpoolWriterOptions = {
  maxBatchRows: 50_000,
  maxBatchDelayMs: 1_000,
  initialRetryDelayMs: 100,
  maxRetryDelayMs: 5_000,
};

/**
 * Moves spooled usage records into the store, one batch at a time, in spool order, so that each
 * record id is stored once per tenant. Guarantees, besides the SpoolWriter's (nothing leaves the
 * spool before it is stored; retries and replays after a crash offer the same batch again): before
 * each insert attempt the batch's ids are looked up in the store, on the day of each record's time and
 * the days either side (the table's sort key; a runtime re-sends a record with the time it first had,
 * so a copy with the same id and a time two or more days away is not recognised); records already stored, and
 * repeats within the batch, are not inserted — identical copies counted as duplicates, copies with
 * other figures as conflicts (the first stored wins). The insert's deduplication token is the batch
 * id and a digest of the records inserted, so a retry of the same insert writes nothing, and a
 * replay that finds part of its batch stored inserts the rest under a token of its own.
 *
 * An insert is not atomic across the tables that materialized views fill from the raw one (recent
 * usage, marks): an attempt that failed, or that a crash cut short, may have stored the raw rows
 * and not the others. The lookup, which reads the raw table, would then take those records for
 * stored, and the derived tables would miss them for good. So a batch tried before (a retry, or a
 * batch with records a previous run left in the spool) inserts again one copy of each record it
 * finds stored with the same figures: every table reads with FINAL or keeps a mark, so a second
 * copy changes no figure, and the one a table lacked is there.
 *
 * After each stored batch, `onStored` is told the tenants of the records inserted (none when all
 * were copies).
 */
export class UsageWriter extends SpoolWriter<UsageRecordRow> {
  constructor(
    spool: Spool<UsageRecordRow>,
    store: UsageStore,
    metrics: CollectorMetrics,
    options: Partial<SpoolWriterOptions> = {},
    onStored?: (tenantIds: ReadonlySet<string>) => void,
  ) {
    const insert = async (next: SpoolBatchRead<UsageRecordRow>, attempt: number): Promise<void> => {
      const rows = next.rows;
      const restoreStored = attempt > 1 || next.recovered;
      const { fresh, restored, duplicates, conflicts } = dedupeUsage(rows, await store.findStored(rows), { restoreStored });
      const inserted = restored.length === 0 ? fresh : [...fresh, ...restored];
      // Every record of the batch inserted (the usual case): its spooled blocks go as they are.
      const blocks = inserted === fresh && fresh.length === rows.length ? next.encoded : undefined;
      await store.insertUsage(inserted, dedupToken(next.batchId, inserted), blocks);
      metrics.usageInserted.inc([], fresh.length);
      metrics.usageRestored.inc([], restored.length);
      metrics.usageDuplicates.inc([], duplicates);
      metrics.usageConflicts.inc([], conflicts);
      if (onStored && inserted.length > 0) {
        try {
          onStored(new Set(inserted.map((r) => r.tenant)));
        } catch {
          // A listener's failure must not make a stored batch look failed (it would be inserted again).
        }
      }
    };
    super(spool, insert, () => metrics.usageInsertFailures.inc(), { ...DEFAULT_USAGE_WRITER_OPTIONS, ...options });
  }
}

function dedupToken(batchId: string, rows: readonly UsageRecordRow[]): string {
  const keys = new Array<string>(rows.length);
  for (let i = 0; i < rows.length; i++) keys[i] = `${rows[i]!.tenant}\u0000${rows[i]!.id}`;
  const digest = createHash("sha256").update(keys.join("\n")).digest("hex");
  return `${batchId}:${rows.length}:${digest.slice(0, 32)}`;
}
