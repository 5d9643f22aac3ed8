import type { UsageRecord } from "@troupe/contract";
import type { UsageRecordRow } from "./usage-record-row.js";

/** Which records a lookup asks about: a tenant's record id, near the time the record gives. */
export type UsageKey = Pick<UsageRecord, "tenant" | "id" | "timeMs">;

/**
 * Where accepted usage records are stored (the `usage_records` table). Guarantees: every query binds
 * the tenant as a parameter; `insertUsage` resolves only once the rows are durable, and inserting
 * the same rows again with the same `dedupToken` writes nothing.
 */
export interface UsageStore {
  /**
   * The stored records (times in whole milliseconds) with the tenant and id of one of `keys` and a
   * time on the key's UTC day or the day either side: a record's time is part of the record, so
   * every copy of it lies there, and the lookup reads three days of the tenant instead of all of
   * them. A record may come back more than once (copies not yet merged).
   */
  findStored(keys: readonly UsageKey[]): Promise<UsageRecord[]>;
  /** Inserts `rows`; `blocks`, when given, are the same rows as usage blocks (a spool's), inserted as they are instead of encoded again. */
  insertUsage(rows: readonly UsageRecordRow[], dedupToken: string, blocks?: readonly Buffer[]): Promise<void>;
  /** Resolves when the store answers a trivial query; rejects otherwise. */
  ping(): Promise<void>;
}
