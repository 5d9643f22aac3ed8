import type { UsageRecord } from "@troupe/contract";

/**
 * One usage record as the collector spools and stores it: the record exactly as validated against
 * the shared contract (its tenant decided by the ingest key), plus what the collector adds. Metadata
 * only, like every stored row.
 */
export interface UsageRecordRow extends UsageRecord {
  /** `service.name` of the sending resource ("unknown_service" when it named none). */
  readonly serviceName: string;
  /** The tenant's retention when the record was accepted (the table's TTL reads it). */
  readonly retentionDays: number;
}
