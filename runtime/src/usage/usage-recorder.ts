import type { UsageRecord } from "@troupe/contract";

/**
 * Where the runtime hands the usage record of every LLM call attempt (one record per attempt,
 * whatever the trace's sampling). `record` never throws and never waits: it is called on the call's
 * path, which it must neither fail nor slow. What happens next (batching, export, retries, what is
 * dropped and how it is counted) is the implementation's to state.
 */
export interface UsageRecorder {
  record(record: UsageRecord): void;
}
