import { afterEach, describe, expect, it } from "vitest";
import { otlpProtoTypes } from "../ingest/otlp-proto-root.js";
import { CollectorMetrics } from "../metrics/collector-metrics.js";
import { encodeSpanBlock } from "../store/span-block.js";
import { ForwardDestination, forwardUrl, type ForwardDestinationOptions } from "./forward-destination.js";
import { IntervalLog } from "./interval-log.js";
import { otlpTraceRequestFromRows } from "./otlp-encode.js";
import { startOtlpReceiver, storedSpans, type OtlpReceiver, type ReceiverAnswer } from "./otlp-receiver.test-helper.js";

const receivers: OtlpReceiver[] = [];
const destinations: ForwardDestination[] = [];
afterEach(async () => {
  await Promise.all(destinations.splice(0).map((d) => d.stop(0)));
  await Promise.all(receivers.splice(0).map((r) => r.close()));
});

async function receiver(answer?: Parameters<typeof startOtlpReceiver>[0]): Promise<OtlpReceiver> {
  const r = await startOtlpReceiver(answer);
  receivers.push(r);
  return r;
}

/** A started destination named "apm", with its metrics and the lines it logged. */
function destination(options: Omit<ForwardDestinationOptions, "name">, logIntervalMs = 60_000): { dest: ForwardDestination; metrics: CollectorMetrics; lines: string[] } {
  const metrics = new CollectorMetrics();
  const lines: string[] = [];
  const dest = new ForwardDestination({ name: "apm", ...options }, metrics.forwardDestination("apm"), new IntervalLog((l) => lines.push(l), logIntervalMs));
  metrics.bindForwardGauges(() => [dest.gauges()]);
  destinations.push(dest);
  dest.start();
  return { dest, metrics, lines };
}

/** Enqueues `n` spans as one block, numbered from `from`. */
function enqueue(dest: ForwardDestination, n: number, from = 1): void {
  dest.enqueue([encodeSpanBlock(storedSpans(n, "acme", from), () => 1)], n);
}

async function until(predicate: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 5));
  }
}

function partialSuccessProtobuf(rejectedSpans: number, errorMessage: string): Uint8Array {
  const type = otlpProtoTypes().ExportTraceServiceResponse;
  return type.encode(type.create({ partialSuccess: { rejectedSpans, errorMessage } })).finish();
}

const sent = (m: CollectorMetrics): number => m.forwardDestinationSpansSent.value(["apm"]);
const dropped = (m: CollectorMetrics, reason: string): number => m.forwardDestinationSpansDropped.value(["apm", reason]);
const retries = (m: CollectorMetrics): number => m.forwardDestinationRetries.value(["apm"]);

describe("ForwardDestination", () => {
  it("appends /v1/traces to a bare endpoint and keeps an explicit path", () => {
    expect(forwardUrl("http://apm:4318")).toBe("http://apm:4318/v1/traces");
    expect(forwardUrl("https://api.honeycomb.io/v1/traces")).toBe("https://api.honeycomb.io/v1/traces");
  });

  it("sends a forward copy as it is (protobuf), joined in one request with the blocks it encodes; a JSON destination encodes the block instead", async () => {
    const apm = await receiver();
    const jsonApm = await receiver();
    const { metrics } = destination({ endpoint: apm.url });
    const json = new ForwardDestination({ name: "json", endpoint: jsonApm.url, format: "json" }, new CollectorMetrics().forwardDestination("json"), new IntervalLog(() => undefined, 60_000));
    destinations.push(json);
    json.start();
    // The copy says what the block says, but with a span name of its own, to tell which was sent.
    const copyRows = storedSpans(2, "acme", 100).map((r) => ({ ...r, name: `copy ${r.name}` }));
    const copy = await otlpTraceRequestFromRows(copyRows, "protobuf");
    const copied = [encodeSpanBlock(storedSpans(2, "acme", 100), () => 1)];
    // In one turn of the event loop: both go in one request.
    for (const d of [destinations[0]!, json]) {
      enqueue(d, 3);
      d.enqueue(copied, 2, Buffer.from(copy));
    }
    expect(destinations[0]!.gauges().queueBytes).toBe(encodeSpanBlock(storedSpans(3, "acme", 1), () => 1).length + copy.length);
    await until(() => sent(metrics) === 5 && jsonApm.spans() === 5);
    expect(apm.requests).toHaveLength(1);
    const names = (r: OtlpReceiver) => r.requests.flatMap((q) => q.request.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans.map((x) => x["name"]))));
    expect(names(apm)).toEqual(["s1", "s2", "s3", "copy s100", "copy s101"]);
    expect(names(jsonApm).sort()).toEqual(["s1", "s100", "s101", "s2", "s3"]);
  });

  it("honours a 429's Retry-After (seconds) before sending again, whatever its own backoff", async () => {
    const apm = await receiver((_, i) => (i === 0 ? { status: 429, headers: { "retry-after": "1" } } : {}));
    const { metrics } = destination({ endpoint: apm.url, initialRetryDelayMs: 5, maxRetryDelayMs: 5 });
    enqueue(destinations[0]!, 3);
    await until(() => sent(metrics) === 3);
    expect(apm.requests).toHaveLength(2);
    expect(apm.requests[1]!.atMs - apm.requests[0]!.atMs).toBeGreaterThanOrEqual(950);
    expect(retries(metrics)).toBe(1);
    // The same spans, re-sent unchanged.
    expect(apm.requests[1]!.request).toEqual(apm.requests[0]!.request);
  });

  it.each([502, 503, 504])("retries %i with backoff, then delivers", async (status) => {
    const apm = await receiver((_, i) => (i < 2 ? { status } : {}));
    const { metrics, lines } = destination({ endpoint: apm.url, initialRetryDelayMs: 5, maxRetryDelayMs: 20 });
    enqueue(destinations[0]!, 4);
    await until(() => sent(metrics) === 4);
    expect(apm.requests).toHaveLength(3);
    expect(retries(metrics)).toBe(2);
    expect(lines).toEqual([]);
  });

  it.each([400, 401, 403, 404, 413, 500, 501])("does not retry %i: the spans are dropped as rejected, and the answer is logged", async (status) => {
    const apm = await receiver(() => ({ status, headers: { "content-type": "application/json" }, body: '{"code":3,"message":"bad spans"}' }));
    const { metrics, lines } = destination({ endpoint: apm.url, initialRetryDelayMs: 5 });
    enqueue(destinations[0]!, 5);
    await until(() => dropped(metrics, "rejected") === 5);
    await new Promise((r) => setTimeout(r, 50));
    expect(apm.requests).toHaveLength(1);
    expect(retries(metrics)).toBe(0);
    expect(sent(metrics)).toBe(0);
    expect(metrics.forwardSpansDropped.value(["rejected"])).toBe(5);
    expect(lines).toEqual([`forward to apm: 5 span(s) dropped: answered HTTP ${status}: {"code":3,"message":"bad spans"}; not retried`]);
  });

  it("gives up after maxAttempts (connection refused) and counts the spans failed_after_retries", async () => {
    const gone = await receiver();
    await gone.close();
    receivers.pop();
    const { metrics, lines } = destination({ endpoint: gone.url, maxAttempts: 3, initialRetryDelayMs: 1, maxRetryDelayMs: 2 });
    enqueue(destinations[0]!, 7);
    await until(() => dropped(metrics, "failed_after_retries") === 7);
    expect(retries(metrics)).toBe(2);
    expect(lines).toEqual(["forward to apm: 7 span(s) dropped: ECONNREFUSED; gave up after 3 attempts"]);
  });

  it.each(["protobuf", "json"] as const)("counts the spans a 200 rejects in partial success (%s answer) and logs once per interval", async (format) => {
    const body = (n: number): ReceiverAnswer =>
      format === "json"
        ? { headers: { "content-type": "application/json" }, body: JSON.stringify({ partialSuccess: { rejectedSpans: String(n), errorMessage: `${n} too old` } }) }
        : { headers: { "content-type": "application/x-protobuf" }, body: partialSuccessProtobuf(n, `${n} too old`) };
    const apm = await receiver(() => body(2));
    const { metrics, lines } = destination({ endpoint: apm.url, format, maxConcurrentRequests: 1, maxBatchSpans: 10 }, 300);
    for (let i = 0; i < 4; i++) enqueue(destinations[0]!, 10, 1 + 10 * i);
    await until(() => apm.requests.length === 4 && sent(metrics) === 32);
    expect(metrics.forwardDestinationPartialRejected.value(["apm"])).toBe(8);
    // The first report at once; the other three summed into one line at the interval's end.
    expect(lines).toEqual(['forward to apm: the destination rejected 2 span(s) in partial success (latest: "2 too old")']);
    await until(() => lines.length === 2);
    expect(lines[1]).toBe('forward to apm: the destination rejected 6 span(s) in partial success (latest: "2 too old")');
  });

  it("holds at most maxQueueSpans and maxQueueBytes; what does not fit is dropped as queue_full, without blocking", async () => {
    const hung = await receiver(() => new Promise<ReceiverAnswer>(() => undefined));
    const { dest, metrics } = destination({ endpoint: hung.url, maxQueueSpans: 100, maxConcurrentRequests: 1, maxBatchSpans: 10 });
    enqueue(dest, 10);
    await until(() => hung.requests.length === 1);
    const started = performance.now();
    for (let i = 0; i < 100; i++) enqueue(dest, 10, 11 + 10 * i);
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(dest.gauges()).toMatchObject({ destination: "apm", queueSpans: 100 });
    expect(dropped(metrics, "queue_full")).toBe(910);
    expect(metrics.render()).toMatch(/troupe_collector_forward_destination_queue_spans\{destination="apm"\} 100\n/);
    expect(metrics.render()).toMatch(/troupe_collector_forward_queue_depth_spans 100\n/);
    const lag = Number(/troupe_collector_forward_destination_lag_seconds\{destination="apm"\} ([\d.]+)/.exec(metrics.render())?.[1]);
    expect(lag).toBeGreaterThan(0);

    const block = encodeSpanBlock(storedSpans(10), () => 1);
    const bytes = await startOtlpReceiver(() => new Promise<ReceiverAnswer>(() => undefined));
    receivers.push(bytes);
    const byBytes = destination({ endpoint: bytes.url, maxQueueBytes: block.length * 3, maxConcurrentRequests: 1 });
    for (let i = 0; i < 5; i++) byBytes.dest.enqueue([block], 10);
    expect(byBytes.dest.gauges()).toMatchObject({ queueSpans: 30, queueBytes: block.length * 3 });
    expect(byBytes.metrics.forwardDestinationSpansDropped.value(["apm", "queue_full"])).toBe(20);
  });

  it("sends whole blocks, as many as fit in maxBatchSpans, oldest first; a larger block goes alone", async () => {
    let release: () => void = () => undefined;
    const firstAnswered = new Promise<void>((resolve) => (release = resolve));
    const apm = await receiver(async (_, i) => {
      if (i === 0) await firstAnswered;
      return {};
    });
    const { dest, metrics } = destination({ endpoint: apm.url, maxConcurrentRequests: 1, maxBatchSpans: 7 });
    enqueue(dest, 3, 1);
    await until(() => apm.requests.length === 1);
    for (let i = 0; i < 4; i++) enqueue(dest, 3, 4 + 3 * i);
    enqueue(dest, 10, 16);
    release();
    await until(() => sent(metrics) === 25);
    expect(apm.requests.map((r) => r.spanCount)).toEqual([3, 6, 6, 10]);
    const ids = apm.requests.flatMap((r) => r.request.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans.map((sp) => Number.parseInt(String(sp["spanId"]), 16)))));
    expect(ids).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
  });

  it("stops without waiting for a hung destination: in flight and queued spans are counted as shutdown", async () => {
    const hung = await receiver(() => new Promise<ReceiverAnswer>(() => undefined));
    const { dest, metrics } = destination({ endpoint: hung.url, maxConcurrentRequests: 1, maxBatchSpans: 10, timeoutMs: 60_000 });
    enqueue(dest, 10);
    enqueue(dest, 10, 11);
    await until(() => hung.requests.length === 1);
    const started = performance.now();
    await dest.stop(100);
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(dropped(metrics, "shutdown")).toBe(20);
    expect(dest.gauges()).toMatchObject({ queueSpans: 0, queueBytes: 0, lagSeconds: 0 });
    enqueue(dest, 3, 21);
    expect(dropped(metrics, "shutdown")).toBe(23);
  });
});
