import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { otlpProtoTypes } from "../ingest/otlp-proto-root.js";
import { CollectorMetrics } from "../metrics/collector-metrics.js";
import type { SpanRow } from "../store/span-row.js";
import { OtlpForwarder, forwardUrl } from "./otlp-forwarder.js";

interface Received {
  headers: IncomingMessage["headers"];
  spans: { name: string; traceId: string; tenant: string | undefined; attrs: Record<string, string> }[];
}

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

/** A local OTLP/HTTP receiver: answers with `status` after `delayMs`, records what it decoded. */
async function receiver(options: { status?: () => number; delayMs?: number } = {}): Promise<{ url: string; received: Received[] }> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const status = options.status?.() ?? 200;
      if (status === 200) {
        const type = otlpProtoTypes().ExportTraceServiceRequest;
        const msg = req.headers["content-type"] === "application/json" ? JSON.parse(body.toString()) : type.toObject(type.decode(body), { bytes: String, longs: String });
        const spans: Received["spans"] = [];
        for (const rs of msg.resourceSpans) {
          const tenant = rs.resource.attributes.find((a: { key: string }) => a.key === "troupe.tenant.id")?.value.stringValue;
          for (const ss of rs.scopeSpans)
            for (const s of ss.spans)
              spans.push({
                name: s.name,
                traceId: req.headers["content-type"] === "application/json" ? s.traceId : Buffer.from(s.traceId, "base64").toString("hex"),
                tenant,
                attrs: Object.fromEntries((s.attributes ?? []).map((a: { key: string; value: { stringValue: string } }) => [a.key, a.value.stringValue])),
              });
        }
        received.push({ headers: req.headers, spans });
      }
      setTimeout(() => res.writeHead(status).end(), options.delayMs ?? 0);
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received };
}

function rows(n: number, tenant = "acme"): SpanRow[] {
  return Array.from({ length: n }, (_, i) => ({
    tenantId: tenant, traceId: "ab".repeat(16), spanId: String(i + 1).padStart(16, "0"), parentSpanId: "", name: `s${i}`, kind: 2,
    startTimeUnixNano: "1700000000000000000", durationNs: 1000, statusCode: 1, serviceName: "svc",
    attributes: { "gen_ai.request.model": "m" }, resourceAttributes: { "service.name": "svc" },
  }));
}

async function until(predicate: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe("OtlpForwarder", () => {
  it("appends /v1/traces to a bare endpoint and keeps an explicit path", () => {
    expect(forwardUrl("http://apm:4318")).toBe("http://apm:4318/v1/traces");
    expect(forwardUrl("https://api.honeycomb.io/v1/traces")).toBe("https://api.honeycomb.io/v1/traces");
  });

  it.each(["protobuf", "json"] as const)("forwards filtered spans as OTLP %s with the configured headers and the tenant on the resource", async (format) => {
    const apm = await receiver();
    const metrics = new CollectorMetrics();
    const fwd = new OtlpForwarder({ endpoint: apm.url, headers: { "x-honeycomb-team": "k" }, format }, metrics);
    fwd.start();
    fwd.enqueue(rows(3));
    fwd.enqueue(rows(2, "globex"));
    await until(() => metrics.forwardSpansSent.value() === 5);
    await fwd.stop(1000);
    const spans = apm.received.flatMap((r) => r.spans);
    expect(spans).toHaveLength(5);
    expect(spans.filter((s) => s.tenant === "globex")).toHaveLength(2);
    expect(spans[0]).toMatchObject({ traceId: "ab".repeat(16), attrs: { "gen_ai.request.model": "m" } });
    expect(apm.received[0]!.headers["x-honeycomb-team"]).toBe("k");
  });

  it("retries 503 answers and then delivers", async () => {
    let calls = 0;
    const apm = await receiver({ status: () => (++calls <= 2 ? 503 : 200) });
    const metrics = new CollectorMetrics();
    const fwd = new OtlpForwarder({ endpoint: apm.url, initialRetryDelayMs: 5 }, metrics);
    fwd.start();
    fwd.enqueue(rows(4));
    await until(() => metrics.forwardSpansSent.value() === 4);
    expect(calls).toBe(3);
    await fwd.stop(100);
  });

  it("never blocks enqueue behind a slow APM; overflow and an unreachable APM are dropped and counted", async () => {
    const slow = await receiver({ delayMs: 1000 });
    const metrics = new CollectorMetrics();
    const fwd = new OtlpForwarder({ endpoint: slow.url, maxQueueSpans: 100, maxBatchSpans: 50 }, metrics);
    fwd.start();
    fwd.enqueue(rows(10));
    await until(() => slow.received.length === 1); // in flight: its answer takes a second
    const started = performance.now();
    for (let i = 0; i < 100; i++) fwd.enqueue(rows(10));
    expect(performance.now() - started).toBeLessThan(200);
    expect(fwd.queueDepth()).toBe(100);
    expect(metrics.forwardSpansDropped.value(["queue_full"])).toBe(900);
    await fwd.stop(0);
    expect(metrics.forwardSpansSent.value()).toBe(10);
    expect(metrics.forwardSpansDropped.value(["shutdown"])).toBe(100);

    const down = new OtlpForwarder({ endpoint: "http://127.0.0.1:1", maxAttempts: 2, initialRetryDelayMs: 1, timeoutMs: 500 }, metrics);
    down.start();
    down.enqueue(rows(7));
    await until(() => metrics.forwardSpansDropped.value(["failed"]) === 7);
    await down.stop(0);
  });
});
