import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { SPAN_INSERT_COLUMNS, decodeSpanInsertLines, encodeSpanInsertLines, nanosToSecondsText, secondsTextToNanos } from "./span-insert-lines.js";
import type { SpanRow } from "./span-row.js";

function row(overrides: Partial<SpanRow> = {}): SpanRow {
  return {
    tenantId: "acme",
    traceId: "ab".repeat(16),
    spanId: "cd".repeat(8),
    parentSpanId: "",
    name: "chat",
    kind: 3,
    startTimeUnixNano: "1700000000123456789",
    durationNs: 2_500_000,
    statusCode: 1,
    serviceName: "svc",
    attributes: { "gen_ai.request.model": "m" },
    resourceAttributes: { "service.name": "svc" },
    ...overrides,
  };
}

describe("span insert lines", () => {
  it("round-trip any strings (quotes, newlines, tabs, backslashes, unicode) one line per row", () => {
    const text = fc.string({ unit: "binary", maxLength: 40 });
    fc.assert(
      fc.property(fc.array(fc.record({ name: text, service: text, key: text, value: text }), { minLength: 1, maxLength: 20 }), (specs) => {
        const rows = specs.map((s, i) => row({ name: s.name, serviceName: s.service, spanId: i.toString(16).padStart(16, "0"), attributes: { [s.key]: s.value } }));
        const payload = encodeSpanInsertLines(rows, () => 30);
        expect(payload.toString("utf8").split("\n")).toHaveLength(rows.length + 1); // no value breaks a line
        const back = decodeSpanInsertLines(payload);
        // Lone surrogates cannot survive UTF-8 in any encoding; compare what UTF-8 can carry.
        const viaUtf8 = (s: string) => Buffer.from(s, "utf8").toString("utf8");
        expect(back.map((r) => [r.name, r.serviceName, r.attributes])).toEqual(
          rows.map((r) => [viaUtf8(r.name), viaUtf8(r.serviceName), Object.fromEntries(Object.entries(r.attributes).map(([k, v]) => [viaUtf8(k), viaUtf8(v)]))]),
        );
      }),
      { numRuns: 200 },
    );
  });

  it("keep every field and stamp each row with its own tenant's clamped retention", () => {
    const rows = [row({ tenantId: "a" }), row({ tenantId: "b", parentSpanId: "ef".repeat(8), startTimeUnixNano: "5" }), row({ tenantId: "a", statusCode: 2 })];
    const payload = encodeSpanInsertLines(rows, (t) => (t === "a" ? 0 : 1e9));
    const lines = payload.toString("utf8").trim().split("\n").map((l) => JSON.parse(l) as unknown[]);
    expect(lines.map((l) => l.length)).toEqual([SPAN_INSERT_COLUMNS.length, SPAN_INSERT_COLUMNS.length, SPAN_INSERT_COLUMNS.length]);
    expect(lines.map((l) => l[SPAN_INSERT_COLUMNS.indexOf("retention_days")])).toEqual([1, 65535, 1]);
    expect(lines[1]?.[SPAN_INSERT_COLUMNS.indexOf("start_time")]).toBe("0.000000005");
    expect(decodeSpanInsertLines(payload)).toEqual(rows);
  });

  it("rows sharing one resource object still get their own tenant's retention and their own resource", () => {
    const shared = { "service.name": "svc", "host.name": "h" };
    const rows = [row({ tenantId: "a", resourceAttributes: shared }), row({ tenantId: "b", resourceAttributes: shared }), row({ tenantId: "b", resourceAttributes: { "service.name": "other" } })];
    const payload = encodeSpanInsertLines(rows, (t) => (t === "a" ? 7 : 9));
    const lines = payload.toString("utf8").trim().split("\n").map((l) => JSON.parse(l) as unknown[]);
    expect(lines.map((l) => l[SPAN_INSERT_COLUMNS.indexOf("retention_days")])).toEqual([7, 9, 9]);
    expect(decodeSpanInsertLines(payload).map((r) => r.resourceAttributes)).toEqual([shared, shared, { "service.name": "other" }]);
  });

  it("concatenate: two encodings back to back decode as both batches", () => {
    const a = encodeSpanInsertLines([row({ spanId: "1".repeat(16) })], () => 30);
    const b = encodeSpanInsertLines([row({ spanId: "2".repeat(16) }), row({ spanId: "3".repeat(16) })], () => 30);
    expect(decodeSpanInsertLines(Buffer.concat([a, b])).map((r) => r.spanId)).toEqual(["1", "2", "3"].map((c) => c.repeat(16)));
  });

  it("write nanosecond start times as exact seconds text, and read them back", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 18446744073709551615n }), (ns) => {
        const text = nanosToSecondsText(ns.toString());
        expect(text).toMatch(/^\d+\.\d{9}$/);
        expect(secondsTextToNanos(text)).toBe(ns.toString());
      }),
    );
    expect(nanosToSecondsText("000000000001700000000")).toBe("0.000000000"); // 21 digits: not a nanosecond count
    expect(nanosToSecondsText("0001700000000000000000")).toBe("0.000000000");
    expect(nanosToSecondsText("01700000000000000000")).toBe("1700000000.000000000");
    expect(nanosToSecondsText("-5")).toBe("0.000000000");
  });
});
