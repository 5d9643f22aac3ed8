import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { encodeSpanBlock, spanBlockBytes } from "../store/span-block.js";
import type { Principal } from "../tenants/principal.js";
import { decodeJsonTraces } from "./decode-json.js";
import { DEFAULT_INGEST_LIMITS } from "./ingest-limits.js";
import { decodeJsonSpanBlock, releaseJsonSpanBlock } from "./json-span-block.js";
import { buildSpanRows } from "./span-rows.js";

// The direct JSON path held to the general one (decodeJsonTraces + buildSpanRows + addRow) on
// random requests: whenever it takes a request, the very same block bytes and counts.

const limits = { ...DEFAULT_INGEST_LIMITS, maxAttributesPerSpan: 8, maxEventsPerSpan: 2, maxLinksPerSpan: 2, maxAnyValueDepth: 3 };
const retention = (t: string): number => (t === "acme" ? 7 : 30);
const NOW_MS = Date.now();
const NOW_NS = BigInt(NOW_MS) * 1_000_000n;
const DAY_NS = 86_400_000_000_000n;

/** JSON text written as it is (a number literal in a chosen form). */
class Raw {
  constructor(readonly text: string) {}
}
/** A string written with some of its characters as \u escapes (what JSON.stringify never does). */
class Escaped {
  constructor(readonly text: string) {}
}
/** An object whose members are written in this order, with these unknown members among them. */
type Obj = { [key: string]: Value };
type Value = string | number | boolean | null | Raw | Escaped | Value[] | Obj;

/** Whitespace between tokens: none (as exporters write), or any JSON allows. */
function serialize(v: Value, spaced: boolean): string {
  const ws = spaced ? " \n\t " : "";
  if (v instanceof Raw) return v.text;
  if (v instanceof Escaped) return `"${[...v.text].map((c, i) => (i % 2 === 0 ? `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}` : JSON.stringify(c).slice(1, -1))).join("")}"`;
  if (Array.isArray(v)) return `[${ws}${v.map((e) => serialize(e, spaced)).join(`${ws},${ws}`)}${ws}]`;
  if (v !== null && typeof v === "object") return `{${ws}${Object.entries(v).map(([k, e]) => `${JSON.stringify(k)}${ws}:${ws}${serialize(e, spaced)}`).join(`${ws},${ws}`)}${ws}}`;
  return JSON.stringify(v);
}

const text = fc.oneof(
  { weight: 4, arbitrary: fc.string({ maxLength: 12 }) },
  { weight: 2, arbitrary: fc.string({ unit: "binary", maxLength: 12 }) },
  { weight: 1, arbitrary: fc.constantFrom('say "hi"', "C:\\path", "tab\there", "é😀", "\ud800 lone", "line\nbreak", "\u2028") },
  { weight: 1, arbitrary: fc.string({ minLength: 250, maxLength: 300 }) },
  { weight: 1, arbitrary: fc.string({ unit: "grapheme", minLength: 90, maxLength: 140 }) },
);
/** A string value in any of its JSON spellings. */
const jsonString = (s: fc.Arbitrary<string>) => fc.tuple(s, fc.nat(9)).map(([x, k]): Value => (k === 0 ? new Escaped(x) : x));
/** Unknown members, as a newer exporter may send at any level. */
const unknown = fc.oneof(
  { weight: 4, arbitrary: fc.constant({}) },
  { weight: 1, arbitrary: fc.dictionary(fc.constantFrom("droppedAttributesCount", "schemaUrl", "futureField", "entityRefs", "__proto__", "x_y"), fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<Value>, { maxKeys: 2 }) },
);
const optional = <T extends Value>(a: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> => fc.option(a, { nil: undefined, freq: 3 });
const hexOf = (bytes: number) =>
  fc.tuple(fc.uint8Array({ minLength: bytes, maxLength: bytes }), fc.nat(3)).map(([b, c]) => {
    const hex = Buffer.from(b).toString("hex");
    return c === 0 ? hex.toUpperCase() : c === 1 ? hex.replace(/[a-f]/, (x) => x.toUpperCase()) : hex;
  });

/**
 * Requests in all their forms. `wild` ones also hold, now and then, what the direct path leaves to
 * the general one (invalid values, snake_case, base64 ids, nulls, refused spans, members out of
 * order); the others only what it takes (any of which may still be refused, e.g. a tenant claim).
 */
function requests(wild: boolean): fc.Arbitrary<Obj> {
  /** Mostly `usual`; in wild requests, now and then one of `unusual`. */
  const mostly = <T>(usual: fc.Arbitrary<T>, ...unusual: fc.Arbitrary<T>[]): fc.Arbitrary<T> =>
    wild && unusual.length > 0 ? fc.oneof({ weight: 12, arbitrary: usual }, ...unusual.map((arbitrary) => ({ weight: 1, arbitrary }))) : usual;
  const intValue = mostly(
    fc.oneof(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map((n): Value => String(n)), fc.integer().map((n): Value => new Raw(String(n))), fc.bigInt({ min: -(10n ** 15n) + 1n, max: 10n ** 15n - 1n }).map((n): Value => new Raw(String(n)))),
    // What the general path reads otherwise: past 10^15 as numbers, past int64, leading zeros, -0, forms with a fraction.
    fc.constantFrom<Value>(new Raw("9007199254740993"), "9223372036854775808", "-9223372036854775809", "007", "-0", new Raw("-0"), new Raw("5.0"), new Raw("1e3"), "", "12a"),
  );
  const doubleValue = mostly(
    fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }).map((n): Value => new Raw(JSON.stringify(n))), fc.constantFrom<Value>("NaN", "Infinity", "-Infinity", new Raw("1.50"), new Raw("-0"), new Raw("1E+2"), new Raw("0.1"), new Raw("123456789012345678"), 5)),
    fc.constantFrom<Value>(new Raw("1e400"), "nan", "5"),
  );
  const bytesValue = mostly(
    fc.uint8Array({ maxLength: 9 }).map((b): Value => Buffer.from(b).toString("base64")),
    fc.constantFrom<Value>("not base64!", "QQ===", new Escaped("QQ==")),
  );
  const leaf: fc.Arbitrary<Obj> = mostly(
    fc.oneof(
      { weight: 6, arbitrary: fc.record({ stringValue: jsonString(text) }) },
      { weight: 2, arbitrary: fc.record({ intValue }) },
      { weight: 1, arbitrary: fc.record({ boolValue: fc.boolean() }) },
      { weight: 2, arbitrary: fc.record({ doubleValue }) },
      { weight: 1, arbitrary: fc.record({ bytesValue }) },
      { weight: 1, arbitrary: fc.constantFrom<Obj>({}, { futureValue: 1 }) },
    ),
    fc.constantFrom<Obj>({ stringValue: null }, { stringValue: "a", intValue: 1 }, { string_value: "a" }, { kvlistValue: { values: [] } }, { boolValue: "true" }),
  );
  const arrayOf = (e: fc.Arbitrary<Obj>): fc.Arbitrary<Obj> => fc.array(e, { maxLength: 4 }).map((values) => ({ arrayValue: { values } }));
  /** Arrays: mostly of one kind (typed), sometimes mixed, nested or of lists. */
  const array = mostly(
    fc.oneof(
      arrayOf(fc.record({ stringValue: jsonString(fc.oneof(fc.stringMatching(/^[a-z_]{0,10}$/), text)) })),
      arrayOf(fc.record({ intValue })),
      arrayOf(fc.record({ doubleValue })),
      arrayOf(fc.record({ boolValue: fc.boolean() })),
      arrayOf(leaf),
    ),
    arrayOf(fc.oneof(leaf, arrayOf(leaf))),
    fc.constant<Obj>({ arrayValue: { values: [{ arrayValue: { values: [{ arrayValue: {} }] } }] } }),
  );
  const anyValue = fc.tuple(fc.oneof({ weight: 5, arbitrary: leaf }, { weight: 2, arbitrary: array }), unknown, fc.boolean()).map(([v, extra, first]) => (first ? { ...extra, ...v } : { ...v, ...extra }));

  // Allow-listed keys, keys to drop, near misses, the tenant's.
  const spanKeys = ["gen_ai.request.model", "gen_ai.usage.input_tokens", "gen_ai.response.finish_reasons", "troupe.agent.type", "gen_ai.prompt", "exception.type", "gen_ai.reqXest.model", "troupX.agent.type"];
  const resourceKeys = ["service.name", "host.name", "process.pid", "process.command_line"];
  const eventKeys = ["exception.type", "exception.message", "gen_ai.usage.input_tokens", "error.type"];
  const tenantValue = mostly(fc.constant<Obj>({ stringValue: "acme" }), fc.constantFrom<Value>("globex", "initech", "not a tenant!", "", 5).map((v): Obj => (typeof v === "number" ? { intValue: v } : { stringValue: v })));
  /** Attribute lists: in wild requests a key may come twice (which the direct path leaves to the general one). */
  const attributeList = (keys: readonly string[], maxLength: number): fc.Arbitrary<Obj[]> =>
    wild ? fc.array(keyValue(keys), { maxLength }) : fc.uniqueArray(keyValue(keys), { maxLength, selector: (kv) => String(kv["key"] instanceof Escaped ? kv["key"].text : kv["key"]) });
  const keyValue = (keys: readonly string[]): fc.Arbitrary<Obj> =>
    fc.oneof(
      { weight: 10, arbitrary: fc.tuple(fc.constantFrom(...keys), anyValue, fc.nat(19)).map(([key, value, k]): Obj => (k === 0 ? { value, key } : k === 1 ? { key: new Escaped(key), value } : { key, value })) },
      { weight: 1, arbitrary: fc.record({ key: fc.constant("troupe.tenant.id"), value: tenantValue }) },
      { weight: 1, arbitrary: mostly(fc.constant<Obj>({ key: "troupe.agent.type" }), fc.constantFrom<Obj>({ key: "troupe.agent.type", value: null }, { value: { stringValue: "no key" } }, { key: 5 })) },
    );
  const id = (bytes: number) =>
    mostly(
      hexOf(bytes),
      fc.constant("0".repeat(bytes * 2)),
      fc.uint8Array({ minLength: bytes, maxLength: bytes }).map((b) => Buffer.from(b).toString("base64")),
      fc.constantFrom("", "xyz", "0".repeat(bytes * 2 - 1) + "g"),
    );
  // Times: strings in the window; in wild requests also numbers past 2^53, outside the window, or odd forms.
  const startTime = mostly(
    fc.bigInt({ min: NOW_NS - 3000n * DAY_NS, max: NOW_NS + 60_000_000_000n }).map((n): Value => String(n)),
    fc.bigInt({ min: NOW_NS - 3000n * DAY_NS, max: NOW_NS }).map((n): Value => new Raw(String(n))),
    fc.constantFrom<Value>("0", String(NOW_NS + 11n * 60_000_000_000n), String(NOW_NS - 3651n * DAY_NS), "18446744073709551615", "018446744073709551", new Raw("0"), ""),
  );
  const endTime = mostly(
    fc.oneof(fc.bigInt({ min: NOW_NS - 10n * DAY_NS, max: NOW_NS + 10n * DAY_NS }).map(String), fc.bigInt({ min: 0n, max: 2n ** 63n }).map(String), fc.integer({ min: 0 }).map((n): Value => new Raw(String(n)))),
    fc.constantFrom<Value>(new Raw("1e18"), "18446744073709551615", new Raw("18446744073709551615"), "-1"),
  );
  const event = fc.record(
    { timeUnixNano: mostly(fc.oneof(startTime, endTime), fc.constant<Value>("x")), name: jsonString(text), attributes: attributeList(eventKeys, 3), droppedAttributesCount: fc.constant(0) },
    { requiredKeys: [] },
  );
  const link = mostly(
    fc.record(
      {
        traceId: id(16),
        spanId: id(8),
        traceState: jsonString(fc.oneof(fc.constant("rojo=00f067aa0ba902b7"), text)),
        flags: mostly(fc.constantFrom<Value>(0, 256, 257, 769, 4294967295), fc.constantFrom<Value>(-1, 4294967296, 1.5, "1")),
        attributes: attributeList(spanKeys, 2),
      },
      { requiredKeys: ["traceId", "spanId"] },
    ) as fc.Arbitrary<Obj>,
    fc.constant<Obj>({ spanId: "b7ad6b7169203331" }),
  );
  const span = fc
    .tuple(
      fc.record({
        traceId: id(16),
        spanId: id(8),
        parentSpanId: optional(mostly(fc.oneof(hexOf(8), fc.constant("")), fc.constantFrom<Value>(null, "xyz"))),
        traceState: optional(jsonString(fc.oneof(fc.constant(""), fc.constant("congo=t61rcWkgMzE"), text))),
        name: optional(jsonString(text)),
        kind: optional(mostly(fc.integer({ min: 0, max: 5 }) as fc.Arbitrary<Value>, fc.constantFrom<Value>("SPAN_KIND_SERVER", 6, new Raw("2.0")))),
        startTimeUnixNano: mostly(startTime, fc.constant(undefined)),
        endTimeUnixNano: optional(endTime),
        attributes: optional(attributeList(spanKeys, wild ? 9 : 6)),
        droppedAttributesCount: optional(fc.nat(3)),
        events: optional(fc.array(event, { maxLength: wild ? 3 : 2 })),
        status: optional(mostly(fc.record({ code: fc.integer({ min: 0, max: 2 }), message: fc.constantFrom("", "secret") }, { requiredKeys: [] }) as fc.Arbitrary<Obj>, fc.constant<Obj>({ code: "STATUS_CODE_ERROR" }))),
        links: optional(fc.array(link, { maxLength: wild ? 3 : 2 })),
        flags: optional(fc.constantFrom(0, 1, 256, 257, 769)),
      }),
      unknown,
      fc.nat(),
      mostly(fc.constant<Obj>({}), fc.constantFrom<Obj>({ trace_id: "0af7651916cd43dd8448eb211c80319c" }, { name: "a", name2: "b" })),
    )
    .map(([s, extra, order, odd]) => {
      // Members in a random order, unknown ones among them.
      const entries = Object.entries({ ...s, ...extra, ...odd }).filter(([, v]) => v !== undefined) as [string, Value][];
      for (let i = entries.length - 1; i > 0; i--) {
        const j = (order + i * 7919) % (i + 1);
        [entries[i], entries[j]] = [entries[j]!, entries[i]!];
      }
      return Object.fromEntries(entries) as Obj;
    });
  const scope: fc.Arbitrary<Obj> = fc.record(
    { name: jsonString(fc.oneof(fc.constant("@troupe/runtime"), text)), version: jsonString(fc.constantFrom("0.1.0", "", "x".repeat(300))), attributes: fc.constant<Value>([{ key: "a", value: { stringValue: "b" } }]) },
    { requiredKeys: [] },
  );
  /** An object whose members are these, in this order (the absent ones left out). */
  const obj = (members: [string, Value | undefined][]): Obj => Object.fromEntries(members.filter(([, v]) => v !== undefined)) as Obj;
  const scopeSpans = fc
    .tuple(fc.option(scope, { nil: undefined }), fc.array(span, { minLength: wild ? 0 : 1, maxLength: 3 }), fc.option(fc.constant("https://opentelemetry.io/schemas/1.24.0"), { nil: undefined }), mostly(fc.constant(false), fc.constant(true)))
    .map(([s, spans, schemaUrl, scopeLast]) => obj(scopeLast ? [["spans", spans], ["scope", s]] : [["scope", s], ["spans", spans], ["schemaUrl", schemaUrl]]));
  const resource: fc.Arbitrary<Obj> = fc.record({ attributes: attributeList(resourceKeys, 4), droppedAttributesCount: fc.constant(0) }, { requiredKeys: [] });
  const resourceSpans = fc
    .tuple(fc.option(resource, { nil: undefined }), fc.array(scopeSpans, { minLength: wild ? 0 : 1, maxLength: 2 }), mostly(fc.constant(false), fc.constant(true)))
    .map(([r, list, resourceLast]) => obj(resourceLast ? [["scopeSpans", list], ["resource", r]] : [["resource", r], ["scopeSpans", list]]));
  return fc.tuple(fc.array(resourceSpans, { minLength: wild ? 0 : 1, maxLength: wild ? 3 : 2 }), mostly(fc.constant("resourceSpans"), fc.constant("resource_spans"))).map(([list, name]): Obj => ({ [name]: list }));
}

const principal = fc.constantFrom<Principal>({ kind: "tenant-ingest", keyId: "k1", tenantId: "acme" }, { kind: "service-ingest", keyId: "k2", allowedTenants: ["acme", "globex"] });
const body = fc.tuple(fc.oneof(requests(false), requests(true)), fc.nat(7)).map(([r, k]) => Buffer.from(serialize(r, k === 0), "utf8"));

/** What the general path stores for a body, or the code of the error it answers. */
function general(bytes: Buffer, p: Principal) {
  try {
    return { ...buildSpanRows(decodeJsonTraces(bytes, limits), p, limits, NOW_MS), error: undefined };
  } catch (err) {
    return { error: (err as { code?: string }).code ?? String(err) };
  }
}

/** Checks the direct path against the general one on `bytes`; whether it took them. */
function compare(bytes: Buffer, p: Principal): boolean {
  const fast = decodeJsonSpanBlock(bytes, p, limits, NOW_MS);
  if (fast === undefined) return false;
  try {
    const slow = general(bytes, p);
    expect(slow.error).toBeUndefined();
    if (slow.error !== undefined) return true;
    expect(slow.rejected.size).toBe(0);
    expect(spanBlockBytes(fast.builder.finish(retention).payload).equals(encodeSpanBlock(slow.rows, retention))).toBe(true);
    expect(fast.spanCount).toBe(slow.rows.length);
    expect(fast.droppedAttributes).toEqual(slow.droppedAttributes);
    expect(fast.truncatedAttributes).toBe(slow.truncatedAttributes);
    return true;
  } finally {
    releaseJsonSpanBlock(fast);
  }
}

describe("OTLP/JSON straight into a span block, against the general path", () => {
  it("gives the same block bytes and counts whenever it takes a request, and takes most ordinary ones", () => {
    let withRows = 0;
    let left = 0;
    fc.assert(
      fc.property(body, principal, (bytes, p) => {
        if (!compare(bytes, p)) {
          left++;
          return;
        }
        const slow = general(bytes, p);
        if (slow.error === undefined && slow.rows.length > 0) withRows++;
      }),
      { numRuns: 3000 },
    );
    // Not vacuous: the generator makes unusual requests on purpose, but plenty of ordinary ones.
    expect(withRows).toBeGreaterThan(600);
    expect(left).toBeGreaterThan(300);
  });

  it("takes every request in the forms it reads that the general path stores whole", () => {
    let withRows = 0;
    fc.assert(
      fc.property(fc.tuple(requests(false), fc.boolean()).map(([r, spaced]) => Buffer.from(serialize(r, spaced), "utf8")), principal, (bytes, p) => {
        const slow = general(bytes, p);
        if (slow.error !== undefined || slow.rejected.size > 0) return;
        expect(compare(bytes, p)).toBe(true);
        if (slow.rows.length > 0) withRows++;
      }),
      { numRuns: 1500 },
    );
    expect(withRows).toBeGreaterThan(300);
  });

  it("never throws on damaged bodies, and takes one only when it stores what the general path stores", () => {
    const damage = fc.oneof(
      fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })).map(([at, byte]) => (b: Buffer) => Buffer.concat([b.subarray(0, at % (b.length + 1)), Buffer.from([byte]), b.subarray((at % (b.length + 1)) + 1)])),
      fc.tuple(fc.nat(), fc.nat(40)).map(([at, n]) => (b: Buffer) => Buffer.concat([b.subarray(0, at % (b.length + 1)), b.subarray((at % (b.length + 1)) + n)])),
      fc.tuple(fc.nat(), fc.constantFrom('"', "\\", ",", "{}", "[]", "null", '"key":"k",', '"traceId":"0af7651916cd43dd8448eb211c80319c",', "\xff", "\u0000", "1e999", "-")).map(
        ([at, insert]) =>
          (b: Buffer) =>
            Buffer.concat([b.subarray(0, at % (b.length + 1)), Buffer.from(insert, insert === "\xff" ? "latin1" : "utf8"), b.subarray(at % (b.length + 1))]),
      ),
      fc.tuple(fc.nat(), fc.nat(60)).map(([at, n]) => (b: Buffer) => Buffer.concat([b, b.subarray(at % (b.length + 1), (at % (b.length + 1)) + n)])),
    );
    let taken = 0;
    fc.assert(
      fc.property(body, principal, fc.array(damage, { minLength: 1, maxLength: 3 }), (bytes, p, damages) => {
        const damaged = damages.reduce((b, d) => d(b), bytes);
        if (compare(damaged, p)) taken++;
      }),
      { numRuns: 3000 },
    );
    expect(taken).toBeGreaterThan(50);
  });
});
