import { describe, expect, it } from "vitest";
import { z } from "zod";
import { timeParam } from "@troupe/contract/query-api";
import { parseParams, resolveRange } from "./request-params.js";
import { decodeTraceCursor, encodeTraceCursor } from "./trace-cursor.js";

describe("time parameters", () => {
  const parse = (v: string) => timeParam.safeParse(v);
  it("accepts epoch milliseconds and ISO-8601 (UTC unless an offset is given)", () => {
    expect(parse("1700000000000").data).toBe(1_700_000_000_000);
    expect(parse("2026-11-01").data).toBe(Date.UTC(2026, 10, 1));
    expect(parse("2026-11-01T12:30:00").data).toBe(Date.UTC(2026, 10, 1, 12, 30));
    expect(parse("2026-11-01T12:30:00.5Z").data).toBe(Date.UTC(2026, 10, 1, 12, 30, 0, 500));
    expect(parse("2026-11-01T12:30:00+02:00").data).toBe(Date.UTC(2026, 10, 1, 10, 30));
  });
  it("refuses anything else", () => {
    for (const bad of ["", "yesterday", "-1", "2026-13-45", "1e12", "2026-11-01'; DROP", "9".repeat(16)]) expect(parse(bad).success, bad).toBe(false);
    // Past what a nanosecond DateTime64 holds, a bound would overflow in SQL (a 500): refused instead.
    expect(parse("2262-04-11T23:47:16.854Z").success).toBe(true);
    for (const late of ["2262-04-11T23:47:16.855Z", "9999-12-31", "9223372036855"]) expect(parse(late).success, late).toBe(false);
  });
  it("ranges default, must be ordered and bounded", () => {
    expect(resolveRange(undefined, undefined, 10_000, 1000)).toEqual({ fromMs: 9000, toMs: 10_000 });
    expect(() => resolveRange(5, 5, 0, 1)).toThrow(/"from"/);
    expect(() => resolveRange(0, 500 * 86_400_000, 0, 1)).toThrow(/at most/);
  });
  it("parseParams names the bad or unknown parameter", () => {
    const schema = z.strictObject({ from: timeParam.optional() });
    expect(() => parseParams(schema, { from: "nope" })).toThrow(/invalid parameter "from"/);
    expect(() => parseParams(schema, { form: "1" })).toThrow(/unknown parameter "form"/);
  });
});

describe("trace cursor", () => {
  it("round-trips and refuses tampered or foreign text", () => {
    const c = { startNs: "1700000000123456789", traceId: "ab".repeat(16) };
    expect(decodeTraceCursor(encodeTraceCursor(c))).toEqual(c);
    for (const bad of ["", "!!", Buffer.from("1:xyz").toString("base64url"), Buffer.from(`99999999999999999999:${"a".repeat(32)}`).toString("base64url")]) {
      expect(() => decodeTraceCursor(bad)).toThrow(/cursor/);
    }
  });
});
