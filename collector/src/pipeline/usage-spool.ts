import { decodeUsageBlocks, encodeUsageBlock } from "../store/usage-block.js";
import type { UsageRecordRow } from "../store/usage-record-row.js";
import { Spool, type RowCodec, type SpoolOptions } from "./spool.js";

/**
 * Usage records are spooled as the Native blocks they are inserted as: a third of their JSON's bytes,
 * at under half its CPU (JSON was about a sixth of the main thread's time on usage ingest).
 */
const USAGE_ROW_CODEC: RowCodec<UsageRecordRow> = { encode: encodeUsageBlock, decode: decodeUsageBlocks };

/**
 * Records kept in memory for the writer (rows and their blocks), counted in spooled bytes: a quarter
 * of the spool's default, so that they take about the memory they took when spooled as JSON.
 */
const USAGE_SPOOL_MEMORY_BYTES = 16 * 1024 * 1024;

/** What a usage spool is opened with: a spool's options but its encoding, which is the usage block's. */
export type UsageSpoolOptions = Omit<SpoolOptions<UsageRecordRow>, "rowCodec">;

/**
 * Opens (creating when absent) a usage-record spool: records in usage blocks, and records an earlier
 * collector spooled as JSON read as they are.
 */
export function openUsageSpool(options: UsageSpoolOptions): Promise<Spool<UsageRecordRow>> {
  return Spool.open<UsageRecordRow>({ memoryBytes: USAGE_SPOOL_MEMORY_BYTES, ...options, rowCodec: USAGE_ROW_CODEC });
}
