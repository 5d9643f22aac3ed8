import { afterEach, describe, expect, it } from "vitest";
import { CollectorMetrics } from "../metrics/collector-metrics.js";
import { encodeSpanBlock } from "../store/span-block.js";
import { OtlpForwarder } from "./otlp-forwarder.js";
import { startOtlpReceiver, storedSpans, type OtlpReceiver, type ReceiverAnswer } from "./otlp-receiver.test-helper.js";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function receiver(answer?: Parameters<typeof startOtlpReceiver>[0]): Promise<OtlpReceiver> {
  const r = await startOtlpReceiver(answer);
  cleanups.push(() => r.close());
  return r;
}

function forwarder(destinations: ConstructorParameters<typeof OtlpForwarder>[0], metrics: CollectorMetrics, lines: string[] = []): OtlpForwarder {
  const f = new OtlpForwarder(destinations, metrics, { log: (l) => lines.push(l) });
  f.start();
  cleanups.push(() => f.stop(0));
  return f;
}

const block = (n: number, tenant = "acme", from = 1) => ({ payload: encodeSpanBlock(storedSpans(n, tenant, from), () => 1), rowCount: n });

async function until(predicate: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe("OtlpForwarder", () => {
  it("sends every accepted block to each destination: protobuf to one, OTLP/JSON to another, each with its own headers", async () => {
    const tempo = await receiver();
    const honeycomb = await receiver();
    const metrics = new CollectorMetrics();
    const fwd = forwarder(
      [
        { name: "tempo", endpoint: tempo.url },
        { name: "honeycomb", endpoint: `${honeycomb.url}/v1/traces`, format: "json", headers: { "x-honeycomb-team": "k" } },
      ],
      metrics,
    );
    fwd.enqueue(block(3));
    fwd.enqueue(block(2, "globex", 4));
    await until(() => tempo.spans() === 5 && honeycomb.spans() === 5 && metrics.forwardSpansSent.value() === 10);
    expect(tempo.requests.every((r) => r.headers["content-type"] === "application/x-protobuf" && r.headers["x-honeycomb-team"] === undefined)).toBe(true);
    expect(honeycomb.requests.every((r) => r.headers["content-type"] === "application/json" && r.headers["x-honeycomb-team"] === "k")).toBe(true);
    // Both carry the same spans, the same way (the receiver reads protobuf with the official definitions).
    const spansOf = (r: OtlpReceiver) =>
      r.requests.flatMap((q) =>
        q.request.resourceSpans.flatMap((rs) =>
          rs.scopeSpans.flatMap((ss) => ss.spans.map((s): Record<string, unknown> => ({ tenant: rs.resource?.attributes?.find((a) => a.key === "troupe.tenant.id")?.value, ...s }))),
        ),
      );
    expect(spansOf(honeycomb)).toEqual(spansOf(tempo));
    expect(spansOf(tempo).map((s) => [s.tenant, s.spanId, s.attributes])).toEqual(
      [1, 2, 3, 4, 5].map((i) => [
        { stringValue: i <= 3 ? "acme" : "globex" },
        i.toString(16).padStart(16, "0"),
        [
          { key: "gen_ai.request.model", value: { stringValue: "m" } },
          { key: "gen_ai.usage.input_tokens", value: { intValue: "12" } },
        ],
      ]),
    );
    expect(metrics.forwardDestinationSpansSent.value(["tempo"])).toBe(5);
    expect(metrics.forwardDestinationSpansSent.value(["honeycomb"])).toBe(5);
    expect(metrics.render()).toMatch(/troupe_collector_forward_destination_spans_sent_total\{destination="honeycomb"\} 5\n/);
  });

  it("a dead destination (hung, or refusing connections) delays no other; its queue stays bounded and the rest is counted", async () => {
    const hung = await receiver(() => new Promise<ReceiverAnswer>(() => undefined));
    const refused = await startOtlpReceiver();
    await refused.close();
    const healthy = await receiver();
    const metrics = new CollectorMetrics();
    const lines: string[] = [];
    const fwd = forwarder(
      [
        { name: "hung", endpoint: hung.url, maxQueueSpans: 50, maxBatchSpans: 10, timeoutMs: 60_000 },
        { name: "refused", endpoint: refused.url, maxQueueSpans: 50, maxBatchSpans: 10, initialRetryDelayMs: 10_000 },
        { name: "healthy", endpoint: healthy.url, maxBatchSpans: 10 },
      ],
      metrics,
      lines,
    );
    for (let i = 0; i < 20; i++) fwd.enqueue(block(10, "acme", 1 + 10 * i));
    // The healthy destination gets everything while the others hold their first requests.
    await until(() => healthy.spans() === 200 && metrics.forwardDestinationSpansSent.value(["healthy"]) === 200);
    expect(hung.requests.length).toBeLessThanOrEqual(2);
    for (const name of ["hung", "refused"]) {
      expect(metrics.forwardDestinationSpansSent.value([name])).toBe(0);
      expect(metrics.forwardDestinationSpansDropped.value([name, "queue_full"])).toBe(150);
    }
    const render = metrics.render();
    expect(render).toMatch(/troupe_collector_forward_destination_queue_spans\{destination="hung"\} 50\n/);
    expect(render).toMatch(/troupe_collector_forward_destination_queue_spans\{destination="healthy"\} 0\n/);
    expect(render).toMatch(/troupe_collector_forward_spans_dropped_total\{reason="queue_full"\} 300\n/);
    expect(lines.filter((l) => l.includes("queue full"))).toEqual([
      expect.stringMatching(/^forward to hung: queue full \(50 spans, \d+ bytes held\): 10 span\(s\) dropped$/),
      expect.stringMatching(/^forward to refused: queue full \(50 spans, \d+ bytes held\): 10 span\(s\) dropped$/),
    ]);
  });

  it("refuses two destinations of one name (their metrics would merge)", () => {
    expect(() => new OtlpForwarder([{ name: "a", endpoint: "http://x" }, { name: "a", endpoint: "http://y" }], new CollectorMetrics())).toThrow(/distinct names/);
  });
});
