import { CollectorError } from "../errors.js";
import type { CollectorMetrics } from "../metrics/collector-metrics.js";
import type { UsageSink } from "../pipeline/usage-pipeline.js";
import { decodeJsonLogs } from "./decode-json-logs.js";
import { decodeProtobufLogsWire } from "./decode-protobuf-logs.js";
import type { ExportRequest } from "./export-request.js";
import { NO_REJECTIONS, type IngestOutcome } from "./ingest-outcome.js";
import { DEFAULT_INGEST_LIMITS, type IngestLimits } from "./ingest-limits.js";
import type { OtlpLogsRequest } from "./otlp-logs.js";
import { USAGE_RECORD_ATTRIBUTES, USAGE_RESOURCE_ATTRIBUTES, buildUsageRows } from "./usage-rows.js";

const ALLOW = { record: USAGE_RECORD_ATTRIBUTES, resource: USAGE_RESOURCE_ATTRIBUTES };

/** What usage ingest needs. */
export interface UsageIngestOptions {
  sink: UsageSink;
  metrics: CollectorMetrics;
  /** A tenant's retention in days (records are stamped with it; older records are refused). */
  retentionDaysOf: (tenantId: string) => Promise<number> | number;
  limits?: Partial<IngestLimits>;
  /** The clock, in ms since the epoch (tests). Default Date.now. */
  now?: () => number;
}

/**
 * Usage-record ingest, whatever the transport: an OTLP logs export request (JSON or protobuf) in,
 * an outcome out. Guarantees: `accepted` only once the accepted records are durable in the sink,
 * with the log records refused one by one grouped by reason and, for invalid records, attribute;
 * `refused` (nothing stored) for a malformed body (bad_request), too many records
 * (payload_too_large), a tenant whose retention cannot be read (store_unavailable) or a full spool
 * (overloaded), the last two with a retry-after. There is no per-key rate limit: usage records are
 * billing data, one per LLM call, and the exporter's retries would only delay them.
 */
export class UsageIngest {
  readonly #sink: UsageSink;
  readonly #metrics: CollectorMetrics;
  readonly #limits: IngestLimits;
  readonly #now: () => number;
  readonly #retentionDaysOf: (tenantId: string) => Promise<number>;

  constructor(options: UsageIngestOptions) {
    this.#sink = options.sink;
    this.#metrics = options.metrics;
    this.#limits = { ...DEFAULT_INGEST_LIMITS, ...options.limits };
    this.#now = options.now ?? Date.now;
    const retentionDaysOf = options.retentionDaysOf;
    this.#retentionDaysOf = async (tenantId) => {
      try {
        return await retentionDaysOf(tenantId);
      } catch (err) {
        throw new CollectorError("store_unavailable", "cannot read the tenant's retention; retry later", { cause: err, retryAfterS: 5 });
      }
    };
  }

  /** Decodes and stores one export request; releases its body as soon as it is decoded. */
  async ingest(request: ExportRequest): Promise<IngestOutcome> {
    const limits = this.#limits;
    try {
      let decoded: OtlpLogsRequest;
      try {
        decoded = request.format === "protobuf" ? decodeProtobufLogsWire(request.body.bytes, limits, ALLOW) : decodeJsonLogs(request.body.bytes, limits);
      } finally {
        // Decoders copy what they keep: the body's buffer can serve another request now.
        request.body.release();
      }
      const result = await buildUsageRows(decoded, request.principal, { limits, nowMs: this.#now(), retentionDaysOf: this.#retentionDaysOf });
      await this.#sink.accept(result.rows);
      for (const [reason, count] of result.rejected) this.#metrics.usageRejected.inc([reason], count);
      return { kind: "accepted", accepted: result.rows.length, rejections: result.rejectGroups.size === 0 ? NO_REJECTIONS : [...result.rejectGroups.values()] };
    } catch (err) {
      if (err instanceof CollectorError) return { kind: "refused", error: err };
      throw err;
    }
  }
}
