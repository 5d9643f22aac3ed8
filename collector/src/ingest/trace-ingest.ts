import { EVENT_ATTRIBUTE_ALLOW_LIST, RESOURCE_ATTRIBUTE_ALLOW_LIST, SPAN_ATTRIBUTE_ALLOW_LIST } from "@troupe/contract";
import { CollectorError } from "../errors.js";
import type { CollectorMetrics } from "../metrics/collector-metrics.js";
import type { SpanSink } from "../pipeline/ingest-pipeline.js";
import type { Principal } from "../tenants/principal.js";
import { decodeJsonTraces } from "./decode-json.js";
import { decodeProtobufTracesWire, type AttributeAllowLists } from "./decode-protobuf-wire.js";
import type { ExportRequest, OtlpFormat } from "./export-request.js";
import { NO_REJECTIONS, type IngestOutcome, type IngestRejection } from "./ingest-outcome.js";
import { DEFAULT_INGEST_LIMITS, type IngestLimits } from "./ingest-limits.js";
import { decodeJsonSpanBlock } from "./json-span-block.js";
import { KeyRateLimiter, type KeyRateLimit } from "./key-rate-limiter.js";
import type { OtlpTraceRequest } from "./otlp-traces.js";
import { decodeProtobufSpanBlock, type DirectSpanBlock } from "./protobuf-span-block.js";
import { releaseSpanBlockBuilder } from "./span-block-pool.js";
import { buildSpanRows, type SpanRowsResult } from "./span-rows.js";

const ALLOW: AttributeAllowLists = { span: SPAN_ATTRIBUTE_ALLOW_LIST, resource: RESOURCE_ATTRIBUTE_ALLOW_LIST, event: EVENT_ATTRIBUTE_ALLOW_LIST };

/** What trace ingest needs. */
export interface TraceIngestOptions {
  sink: SpanSink;
  metrics: CollectorMetrics;
  limits?: Partial<IngestLimits>;
  /** Per-key span rate; past it a request is refused `rate_limited` with a retry-after. Unset: no per-key limit. */
  rateLimit?: KeyRateLimit;
}

/** The counts of a request's spans that metrics record (a direct block's, or the rows'). */
type SpanCounts = Pick<SpanRowsResult, "droppedAttributes" | "truncatedAttributes">;

/**
 * Trace ingest, whatever the transport: an OTLP export request (JSON or protobuf) in, an outcome
 * out. Guarantees: `accepted` only once the accepted spans are durable in the sink, with the spans
 * refused one by one (tenant not allowed, too many attributes, ...) grouped by reason; `refused`
 * (nothing stored) for a malformed body (bad_request), too many spans or nesting too deep
 * (payload_too_large), a key over its span rate (rate_limited, with the seconds until its spans
 * would fit) or a full spool (overloaded, with a retry-after). Attributes outside the allow-lists
 * are dropped and long values cut, and counted. The common request is decoded straight into a span
 * block; anything else (or a sink that cannot take the block now) through rows, with the same result.
 */
export class TraceIngest {
  readonly #sink: SpanSink;
  readonly #metrics: CollectorMetrics;
  readonly #limits: IngestLimits;
  readonly #rateLimit: KeyRateLimit | undefined;
  readonly #limiter: KeyRateLimiter | undefined;

  constructor(options: TraceIngestOptions) {
    this.#sink = options.sink;
    this.#metrics = options.metrics;
    this.#limits = { ...DEFAULT_INGEST_LIMITS, ...options.limits };
    this.#rateLimit = options.rateLimit;
    // The bucket holds at least one full request, or a key could never send its largest.
    this.#limiter = options.rateLimit
      ? new KeyRateLimiter({ spansPerSecond: options.rateLimit.spansPerSecond, burstSpans: Math.max(options.rateLimit.burstSpans, this.#limits.maxSpansPerRequest) })
      : undefined;
  }

  /** Decodes, rate-limits and stores one export request; releases its body once done with it. */
  async ingest(request: ExportRequest): Promise<IngestOutcome> {
    const { principal, format } = request;
    const body = request.body.bytes;
    const limits = this.#limits;
    const metrics = this.#metrics;
    try {
      // The common request goes straight into a span block; the rest through rows.
      const direct: DirectSpanBlock | undefined = !this.#sink.acceptBlock
        ? undefined
        : format === "protobuf"
          ? decodeProtobufSpanBlock(body, principal, limits, Date.now(), this.#sink.takesForwardCopies === true)
          : decodeJsonSpanBlock(body, principal, limits);
      let acceptedDirect = false;
      let decoded: OtlpTraceRequest | undefined;
      try {
        decoded = direct ? undefined : this.#decodeGeneral(format, body);
        this.#admit(principal, direct?.spanCount ?? decoded!.spanCount);
        acceptedDirect = direct !== undefined && (await this.#sink.acceptBlock!(direct.builder, direct.forwardCopy));
      } finally {
        if (direct) releaseSpanBlockBuilder(direct.builder);
      }
      if (direct && acceptedDirect) {
        record(metrics, direct);
        metrics.spansDecoded.inc(["direct"], direct.spanCount);
        return { kind: "accepted", accepted: direct.spanCount, rejections: NO_REJECTIONS };
      }
      // No block, or a sink that could not take it now: the rows go through `accept`.
      const rows = buildSpanRows(decoded ?? this.#decodeGeneral(format, body), principal, limits);
      await this.#sink.accept(rows.rows);
      metrics.spansDecoded.inc(["general"], rows.rows.length);
      for (const [reason, count] of rows.rejected) metrics.spansRejected.inc([reason], count);
      record(metrics, rows);
      return { kind: "accepted", accepted: rows.rows.length, rejections: rejectionsOf(rows) };
    } catch (err) {
      if (err instanceof CollectorError) return { kind: "refused", error: err };
      throw err;
    } finally {
      // Nothing built from the body refers to its bytes (decoders copy what they keep): its buffer is reused after.
      request.body.release();
    }
  }

  #decodeGeneral(format: OtlpFormat, body: Buffer): OtlpTraceRequest {
    return format === "protobuf" ? decodeProtobufTracesWire(body, this.#limits, ALLOW) : decodeJsonTraces(body, this.#limits);
  }

  /** Takes `spans` from the key's bucket, or throws rate_limited. */
  #admit(principal: Principal, spans: number): void {
    const decision = this.#limiter?.take(principal.keyId, spans);
    if (decision && !decision.ok) {
      throw new CollectorError("rate_limited", `this key is over its ingest rate of ${this.#rateLimit?.spansPerSecond} spans/s; retry later`, {
        retryAfterS: decision.retryAfterS,
      });
    }
  }
}

function record(metrics: CollectorMetrics, counts: SpanCounts): void {
  metrics.attributesDropped.inc(["span"], counts.droppedAttributes.span);
  metrics.attributesDropped.inc(["resource"], counts.droppedAttributes.resource);
  metrics.attributesDropped.inc(["event"], counts.droppedAttributes.event);
  metrics.attributesDropped.inc(["link"], counts.droppedAttributes.link);
  metrics.attributesTruncated.inc([], counts.truncatedAttributes);
}

function rejectionsOf(rows: SpanRowsResult): readonly IngestRejection[] {
  if (rows.rejected.size === 0) return NO_REJECTIONS;
  const rejections: IngestRejection[] = [];
  for (const [reason, count] of rows.rejected) rejections.push({ reason, count, example: rows.rejectExamples.get(reason) ?? reason });
  return rejections;
}
