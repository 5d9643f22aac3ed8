import type { ForwardDestinationGauges, ForwardDestinationMetrics, ForwardDropReason } from "../metrics/collector-metrics.js";
import { describeErrorAnswer, readPartialSuccess } from "./export-answer.js";
import { HttpPoster } from "./http-poster.js";
import type { IntervalLog } from "./interval-log.js";
import { otlpTraceBodyEncoder, type OtlpTraceBodyEncoder, type OtlpWireFormat } from "./otlp-encode.js";
import { backoffDelayMs, isRetryableStatus, retryAfterMs } from "./retry-policy.js";

/** One APM (or any OTLP/HTTP receiver) spans are forwarded to, and how. */
export interface ForwardDestinationOptions {
  /** Names the destination in /metrics (label `destination`) and in log lines. */
  name: string;
  /** OTLP/HTTP traces URL; a bare origin gets "/v1/traces" appended (as OTEL_EXPORTER_OTLP_ENDPOINT does). */
  endpoint: string;
  headers?: Record<string, string>;
  /** Body encoding; default protobuf. */
  format?: OtlpWireFormat;
  /** Bound on spans held (queued or in flight); a block that does not fit is dropped and counted (queue_full). Default 100,000. */
  maxQueueSpans?: number;
  /** Bound on the bytes of the span blocks held, likewise. Default 64 MiB. */
  maxQueueBytes?: number;
  /** A request carries whole accepted blocks up to this many spans (a larger block goes alone). Default 8192. */
  maxBatchSpans?: number;
  /** Requests in flight at once. Default 2. */
  maxConcurrentRequests?: number;
  /** Per request. Default 10 s. */
  timeoutMs?: number;
  /** Attempts per request, the first included, before its spans are dropped (failed_after_retries). Default 5. */
  maxAttempts?: number;
  /** Backoff without Retry-After: about this before the first retry, doubling up to `maxRetryDelayMs`. Defaults 1 s and 30 s. */
  initialRetryDelayMs?: number;
  maxRetryDelayMs?: number;
  /** A Retry-After longer than this ends the request's retries (its spans dropped) instead of holding the queue. Default 5 min. */
  maxRetryAfterMs?: number;
}

/** The defaults of ForwardDestinationOptions. */
export const DEFAULT_FORWARD_DESTINATION = {
  format: "protobuf",
  maxQueueSpans: 100_000,
  maxQueueBytes: 64 * 1024 * 1024,
  maxBatchSpans: 8192,
  maxConcurrentRequests: 2,
  timeoutMs: 10_000,
  maxAttempts: 5,
  initialRetryDelayMs: 1_000,
  maxRetryDelayMs: 30_000,
  maxRetryAfterMs: 300_000,
} as const satisfies Omit<Required<ForwardDestinationOptions>, "name" | "endpoint" | "headers">;

/** The URL spans are posted to for a configured endpoint. */
export function forwardUrl(endpoint: string): string {
  const url = new URL(endpoint);
  if (url.pathname === "" || url.pathname === "/") url.pathname = "/v1/traces";
  return url.toString();
}

/**
 * Accepted spans waiting for a destination: span blocks as the spool holds them (shared, never
 * copied), or the request's forward copy when the destination takes protobuf and ingest made one.
 */
interface Held {
  payloads: readonly Buffer[];
  /** The spans as an OTLP protobuf request, sent as it is (ProtobufForwardCopy); the payloads are then not held. */
  copy: Buffer | undefined;
  spans: number;
  bytes: number;
  atMs: number;
}

/** What one export request came to. */
type Outcome =
  | { kind: "sent"; rejectedSpans: number; message: string }
  | { kind: "retry"; retryAfterMs: number | undefined; detail: string }
  | { kind: "rejected"; detail: string };

/**
 * Forwards accepted spans to one OTLP/HTTP destination, as a good OTLP client does. Guarantees:
 * `enqueue` never blocks and never throws; what the destination holds (queued and in flight) stays
 * within `maxQueueSpans` and `maxQueueBytes` (the blocks are shared with the spool and the other
 * destinations, never copied), plus one encoding buffer per sender (`maxConcurrentRequests`, each
 * kept up to 32 MiB); every span not delivered is counted by reason. Requests are
 * retried exactly as OTLP/HTTP says (retry-policy.ts): 429/502/503/504 and network errors, never
 * sooner than a Retry-After asks (which pauses the whole destination), else with exponential
 * backoff and jitter; any other error answer drops the request's spans (rejected). A 200 with a
 * partial success counts the spans it rejected and logs once per interval. Destinations share
 * nothing: a slow or dead one delays no other.
 */
export class ForwardDestination {
  readonly name: string;
  readonly #format: OtlpWireFormat;
  readonly #poster: HttpPoster;
  readonly #options: Omit<Required<ForwardDestinationOptions>, "name" | "endpoint" | "headers" | "format">;
  readonly #metrics: ForwardDestinationMetrics;
  readonly #log: IntervalLog;
  /** Waiting blocks from `#queue[#head]`, the oldest (slots before it are emptied as taken and cut off in bulk, not shifted one by one). */
  #queue: (Held | undefined)[] = [];
  #head = 0;
  readonly #inFlight = new Set<Held[]>();
  #heldSpans = 0;
  #heldBytes = 0;
  /** No request leaves before this (a Retry-After or a backoff pauses the whole destination). */
  #notBeforeMs = 0;
  #stopping = false;
  /** Aborted at stop: wakes the senders' waits. */
  readonly #stopController = new AbortController();
  #idle: (() => void)[] = [];
  #workers: Promise<void>[] = [];

  constructor(options: ForwardDestinationOptions, metrics: ForwardDestinationMetrics, log: IntervalLog) {
    const d = DEFAULT_FORWARD_DESTINATION;
    this.name = options.name;
    this.#format = options.format ?? d.format;
    this.#options = {
      maxQueueSpans: options.maxQueueSpans ?? d.maxQueueSpans,
      maxQueueBytes: options.maxQueueBytes ?? d.maxQueueBytes,
      maxBatchSpans: options.maxBatchSpans ?? d.maxBatchSpans,
      maxConcurrentRequests: options.maxConcurrentRequests ?? d.maxConcurrentRequests,
      timeoutMs: options.timeoutMs ?? d.timeoutMs,
      maxAttempts: options.maxAttempts ?? d.maxAttempts,
      initialRetryDelayMs: options.initialRetryDelayMs ?? d.initialRetryDelayMs,
      maxRetryDelayMs: options.maxRetryDelayMs ?? d.maxRetryDelayMs,
      maxRetryAfterMs: options.maxRetryAfterMs ?? d.maxRetryAfterMs,
    };
    const headers = { "user-agent": "troupe-collector", ...options.headers, "content-type": this.#format === "protobuf" ? "application/x-protobuf" : "application/json" };
    this.#poster = new HttpPoster(forwardUrl(options.endpoint), headers, this.#options.maxConcurrentRequests);
    this.#metrics = metrics;
    this.#log = log;
  }

  /** Whether `enqueue` uses a forward copy (it sends protobuf). */
  get takesForwardCopies(): boolean {
    return this.#format === "protobuf";
  }

  /**
   * Queues an accepted span block (spool payload parts, shared: never modified), or its `copy` (the
   * same spans as an OTLP protobuf request) when given and this destination sends protobuf; what
   * does not fit is dropped and counted.
   */
  enqueue(payloads: readonly Buffer[], spans: number, copy?: Buffer): void {
    if (spans <= 0) return;
    if (this.#stopping) {
      this.#metrics.dropped("shutdown", spans);
      return;
    }
    if (copy !== undefined && this.#format === "protobuf") payloads = [];
    else copy = undefined;
    let bytes = copy?.length ?? 0;
    for (const p of payloads) bytes += p.length;
    if (this.#heldSpans + spans > this.#options.maxQueueSpans || this.#heldBytes + bytes > this.#options.maxQueueBytes) {
      this.#metrics.dropped("queue_full", spans);
      this.#log.report(`${this.name}:queue_full`, spans, (n) => `forward to ${this.name}: queue full (${this.#heldSpans} spans, ${this.#heldBytes} bytes held): ${n} span(s) dropped`);
      return;
    }
    this.#queue.push({ payloads, copy, spans, bytes, atMs: Date.now() });
    this.#heldSpans += spans;
    this.#heldBytes += bytes;
    this.#idle.shift()?.();
  }

  /** Starts the senders (idempotent). */
  start(): void {
    if (this.#workers.length > 0) return;
    this.#workers = Array.from({ length: this.#options.maxConcurrentRequests }, () => this.#work());
  }

  /** Live figures for /metrics. */
  gauges(): ForwardDestinationGauges {
    let oldest = this.#queue[this.#head]?.atMs ?? Infinity;
    for (const batch of this.#inFlight) for (const held of batch) oldest = Math.min(oldest, held.atMs);
    return {
      destination: this.name,
      queueSpans: this.#heldSpans,
      queueBytes: this.#heldBytes,
      lagSeconds: oldest === Infinity ? 0 : Math.max(0, Date.now() - oldest) / 1000,
    };
  }

  /** Sends what it holds for up to `timeoutMs`, then stops: requests in flight are aborted, and whatever is left is dropped and counted (shutdown). */
  async stop(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.#heldSpans > 0 && Date.now() < deadline && this.#workers.length > 0) await sleep(20);
    this.#stopping = true;
    this.#stopController.abort();
    this.#poster.stop();
    for (const wake of this.#idle.splice(0)) wake();
    await Promise.all(this.#workers);
    const left = this.#queue.slice(this.#head) as Held[];
    this.#queue = [];
    this.#head = 0;
    const spans = left.reduce((n, h) => n + h.spans, 0);
    this.#release(left);
    this.#metrics.dropped("shutdown", spans);
  }

  async #work(): Promise<void> {
    // Each sender its own encoder: a request's body lives in it until the request is settled.
    const encode = otlpTraceBodyEncoder(this.#format);
    while (!this.#stopping) {
      const batch = this.#take();
      if (batch === undefined) {
        await new Promise<void>((resolve) => this.#idle.push(resolve));
        continue;
      }
      this.#inFlight.add(batch);
      try {
        await this.#deliver(batch, encode);
      } finally {
        this.#inFlight.delete(batch);
        this.#release(batch);
      }
    }
  }

  /** Whole blocks from the head of the queue, up to maxBatchSpans (at least one). */
  #take(): Held[] | undefined {
    const queue = this.#queue;
    if (this.#head === queue.length) return undefined;
    const batch: Held[] = [];
    let spans = 0;
    do {
      const next = queue[this.#head]!;
      queue[this.#head++] = undefined;
      spans += next.spans;
      batch.push(next);
    } while (this.#head < queue.length && spans + queue[this.#head]!.spans <= this.#options.maxBatchSpans);
    if (this.#head === queue.length) {
      this.#queue = [];
      this.#head = 0;
    } else if (this.#head >= 1024 && this.#head * 2 >= queue.length) {
      this.#queue = queue.slice(this.#head);
      this.#head = 0;
    }
    return batch;
  }

  #release(held: readonly Held[]): void {
    for (const h of held) {
      this.#heldSpans -= h.spans;
      this.#heldBytes -= h.bytes;
    }
  }

  async #deliver(batch: readonly Held[], encode: OtlpTraceBodyEncoder): Promise<void> {
    const spans = batch.reduce((n, h) => n + h.spans, 0);
    // One request of the blocks' encoding and the copies as they are: serialized requests joined are
    // one request holding all their ResourceSpans (a repeated field's encodings concatenate).
    const body: Buffer[] = [];
    try {
      const blocks = batch.flatMap((h) => h.payloads);
      if (blocks.length > 0) body.push(await encode(blocks));
    } catch (err) {
      this.#drop("encode_failed", spans, `could not encode ${spans} span(s): ${(err as Error).message}`);
      return;
    }
    for (const h of batch) if (h.copy !== undefined) body.push(h.copy);
    for (let attempt = 1; ; attempt++) {
      const waitMs = this.#notBeforeMs - Date.now();
      if (waitMs > 0) await sleep(waitMs, this.#stopController.signal);
      if (this.#stopping) {
        this.#metrics.dropped("shutdown", spans);
        return;
      }
      const outcome = await this.#post(body);
      if (this.#stopping && outcome.kind === "retry") {
        this.#metrics.dropped("shutdown", spans);
        return;
      }
      if (outcome.kind === "sent") {
        const rejected = Math.min(spans, outcome.rejectedSpans);
        this.#metrics.sent(spans - rejected);
        if (rejected > 0 || outcome.message !== "") {
          this.#metrics.partiallyRejected(rejected);
          this.#log.report(`${this.name}:partial`, rejected, (n) => `forward to ${this.name}: the destination rejected ${n} span(s) in partial success (latest: ${JSON.stringify(outcome.message)})`);
        }
        return;
      }
      if (outcome.kind === "rejected") {
        this.#drop("rejected", spans, `answered ${outcome.detail}; not retried`);
        return;
      }
      const tooLong = outcome.retryAfterMs !== undefined && outcome.retryAfterMs > this.#options.maxRetryAfterMs;
      const delayMs = Math.min(
        outcome.retryAfterMs ?? backoffDelayMs(attempt, this.#options.initialRetryDelayMs, this.#options.maxRetryDelayMs),
        this.#options.maxRetryAfterMs,
      );
      this.#notBeforeMs = Math.max(this.#notBeforeMs, Date.now() + delayMs);
      if (attempt >= this.#options.maxAttempts || tooLong) {
        const why = tooLong ? `asked to retry after ${outcome.retryAfterMs} ms (more than ${this.#options.maxRetryAfterMs})` : `${attempt} attempts`;
        this.#drop("failed_after_retries", spans, `${outcome.detail}; gave up after ${why}`);
        return;
      }
      this.#metrics.retried();
    }
  }

  async #post(body: readonly Buffer[]): Promise<Outcome> {
    try {
      const answer = await this.#poster.post(body, this.#options.timeoutMs);
      if (answer.status >= 200 && answer.status < 300) {
        const partial = readPartialSuccess(answer.body, this.#format);
        return { kind: "sent", rejectedSpans: partial?.rejectedSpans ?? 0, message: partial?.errorMessage ?? "" };
      }
      const detail = describeErrorAnswer(answer);
      if (isRetryableStatus(answer.status)) return { kind: "retry", retryAfterMs: retryAfterMs(answer.retryAfter, Date.now()), detail };
      return { kind: "rejected", detail };
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      return { kind: "retry", retryAfterMs: undefined, detail: typeof code === "string" ? code : (err as Error).message };
    }
  }

  #drop(reason: ForwardDropReason, spans: number, line: string): void {
    this.#metrics.dropped(reason, spans);
    this.#log.report(`${this.name}:${reason}`, spans, (n) => `forward to ${this.name}: ${n} span(s) dropped: ${line}`);
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
  });
}
