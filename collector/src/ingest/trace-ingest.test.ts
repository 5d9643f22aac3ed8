import { ATTR } from "@troupe/contract";
import { describe, expect, it } from "vitest";
import { CollectorError } from "../errors.js";
import { CollectorMetrics } from "../metrics/collector-metrics.js";
import type { SpanSink } from "../pipeline/ingest-pipeline.js";
import type { SpanRow } from "../store/span-row.js";
import type { Principal } from "../tenants/principal.js";
import type { ExportRequest, OtlpFormat } from "./export-request.js";
import type { IngestOutcome } from "./ingest-outcome.js";
import { TraceIngest, type TraceIngestOptions } from "./trace-ingest.js";

const ACME_KEY: Principal = { kind: "tenant-ingest", keyId: "k-acme", tenantId: "acme" };

/** An OTLP/JSON export request of spans started just now, each optionally claiming a tenant. */
function tracesJson(spans: readonly { tenant?: string }[]): string {
  const startNs = BigInt(Date.now()) * 1_000_000n;
  const json = spans.map((span, i) => {
    const id = (i + 1).toString(16).padStart(16, "0");
    const attributes = span.tenant === undefined ? [] : [{ key: ATTR.tenantId, value: { stringValue: span.tenant } }];
    return { traceId: `${id}${id}`, spanId: id, name: `step ${i}`, kind: 1, startTimeUnixNano: String(startNs), endTimeUnixNano: String(startNs + 1_000n), attributes };
  });
  return JSON.stringify({ resourceSpans: [{ resource: { attributes: [{ key: "service.name", value: { stringValue: "svc" } }] }, scopeSpans: [{ spans: json }] }] });
}

/** A sink that keeps what it is given; `blocks` says whether it takes span blocks and how it answers. */
function memorySink(blocks?: "take" | "decline"): SpanSink & { rows: SpanRow[]; blockRows: number } {
  const sink = {
    rows: [] as SpanRow[],
    blockRows: 0,
    accept: async (rows: SpanRow[]) => void sink.rows.push(...rows),
  };
  if (!blocks) return sink;
  return Object.assign(sink, {
    acceptBlock: async (builder: { rowCount: number }) => {
      if (blocks === "decline") return false;
      sink.blockRows += builder.rowCount;
      return true;
    },
  });
}

/** Runs one request through a fresh service; returns the outcome and how often the body was released. */
async function ingestOnce(service: TraceIngest, text: string, format: OtlpFormat = "json"): Promise<{ outcome: IngestOutcome; releases: number }> {
  let releases = 0;
  const request: ExportRequest = { principal: ACME_KEY, format, body: { bytes: Buffer.from(text), release: () => void releases++ } };
  return { outcome: await service.ingest(request), releases };
}

function service(sink: SpanSink, options: Partial<TraceIngestOptions> = {}): TraceIngest {
  return new TraceIngest({ sink, metrics: new CollectorMetrics(), ...options });
}

describe("TraceIngest", () => {
  it("accepts every span of a valid request into the sink's rows, stamped with the key's tenant, and releases the body once", async () => {
    const sink = memorySink();
    const { outcome, releases } = await ingestOnce(service(sink), tracesJson([{}, { tenant: "acme" }]));
    expect(outcome).toEqual({ kind: "accepted", accepted: 2, rejections: [] });
    expect(sink.rows.map((r) => [r.tenantId, r.name])).toEqual([
      ["acme", "step 0"],
      ["acme", "step 1"],
    ]);
    expect(releases).toBe(1);
  });

  it("hands a sink that takes span blocks the block, and falls back to rows when it declines", async () => {
    const taking = memorySink("take");
    expect((await ingestOnce(service(taking), tracesJson([{}, {}, {}]))).outcome).toEqual({ kind: "accepted", accepted: 3, rejections: [] });
    expect([taking.blockRows, taking.rows.length]).toEqual([3, 0]);

    const declining = memorySink("decline");
    expect((await ingestOnce(service(declining), tracesJson([{}, {}, {}]))).outcome).toEqual({ kind: "accepted", accepted: 3, rejections: [] });
    expect([declining.blockRows, declining.rows.length]).toEqual([0, 3]);
  });

  it("answers a partial success naming why each refused span was refused, and stores the rest", async () => {
    const sink = memorySink("take");
    const { outcome } = await ingestOnce(service(sink), tracesJson([{}, { tenant: "globex" }, { tenant: "globex" }]));
    expect(outcome).toMatchObject({ kind: "accepted", accepted: 1, rejections: [{ reason: "tenant_mismatch", count: 2, example: expect.stringContaining('claims tenant "globex"') }] });
    expect(sink.rows.map((r) => r.tenantId)).toEqual(["acme"]);
  });

  it("refuses a malformed body as bad_request, stores nothing and still releases the body", async () => {
    for (const format of ["json", "protobuf"] as const) {
      const sink = memorySink("take");
      const { outcome, releases } = await ingestOnce(service(sink), format === "json" ? "{ not json" : "\u00ff\u00ff\u00ff", format);
      expect(outcome.kind).toBe("refused");
      expect(outcome.kind === "refused" && outcome.error.code).toBe("bad_request");
      expect([sink.rows.length, sink.blockRows, releases]).toEqual([0, 0, 1]);
    }
  });

  it("refuses a key over its span rate as rate_limited with the seconds until its spans fit, other keys unaffected", async () => {
    const sink = memorySink();
    const ingest = service(sink, { limits: { maxSpansPerRequest: 4 }, rateLimit: { spansPerSecond: 1, burstSpans: 4 } });
    expect((await ingestOnce(ingest, tracesJson([{}, {}, {}, {}]))).outcome.kind).toBe("accepted");
    const { outcome, releases } = await ingestOnce(ingest, tracesJson([{}, {}]));
    expect(outcome.kind).toBe("refused");
    const error = (outcome as Extract<IngestOutcome, { kind: "refused" }>).error;
    expect(error.code).toBe("rate_limited");
    expect(error.retryAfterS).toBeGreaterThanOrEqual(1);
    expect(error.message).toMatch(/1 spans\/s/);
    expect([sink.rows.length, releases]).toEqual([4, 1]);
    const other = await ingest.ingest({ principal: { ...ACME_KEY, keyId: "k-other" }, format: "json", body: { bytes: Buffer.from(tracesJson([{}])), release: () => undefined } });
    expect(other.kind).toBe("accepted");
  });

  it("refuses with the sink's own error when the spool is full, and lets other errors through", async () => {
    const full: SpanSink = {
      accept: async () => {
        throw new CollectorError("overloaded", "spool full", { retryAfterS: 2 });
      },
    };
    const { outcome } = await ingestOnce(service(full), tracesJson([{}]));
    expect(outcome).toMatchObject({ kind: "refused", error: { code: "overloaded", retryAfterS: 2 } });

    const broken: SpanSink = {
      accept: async () => {
        throw new TypeError("a bug");
      },
    };
    await expect(ingestOnce(service(broken), tracesJson([{}]))).rejects.toThrow(TypeError);
  });
});
