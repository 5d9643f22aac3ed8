// fast-check arbitraries for OTLP trace export bodies: structurally plausible requests (JSON and a
// hand-rolled protobuf encoding with the official field numbers), hostile values inside them, and
// byte-level mutations, so the decoders see both near-valid and garbage input.
import fc from "fast-check";

/** An AnyValue as generated: JSON-ish, possibly deeply nested, possibly with the wrong types. */
export type GenValue =
  | { s: string }
  | { b: boolean }
  | { i: bigint }
  | { d: number }
  | { bytes: Uint8Array }
  | { arr: GenValue[] }
  | { kv: Array<[string, GenValue]> }
  | { empty: true };

export interface GenSpan {
  traceId: Uint8Array;
  spanId: Uint8Array;
  parentSpanId: Uint8Array;
  name: string;
  kind: number;
  start: bigint;
  end: bigint;
  attributes: Array<[string, GenValue]>;
  events: Array<{ name: string; time: bigint; attributes: Array<[string, GenValue]> }>;
  status: number;
}

export interface GenRequest {
  resources: Array<{ attributes: Array<[string, GenValue]>; spans: GenSpan[] }>;
}

const KEYS = ["troupe.tenant.id", "troupe.agent.type", "gen_ai.request.model", "gen_ai.usage.input_tokens", "service.name", "prompt.text", "exception.type", "", "x".repeat(300)];

const key = fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...KEYS) }, { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 40 }) });

const leaf: fc.Arbitrary<GenValue> = fc.oneof(
  fc.record({ s: fc.oneof(fc.constantFrom("acme", "globex", "ACME", "acme\u0000", ""), fc.string({ unit: "binary", maxLength: 64 }), fc.constant("y".repeat(5000))) }),
  fc.record({ b: fc.boolean() }),
  fc.record({ i: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }) }),
  fc.record({ d: fc.double() }),
  fc.record({ bytes: fc.uint8Array({ maxLength: 32 }) }),
  fc.constant({ empty: true as const }),
);

/** A value nested up to `depth` levels (the collector allows 8). */
export const anyValue: fc.Arbitrary<GenValue> = fc.letrec<{ v: GenValue }>((tie) => ({
  v: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    leaf,
    fc.record({ arr: fc.array(tie("v"), { maxLength: 3 }) }),
    fc.record({ kv: fc.array(fc.tuple(key, tie("v")), { maxLength: 3 }) }),
  ),
})).v;

const attributes = fc.array(fc.tuple(key, anyValue), { maxLength: 8 });
const id = (n: number) =>
  fc.oneof(
    { weight: 10, arbitrary: fc.uint8Array({ minLength: n, maxLength: n }) },
    { weight: 2, arbitrary: fc.uint8Array({ maxLength: 40 }) },
    { weight: 1, arbitrary: fc.constant(new Uint8Array(n)) }, // all zero: invalid in OTLP, refused
  );

const NOW_NS = BigInt(Date.now()) * 1_000_000n;
const DAY_NS = 86_400_000_000_000n;
/** Start times the collector stores: the last 3000 days (it keeps 3650, and 10 minutes ahead). */
export const storedTime = fc.bigInt({ min: NOW_NS - 3000n * DAY_NS, max: NOW_NS });
/** Start times it refuses: none, 11 minutes ahead, older than the longest retention, past 2^63. */
const refusedTime = fc.constantFrom(0n, NOW_NS + 11n * 60_000_000_000n, NOW_NS - 3651n * DAY_NS, 2n ** 63n, 2n ** 64n - 1n);
const time = fc.oneof({ weight: 3, arbitrary: storedTime }, { weight: 1, arbitrary: refusedTime }, { weight: 1, arbitrary: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }) });

export const genSpan: fc.Arbitrary<GenSpan> = fc.record({
  traceId: id(16),
  spanId: id(8),
  parentSpanId: fc.oneof(fc.constant(new Uint8Array()), id(8)),
  name: fc.string({ unit: "binary", maxLength: 60 }),
  kind: fc.integer({ min: -2, max: 9 }),
  start: time,
  end: time,
  attributes,
  events: fc.array(fc.record({ name: fc.string({ maxLength: 10 }), time, attributes }), { maxLength: 3 }),
  status: fc.integer({ min: -1, max: 4 }),
});

export const genRequest: fc.Arbitrary<GenRequest> = fc.record({
  resources: fc.array(fc.record({ attributes, spans: fc.array(genSpan, { maxLength: 6 }) }), { maxLength: 3 }),
});

/**
 * Requests a tenant key should get stored: well-formed ids, no tenant claims, shallow values (the
 * hostile parts stay in names, keys and values).
 */
export const cleanRequest: fc.Arbitrary<GenRequest> = fc
  .record({
    resources: fc.array(
      fc.record({
        attributes: fc.array(fc.tuple(fc.constantFrom("service.name", "x.other"), leaf), { maxLength: 3 }),
        spans: fc.array(
          fc.record({
            traceId: fc.uint8Array({ minLength: 16, maxLength: 16 }),
            spanId: fc.uint8Array({ minLength: 8, maxLength: 8 }),
            parentSpanId: fc.constant(new Uint8Array()),
            name: fc.string({ unit: "binary", maxLength: 60 }),
            kind: fc.integer({ min: 0, max: 5 }),
            start: storedTime,
            end: storedTime,
            attributes: fc.array(fc.tuple(fc.constantFrom("troupe.agent.type", "gen_ai.request.model", "prompt.text", "gen_ai.usage.input_tokens"), leaf), { maxLength: 4 }),
            events: fc.constant([]),
            status: fc.integer({ min: 0, max: 2 }),
          }),
          { minLength: 1, maxLength: 5 },
        ),
      }),
      { minLength: 1, maxLength: 2 },
    ),
  })
  

// ---------------------------------------------------------------------------------------------
// OTLP/JSON

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString("hex");
}

/** An AnyValue as OTLP/JSON (non-finite doubles as their OTLP/JSON strings). */
export function jsonValue(v: GenValue): unknown {
  if ("s" in v) return { stringValue: v.s };
  if ("b" in v) return { boolValue: v.b };
  if ("i" in v) return { intValue: v.i.toString() };
  if ("d" in v) return { doubleValue: Number.isFinite(v.d) ? v.d : String(v.d) };
  if ("bytes" in v) return { bytesValue: Buffer.from(v.bytes).toString("base64") };
  if ("arr" in v) return { arrayValue: { values: v.arr.map(jsonValue) } };
  if ("kv" in v) return { kvlistValue: { values: v.kv.map(([k, x]) => ({ key: k, value: jsonValue(x) })) } };
  return {};
}

/** The request as OTLP/JSON text. */
export function toJson(r: GenRequest): string {
  return JSON.stringify({
    resourceSpans: r.resources.map((res) => ({
      resource: { attributes: res.attributes.map(([k, v]) => ({ key: k, value: jsonValue(v) })) },
      scopeSpans: [
        {
          scope: { name: "fuzz" },
          spans: res.spans.map((s) => ({
            traceId: hex(s.traceId),
            spanId: hex(s.spanId),
            parentSpanId: hex(s.parentSpanId),
            name: s.name,
            kind: s.kind,
            startTimeUnixNano: s.start.toString(),
            endTimeUnixNano: s.end.toString(),
            attributes: s.attributes.map(([k, v]) => ({ key: k, value: jsonValue(v) })),
            events: s.events.map((e) => ({ name: e.name, timeUnixNano: e.time.toString(), attributes: e.attributes.map(([k, v]) => ({ key: k, value: jsonValue(v) })) })),
            status: { code: s.status },
          })),
        },
      ],
    })),
  });
}

// ---------------------------------------------------------------------------------------------
// OTLP/protobuf (field numbers of opentelemetry/proto/trace/v1 and common/v1)

/** A protobuf varint (two's complement for negatives). */
export function varint(n: bigint): Buffer {
  const out: number[] = [];
  let v = BigInt.asUintN(64, n);
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v !== 0n) byte |= 0x80;
    out.push(byte);
  } while (v !== 0n);
  return Buffer.from(out);
}

/** A protobuf field tag. */
export function tag(field: number, wire: number): Buffer {
  return varint(BigInt((field << 3) | wire));
}

/** A length-delimited field (bytes, a string, a message from its parts). */
export function bytesField(field: number, data: Uint8Array | Buffer[]): Buffer {
  const body = Array.isArray(data) ? Buffer.concat(data) : data;
  return Buffer.concat([tag(field, 2), varint(BigInt(body.length)), body]);
}

/** A string field (UTF-8). */
export function strField(field: number, s: string): Buffer {
  return bytesField(field, Buffer.from(s, "utf8"));
}

/** A fixed64 field. */
export function fixed64(field: number, n: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt.asUintN(64, n));
  return Buffer.concat([tag(field, 1), b]);
}

/** An AnyValue message. */
export function protoValue(v: GenValue): Buffer {
  if ("s" in v) return strField(1, v.s);
  if ("b" in v) return Buffer.concat([tag(2, 0), Buffer.from([v.b ? 1 : 0])]);
  if ("i" in v) return Buffer.concat([tag(3, 0), varint(v.i)]);
  if ("d" in v) {
    const b = Buffer.alloc(8);
    b.writeDoubleLE(v.d);
    return Buffer.concat([tag(4, 1), b]);
  }
  if ("bytes" in v) return bytesField(7, v.bytes);
  if ("arr" in v) return bytesField(5, v.arr.map((x) => bytesField(1, protoValue(x))));
  if ("kv" in v) return bytesField(6, v.kv.map((kv) => bytesField(1, protoKeyValue(kv))));
  return Buffer.alloc(0);
}

/** A KeyValue message. */
export function protoKeyValue([k, v]: [string, GenValue]): Buffer {
  return Buffer.concat([strField(1, k), bytesField(2, protoValue(v))]);
}

function protoSpan(s: GenSpan): Buffer[] {
  return [
    bytesField(1, s.traceId),
    bytesField(2, s.spanId),
    ...(s.parentSpanId.length > 0 ? [bytesField(4, s.parentSpanId)] : []),
    strField(5, s.name),
    tag(6, 0),
    varint(BigInt(s.kind)),
    fixed64(7, s.start),
    fixed64(8, s.end),
    ...s.attributes.map((kv) => bytesField(9, protoKeyValue(kv))),
    ...s.events.map((e) => bytesField(11, [fixed64(1, e.time), strField(2, e.name), ...e.attributes.map((kv) => bytesField(3, protoKeyValue(kv)))])),
    bytesField(15, [tag(3, 0), varint(BigInt(s.status))]),
  ];
}

/** The request in the OTLP protobuf wire format. */
export function toProtobuf(r: GenRequest): Uint8Array {
  const parts = r.resources.map((res) =>
    bytesField(1, [
      bytesField(1, res.attributes.map((kv) => bytesField(1, protoKeyValue(kv)))),
      bytesField(2, [bytesField(1, strField(1, "fuzz")), ...res.spans.map((s) => bytesField(2, protoSpan(s)))]),
    ]),
  );
  return new Uint8Array(Buffer.concat(parts));
}

// ---------------------------------------------------------------------------------------------
// Mutations

/** A byte-level mutation: flip, truncate, splice random bytes, duplicate a slice. */
export const mutation = fc.oneof(
  fc.record({ kind: fc.constant("flip" as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
  fc.record({ kind: fc.constant("insert" as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  fc.record({ kind: fc.constant("dup" as const), at: fc.nat(), len: fc.integer({ min: 1, max: 64 }) }),
);

export type Mutation = typeof mutation extends fc.Arbitrary<infer M> ? M : never;

/** Applies mutations to a body (positions taken modulo its length). */
export function mutate(body: Uint8Array, mutations: readonly Mutation[]): Uint8Array {
  let b = Buffer.from(body);
  for (const m of mutations) {
    if (b.length === 0) break;
    const at = m.at % b.length;
    if (m.kind === "flip") b[at] = b[at]! ^ (1 << m.bit);
    else if (m.kind === "truncate") b = b.subarray(0, at);
    else if (m.kind === "insert") b = Buffer.concat([b.subarray(0, at), m.bytes, b.subarray(at)]);
    else b = Buffer.concat([b.subarray(0, at + m.len), b.subarray(at, at + m.len), b.subarray(at + m.len)]);
  }
  return new Uint8Array(b);
}
