import type { OtlpKeyValue } from "./otlp-traces.js";

/**
 * An OTLP logs export request after decoding and structural validation, the same for JSON and
 * protobuf bodies. Scopes are flattened (the collector does not keep them); bodies, severities and
 * flags are not kept either: the collector stores usage records, which have none.
 */
export interface OtlpLogsRequest {
  resourceLogs: OtlpResourceLogs[];
  /** Total log records in the request. */
  logRecordCount: number;
}

export interface OtlpResourceLogs {
  resourceAttributes: OtlpKeyValue[];
  /** Resource attributes a decoder skipped as of no use to usage records (not kept). */
  skippedResourceAttributes?: number;
  logRecords: OtlpLogRecord[];
}

export interface OtlpLogRecord {
  /** `time_unix_nano` as a decimal string (exact: it exceeds 2^53); "0" when unset. */
  timeUnixNano: string;
  /** `event_name` (LogRecord field 12); "" when unset. */
  eventName: string;
  /**
   * Lowercase hex of the trace id as sent; "" when unset. Not checked for length here: a usage
   * record with a bad trace id is refused alone, not with its whole request.
   */
  traceId: string;
  /** Lowercase hex of the span id as sent; "" when unset (length checked later, as traceId). */
  spanId: string;
  attributes: OtlpKeyValue[];
  /** Attributes a decoder skipped as of no use to usage records (counted towards the attribute bound). */
  skippedAttributes?: number;
}
