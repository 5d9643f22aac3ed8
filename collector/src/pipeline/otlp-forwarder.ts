import type { CollectorMetrics } from "../metrics/collector-metrics.js";
import { otlpTraceRequestFromRows, type OtlpWireFormat } from "./otlp-encode.js";
import type { SpanRow } from "../store/span-row.js";

/** Where and how filtered spans are forwarded. */
export interface OtlpForwarderOptions {
  /** OTLP/HTTP traces URL; a bare origin gets "/v1/traces" appended (like OTEL_EXPORTER_OTLP_ENDPOINT). */
  endpoint: string;
  headers?: Record<string, string>;
  format?: OtlpWireFormat;
  /** Bound on spans waiting; beyond, new spans are dropped and counted (queue_full). */
  maxQueueSpans?: number;
  maxBatchSpans?: number;
  timeoutMs?: number;
  /** Attempts per batch before it is dropped and counted (failed). */
  maxAttempts?: number;
  initialRetryDelayMs?: number;
  maxRetryDelayMs?: number;
  /** For tests; defaults to the global fetch. */
  fetch?: typeof fetch;
}

/** The URL spans are posted to for a configured endpoint. */
export function forwardUrl(endpoint: string): string {
  const url = new URL(endpoint);
  if (url.pathname === "" || url.pathname === "/") url.pathname = "/v1/traces";
  return url.toString();
}

/**
 * Forwards accepted, filtered (metadata-only) spans to an existing APM over OTLP/HTTP. Guarantees:
 * `enqueue` never blocks and never throws (a slow or failing APM never slows ingestion); the queue is
 * bounded and every span not forwarded is counted by reason; retries back off on 429/5xx and
 * network errors. Forwarding is best effort: spans queued at shutdown past the flush timeout are
 * dropped and counted.
 */
export class OtlpForwarder {
  readonly #url: string;
  readonly #headers: Record<string, string>;
  readonly #format: OtlpWireFormat;
  readonly #maxQueueSpans: number;
  readonly #maxBatchSpans: number;
  readonly #timeoutMs: number;
  readonly #maxAttempts: number;
  readonly #initialRetryDelayMs: number;
  readonly #maxRetryDelayMs: number;
  readonly #fetch: typeof fetch;
  readonly #metrics: CollectorMetrics;
  #queue: SpanRow[][] = [];
  #depth = 0;
  #running: Promise<void> | undefined;
  #stopping = false;
  #wake: (() => void) | undefined;

  constructor(options: OtlpForwarderOptions, metrics: CollectorMetrics) {
    this.#url = forwardUrl(options.endpoint);
    this.#format = options.format ?? "protobuf";
    this.#headers = {
      ...options.headers,
      "content-type": this.#format === "protobuf" ? "application/x-protobuf" : "application/json",
    };
    this.#maxQueueSpans = options.maxQueueSpans ?? 100_000;
    this.#maxBatchSpans = options.maxBatchSpans ?? 4096;
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#maxAttempts = options.maxAttempts ?? 5;
    this.#initialRetryDelayMs = options.initialRetryDelayMs ?? 200;
    this.#maxRetryDelayMs = options.maxRetryDelayMs ?? 5_000;
    this.#fetch = options.fetch ?? fetch;
    this.#metrics = metrics;
  }

  /** Spans waiting to be forwarded. */
  queueDepth(): number {
    return this.#depth;
  }

  /** Queues spans for forwarding; what does not fit is dropped and counted. Never blocks. */
  enqueue(rows: readonly SpanRow[]): void {
    if (this.#stopping || rows.length === 0) {
      if (rows.length > 0) this.#metrics.forwardSpansDropped.inc(["shutdown"], rows.length);
      return;
    }
    const room = this.#maxQueueSpans - this.#depth;
    const taken = rows.length <= room ? rows.slice() : rows.slice(0, Math.max(0, room));
    if (taken.length < rows.length) this.#metrics.forwardSpansDropped.inc(["queue_full"], rows.length - taken.length);
    if (taken.length === 0) return;
    this.#queue.push(taken);
    this.#depth += taken.length;
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  /** Starts the background sender (idempotent). */
  start(): void {
    this.#running ??= this.#loop();
  }

  /** Sends what is queued for up to `timeoutMs`, then stops; the rest is dropped and counted. */
  async stop(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.#depth > 0 && Date.now() < deadline && this.#running) await sleep(20);
    this.#stopping = true;
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
    await this.#running;
    if (this.#depth > 0) this.#metrics.forwardSpansDropped.inc(["shutdown"], this.#depth);
    this.#queue = [];
    this.#depth = 0;
  }

  async #loop(): Promise<void> {
    while (!this.#stopping) {
      if (this.#depth === 0) {
        await new Promise<void>((resolve) => (this.#wake = resolve));
        continue;
      }
      const batch = this.#take();
      await this.#send(batch);
    }
  }

  #take(): SpanRow[] {
    const batch: SpanRow[] = [];
    while (this.#queue.length > 0 && batch.length < this.#maxBatchSpans) {
      const chunk = this.#queue[0] as SpanRow[];
      const room = this.#maxBatchSpans - batch.length;
      if (chunk.length <= room) {
        this.#queue.shift();
        for (const r of chunk) batch.push(r);
      } else {
        for (const r of chunk.splice(0, room)) batch.push(r);
      }
    }
    this.#depth -= batch.length;
    return batch;
  }

  async #send(rows: SpanRow[]): Promise<void> {
    const body = otlpTraceRequestFromRows(rows, this.#format);
    let delay = this.#initialRetryDelayMs;
    for (let attempt = 1; ; attempt++) {
      let retryable = true;
      try {
        const response = await this.#fetch(this.#url, {
          method: "POST",
          headers: this.#headers,
          body,
          signal: AbortSignal.timeout(this.#timeoutMs),
        });
        await response.arrayBuffer().catch(() => undefined);
        if (response.ok) {
          this.#metrics.forwardSpansSent.inc([], rows.length);
          return;
        }
        retryable = response.status === 429 || response.status >= 500;
      } catch {
        retryable = true;
      }
      if (!retryable || attempt >= this.#maxAttempts || this.#stopping) {
        this.#metrics.forwardSpansDropped.inc([retryable ? "failed" : "rejected"], rows.length);
        return;
      }
      await sleep(delay);
      delay = Math.min(delay * 2, this.#maxRetryDelayMs);
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
