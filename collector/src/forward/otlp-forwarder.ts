import type { CollectorMetrics } from "../metrics/collector-metrics.js";
import type { SpanBlock } from "../store/span-block.js";
import { ForwardDestination, type ForwardDestinationOptions } from "./forward-destination.js";
import { IntervalLog } from "./interval-log.js";

/** How the forwarder reports what goes wrong (a destination down, rejecting, partially rejecting). */
export interface OtlpForwarderOptions {
  /** One line per event kind and destination per `logIntervalMs`; default: stderr. */
  log?: (line: string) => void;
  /** Default 60 s. */
  logIntervalMs?: number;
}

/**
 * Forwards accepted, filtered (metadata-only) spans to existing APMs over OTLP/HTTP: every span
 * block accepted goes to each destination (ForwardDestination: its own bounded queue, senders and
 * retries). Guarantees: `enqueue` never blocks and never throws, so forwarding never slows or fails
 * ingest; blocks are shared, not copied, between destinations; a slow or dead destination delays
 * no other; every span a destination does not get is counted by reason in /metrics.
 */
export class OtlpForwarder {
  readonly #destinations: ForwardDestination[];
  readonly #log: IntervalLog;

  constructor(destinations: readonly ForwardDestinationOptions[], metrics: CollectorMetrics, options: OtlpForwarderOptions = {}) {
    const names = new Set(destinations.map((d) => d.name));
    if (names.size !== destinations.length) throw new Error(`forwarding destinations need distinct names (got ${destinations.map((d) => d.name).join(", ")})`);
    const write = options.log ?? ((line: string) => void process.stderr.write(`troupe collector: ${line}\n`));
    this.#log = new IntervalLog(write, options.logIntervalMs ?? 60_000);
    this.#destinations = destinations.map((d) => new ForwardDestination(d, metrics.forwardDestination(d.name), this.#log));
    this.takesForwardCopies = this.#destinations.some((d) => d.takesForwardCopies);
    metrics.bindForwardGauges(() => this.#destinations.map((d) => d.gauges()));
  }

  /** Whether some destination sends protobuf, and so takes forward copies (ProtobufForwardCopy) made at ingest. */
  readonly takesForwardCopies: boolean;

  /**
   * Hands an accepted span block to every destination, with its forward copy when ingest made one
   * (the destinations that send protobuf send it as it is). Never blocks; what a destination cannot
   * hold it drops and counts.
   */
  enqueue(block: SpanBlock, copy?: Buffer): void {
    const payloads = Buffer.isBuffer(block.payload) ? [block.payload] : block.payload;
    for (const d of this.#destinations) d.enqueue(payloads, block.rowCount, copy);
  }

  /** Starts every destination's senders (idempotent). */
  start(): void {
    for (const d of this.#destinations) d.start();
  }

  /** Sends what is held for up to `timeoutMs`, then stops; the rest is dropped and counted (shutdown). */
  async stop(timeoutMs: number): Promise<void> {
    await Promise.all(this.#destinations.map((d) => d.stop(timeoutMs)));
    this.#log.flush();
  }
}
