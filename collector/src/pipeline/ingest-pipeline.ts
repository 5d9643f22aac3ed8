import type { CollectorMetrics } from "../metrics/collector-metrics.js";
import { OtlpForwarder } from "../forward/otlp-forwarder.js";
import type { ForwardDestinationOptions } from "../forward/forward-destination.js";
import { SpanBlockBuilder, encodeSpanBlock, type SpanBlock } from "../store/span-block.js";
import type { SpanRow } from "../store/span-row.js";
import type { SpanStore } from "../store/span-store.js";
import { Spool, type SpoolOptions } from "./spool.js";
import { SpanWriter, type SpanWriterOptions } from "./span-writer.js";

/** Where accepted spans go. `accept` resolves only once the rows are durable (never lost after). */
export interface SpanSink {
  accept(rows: SpanRow[]): Promise<void>;
  /**
   * Present when the sink takes spans a decoder wrote straight into a span block: resolves true once
   * they are durable, false when it cannot take the block now (the caller then offers the rows).
   */
  acceptBlock?: (builder: SpanBlockBuilder, forwardCopy?: Buffer) => Promise<boolean>;
  /**
   * True when the sink forwards accepted spans as OTLP protobuf: a decoder that can then also copies
   * the request's kept bytes (ProtobufForwardCopy) and gives them to `acceptBlock` with the block.
   */
  readonly takesForwardCopies?: boolean;
}

/** Everything the pipeline needs. */
export interface IngestPipelineOptions {
  store: SpanStore;
  metrics: CollectorMetrics;
  spool: SpoolOptions;
  writer?: Partial<SpanWriterOptions>;
  /** Set to forward filtered spans to existing APMs: one entry per destination. */
  forward?: readonly ForwardDestinationOptions[];
}

/** What /readyz reports about the pipeline. */
export interface PipelineHealth {
  spoolBytes: number;
  spoolMaxBytes: number;
  spoolRecords: number;
  queueDepthSpans: number;
  /** The store's last insert error while inserts fail. */
  storeError: string | undefined;
}

/**
 * Accepted spans → durable spool (acknowledged) → batched store inserts, and optionally → an OTLP
 * forwarder. Guarantees: `accept` resolves after the rows are fsynced to the spool, rejects with
 * `overloaded` (Retry-After) when the spool is at its bound; the store sees every accepted row,
 * exactly-once per batch id, even across crashes; forwarding never delays `accept`.
 */
export class IngestPipeline implements SpanSink {
  readonly spool: Spool;
  readonly #writer: SpanWriter;
  readonly #forwarder: OtlpForwarder | undefined;
  readonly #metrics: CollectorMetrics;
  /**
   * The store's encoder when it can insert what it encoded: spans are then encoded once, when
   * accepted, and spooled as the block the writer inserts as it is (encoding and inserting cannot be
   * one call: the spool lies between them, and the writer joins several blocks into one insert).
   */
  readonly #finishBlock: ((builder: SpanBlockBuilder) => Promise<SpanBlock | undefined>) | undefined;

  private constructor(spool: Spool, writer: SpanWriter, forwarder: OtlpForwarder | undefined, metrics: CollectorMetrics, store: SpanStore) {
    this.spool = spool;
    this.#writer = writer;
    this.#forwarder = forwarder;
    this.#metrics = metrics;
    const finishBlock = store.finishBlock && store.insertEncodedSpans ? store.finishBlock.bind(store) : undefined;
    this.#finishBlock = finishBlock;
    // Blocks skip rows altogether: the forwarder takes the same block (it encodes OTLP from its bytes).
    if (finishBlock) {
      this.acceptBlock = async (builder, forwardCopy) => {
        if (builder.rowCount === 0) return true;
        const block = await finishBlock(builder);
        if (!block) return false;
        await this.spool.append(block);
        this.#metrics.spansAccepted.inc([], block.rowCount);
        this.#forwarder?.enqueue(block, forwardCopy);
        return true;
      };
    }
  }

  readonly acceptBlock?: (builder: SpanBlockBuilder, forwardCopy?: Buffer) => Promise<boolean>;

  get takesForwardCopies(): boolean {
    return this.#forwarder?.takesForwardCopies ?? false;
  }

  /** Opens the spool (replaying what a previous run left) and starts the writer and forwarder. */
  static async start(options: IngestPipelineOptions): Promise<IngestPipeline> {
    const spool = await Spool.open(options.spool);
    if (spool.corruptRecordsAtOpen > 0) options.metrics.spansDropped.inc(["spool_corrupt_record"], spool.corruptRecordsAtOpen);
    const writer = new SpanWriter(spool, options.store, options.metrics, options.writer);
    const forwarder = options.forward && options.forward.length > 0 ? new OtlpForwarder(options.forward, options.metrics) : undefined;
    const pipeline = new IngestPipeline(spool, writer, forwarder, options.metrics, options.store);
    options.metrics.bindGauges({
      queueDepthSpans: () => spool.rowCount(),
      spoolBytes: () => spool.bytes(),
      spoolRecords: () => spool.recordCount(),
    });
    writer.start();
    forwarder?.start();
    return pipeline;
  }

  async accept(rows: SpanRow[]): Promise<void> {
    if (rows.length === 0) return;
    // Spooled as a span block when the store encodes: the writer then inserts those bytes as they are.
    const block = this.#finishBlock ? await this.#finishBlock(SpanBlockBuilder.of(rows)) : undefined;
    await this.spool.append(block ?? rows);
    this.#metrics.spansAccepted.inc([], rows.length);
    // The forwarder takes span blocks; rows the store could not encode (it is down) are encoded for it here.
    if (this.#forwarder) this.#forwarder.enqueue(block ?? { payload: encodeSpanBlock(rows, () => 1), rowCount: rows.length });
  }

  health(): PipelineHealth {
    const err = this.#writer.lastError();
    return {
      spoolBytes: this.spool.bytes(),
      spoolMaxBytes: this.spool.maxBytes(),
      spoolRecords: this.spool.recordCount(),
      queueDepthSpans: this.spool.rowCount(),
      storeError: err === undefined ? undefined : err instanceof Error ? err.message : String(err),
    };
  }

  /**
   * Graceful stop: inserts what is spooled (up to `flushTimeoutMs`), forwards what is queued (same
   * bound), closes the spool. Anything not inserted stays spooled for the next start.
   */
  async close(flushTimeoutMs = 10_000): Promise<void> {
    await Promise.all([this.#writer.drainAndStop(flushTimeoutMs), this.#forwarder?.stop(flushTimeoutMs)]);
    await this.spool.close();
  }
}
