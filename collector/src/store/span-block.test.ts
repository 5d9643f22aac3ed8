import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Session } from "chdb";
import { afterAll } from "vitest";
import { decodeNativeBlocks, NativeFormatError, NativeWriter } from "./native-block.js";
import { SPAN_BLOCK_COLUMNS, decodeSpanBlocks, encodeSpanBlock, spanBlockColumnNames } from "./span-block.js";
import { plainSpanFields, type SpanRow } from "./span-row.js";

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
    ...plainSpanFields(),
    ...overrides,
  };
}

const viaUtf8 = (s: string): string => Buffer.from(s, "utf8").toString("utf8");

describe("span blocks", () => {
  it("round-trip any strings (quotes, newlines, NULs, unicode, long values) and any numbers of attributes", () => {
    const text = fc.string({ unit: "binary", maxLength: 300 });
    fc.assert(
      fc.property(
        fc.array(fc.record({ name: text, service: text, attributes: fc.dictionary(text, text, { maxKeys: 12 }), start: fc.bigInt({ min: 0n, max: 2n ** 63n - 1n }) }), { minLength: 1, maxLength: 30 }),
        (specs) => {
          const rows = specs.map((s, i) =>
            row({ name: s.name, serviceName: s.service, spanId: i.toString(16).padStart(16, "0"), attributes: s.attributes, startTimeUnixNano: s.start.toString() }),
          );
          const back = decodeSpanBlocks(encodeSpanBlock(rows, () => 30));
          // Lone surrogates cannot survive UTF-8 in any encoding; compare what UTF-8 can carry.
          expect(back.map((r) => [r.name, r.serviceName, r.attributes, r.startTimeUnixNano])).toEqual(
            rows.map((r) => [viaUtf8(r.name), viaUtf8(r.serviceName), Object.fromEntries(Object.entries(r.attributes).map(([k, v]) => [viaUtf8(k), viaUtf8(v)])), r.startTimeUnixNano]),
          );
        },
      ),
      { numRuns: 200 },
    );
  });

  it("keep every field and stamp each row with its own tenant's clamped retention", () => {
    const rows = [row({ tenantId: "a" }), row({ tenantId: "b", parentSpanId: "ef".repeat(8), startTimeUnixNano: "5" }), row({ tenantId: "a", statusCode: 2, durationNs: 2 ** 40 + 3 })];
    const payload = encodeSpanBlock(rows, (t) => (t === "a" ? 0 : 1e9));
    const [block] = decodeNativeBlocks(payload);
    expect(block!.columns.map((c) => [c.name, c.type])).toEqual(SPAN_BLOCK_COLUMNS);
    expect(block!.columns.find((c) => c.name === "retention_days")!.values).toEqual([1, 65535, 1]);
    expect(decodeSpanBlocks(payload)).toEqual(rows);
  });

  it("keep types, scope, trace state, flags, events and links, and name a payload's columns", () => {
    const full = row({
      attributes: { "gen_ai.usage.input_tokens": "45", "gen_ai.request.stream": "false", "gen_ai.response.finish_reasons": '["stop"]', long: "x".repeat(3) },
      attributeTypes: { "gen_ai.usage.input_tokens": "int", "gen_ai.request.stream": "bool", "gen_ai.response.finish_reasons": "string[]", long: "truncated" },
      resourceAttributes: { "service.name": "svc", "process.pid": "42" },
      resourceAttributeTypes: { "process.pid": "int" },
      scopeName: "@troupe/runtime",
      scopeVersion: "1.2.3",
      traceState: "vendor=a,other=b",
      flags: 0x301,
      events: [{ timeUnixNano: "1700000000123456790", name: "exception", attributes: { "exception.type": "TypeError", n: "1.5" }, attributeTypes: { n: "double" } }],
      links: [{ traceId: "12".repeat(16), spanId: "34".repeat(8), traceState: "k=v", flags: 1, attributes: { "troupe.agent.type": "a" }, attributeTypes: {} }],
    });
    const payload = encodeSpanBlock([full, row()], () => 30);
    expect(decodeSpanBlocks(payload)).toEqual([full, row()]);
    expect(spanBlockColumnNames(payload)).toEqual(SPAN_BLOCK_COLUMNS.map(([name]) => name));
    expect(() => spanBlockColumnNames(Buffer.from([5, 0]))).toThrow(NativeFormatError);
  });

  it("store a start time that is not a nanosecond count fitting DateTime64 as 0", () => {
    const starts = ["-5", "1e9", "", "0x10", "18446744073709551615", " 12", "9223372036854775807"];
    const back = decodeSpanBlocks(encodeSpanBlock(starts.map((s) => row({ startTimeUnixNano: s })), () => 30));
    expect(back.map((r) => r.startTimeUnixNano)).toEqual(["0", "0", "0", "0", "0", "0", "9223372036854775807"]);
  });

  it("rows sharing one resource object keep their own tenant's retention and their own resource", () => {
    const shared = { "service.name": "svc", "host.name": "h" };
    const rows = [row({ tenantId: "a", resourceAttributes: shared }), row({ tenantId: "b", resourceAttributes: shared }), row({ tenantId: "b", resourceAttributes: { "service.name": "other" } })];
    const payload = encodeSpanBlock(rows, (t) => (t === "a" ? 7 : 9));
    expect(decodeNativeBlocks(payload)[0]!.columns.find((c) => c.name === "retention_days")!.values).toEqual([7, 9, 9]);
    expect(decodeSpanBlocks(payload).map((r) => r.resourceAttributes)).toEqual([shared, shared, { "service.name": "other" }]);
  });

  it("use wider dictionary indexes past 256 and 65,536 distinct values", () => {
    for (const n of [300, 70_000]) {
      const rows = Array.from({ length: n }, (_, i) => row({ serviceName: `svc-${i}`, attributes: { [`k${i % 700}`]: "v" } }));
      const back = decodeSpanBlocks(encodeSpanBlock(rows, () => 30));
      expect(back.map((r) => r.serviceName)).toEqual(rows.map((r) => r.serviceName));
      expect(back[n - 1]!.attributes).toEqual(rows[n - 1]!.attributes);
    }
  });

  it("concatenate: two encodings back to back decode as both batches", () => {
    const a = encodeSpanBlock([row({ spanId: "1".repeat(16) })], () => 30);
    const b = encodeSpanBlock([row({ spanId: "2".repeat(16) }), row({ spanId: "3".repeat(16) })], () => 30);
    expect(decodeSpanBlocks(Buffer.concat([a, b])).map((r) => r.spanId)).toEqual(["1", "2", "3"].map((c) => c.repeat(16)));
  });

  it("refuse truncated or foreign bytes with a NativeFormatError, never reading past the end", () => {
    const payload = encodeSpanBlock([row(), row({ spanId: "ef".repeat(8) })], () => 30);
    for (const cut of [1, 7, 40, payload.length - 1]) expect(() => decodeSpanBlocks(payload.subarray(0, cut))).toThrow(NativeFormatError);
    expect(() => decodeSpanBlocks(Buffer.from('["acme","x"]\n'))).toThrow(NativeFormatError);
  });
});

describe("span blocks in the engine", () => {
  const dir = mkdtempSync(join(tmpdir(), "troupe-span-block-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("are read by ClickHouse as the exact values encoded, in both the engine's dictionary widths", () => {
    const session = new Session(join(dir, "db"));
    try {
      const rows = Array.from({ length: 300 }, (_, i) =>
        row({
          tenantId: `t${i % 3}`,
          spanId: i.toString(16).padStart(16, "0"),
          name: i === 7 ? "naïve \"quoted\"\n日本語" : `op-${i}`,
          serviceName: `svc-${i}`,
          startTimeUnixNano: (1_700_000_000_123_456_789n + BigInt(i)).toString(),
          durationNs: 2 ** 53 - i,
          attributes: { "gen_ai.usage.input_tokens": String(i), [`k${i}`]: "x".repeat(i) },
          attributeTypes: { "gen_ai.usage.input_tokens": "int" },
          scopeName: `scope-${i % 2}`,
          flags: i,
          events: i === 7 ? [{ timeUnixNano: "1700000000123456800", name: "exception", attributes: {}, attributeTypes: {} }] : [],
        }),
      );
      const file = join(dir, "spans.native");
      writeFileSync(file, encodeSpanBlock(rows, (t) => (t === "t0" ? 7 : 30)));
      const out = session
        .query(
          `SELECT tenant_id, span_id, name, toString(start_time) AS start, toString(duration_ns) AS d, service_name, attributes, retention_days, attribute_types, scope_name, flags, JSONExtractString(events, 1, 'name') AS event FROM file('${file}', Native) ORDER BY span_id FORMAT JSONEachRow`,
        )
        .toString()
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(out).toHaveLength(300);
      expect(out[7]).toMatchObject({ tenant_id: "t1", name: "naïve \"quoted\"\n日本語", start: "2023-11-14 22:13:20.123456796", d: String(2 ** 53 - 7), service_name: "svc-7", retention_days: 30 });
      expect(out[7]!.attributes).toEqual({ "gen_ai.usage.input_tokens": "7", k7: "xxxxxxx" });
      expect(out[7]).toMatchObject({ attribute_types: { "gen_ai.usage.input_tokens": "int" }, scope_name: "scope-1", flags: 7, event: "exception" });
      expect(out[8]).toMatchObject({ flags: 8, event: "" });
      expect(out[299]).toMatchObject({ tenant_id: "t2", service_name: "svc-299", retention_days: 30 });
      expect(out[0]).toMatchObject({ tenant_id: "t0", retention_days: 7 });
    } finally {
      session.close();
    }
  });
});

describe("NativeWriter integer text", () => {
  it("writes a safe integer as String(n) writes it", () => {
    fc.assert(
      fc.property(fc.oneof(fc.integer(), fc.maxSafeInteger(), fc.constantFrom(0, -0, 9, 10, 99, 100, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 2 ** 53, 1e21, -1.5)), (n) => {
        const a = new NativeWriter();
        a.integerText(n);
        const b = new NativeWriter();
        b.string(String(n));
        expect(a.view().equals(b.view())).toBe(true);
      }),
    );
  });
});
