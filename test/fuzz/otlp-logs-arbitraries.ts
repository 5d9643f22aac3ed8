// fast-check arbitraries for OTLP logs export bodies carrying usage records: mostly plausible usage
// records with hostile values in every field (tenants, ids, token counts, costs, times, event names),
// other log records, generated AnyValues, encoded as OTLP/JSON and as a hand-rolled protobuf (the
// official field numbers of opentelemetry/proto/logs/v1), so the decoders see near-valid and garbage input.
import fc from "fast-check";
import { anyValue, bytesField, fixed64, jsonValue, protoKeyValue, protoValue, strField, tag, varint, type GenValue } from "./otlp-arbitraries.js";

export interface GenLogRecord {
  time: bigint;
  /** undefined: no event_name field. */
  eventName: string | undefined;
  traceId: Uint8Array;
  spanId: Uint8Array;
  attributes: Array<[string, GenValue]>;
  body: GenValue | undefined;
  severity: number;
}

export interface GenLogsRequest {
  resources: Array<{ attributes: Array<[string, GenValue]>; records: GenLogRecord[] }>;
}

const NOW_NS = BigInt(Date.now()) * 1_000_000n;
const DAY_NS = 86_400_000_000_000n;

const uuid = fc.uuid().map((u) => u.toLowerCase());
/** A small pool of ids, so re-sends (duplicates and conflicts) are common. */
const pooledId = fc.integer({ min: 0, max: 40 }).map((i) => `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`);

const s = (x: string): GenValue => ({ s: x });
const i = (x: bigint | number): GenValue => ({ i: BigInt(x) });
const d = (x: number): GenValue => ({ d: x });

const idValue = fc.oneof(
  { weight: 6, arbitrary: fc.oneof(uuid, pooledId).map(s) },
  { weight: 1, arbitrary: fc.constantFrom("not-a-uuid", "", "00000000-0000-4000-8000-00000000000Z", "A1B2C3D4-0000-4000-8000-000000000001").map(s) },
  { weight: 1, arbitrary: anyValue },
);
const tenantValue = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom("acme", "globex").map(s) },
  { weight: 1, arbitrary: fc.constantFrom("initech", "ACME", "", "a".repeat(300), "acme\u0000").map(s) },
  { weight: 1, arbitrary: anyValue },
);
const tokens = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 1_000_000 }).map(i) },
  { weight: 1, arbitrary: fc.oneof(fc.integer({ min: -5, max: -1 }).map(i), fc.constant(i(2n ** 60n)), fc.constant(d(1.5)), fc.constant(s("10"))) },
  { weight: 1, arbitrary: anyValue },
);
const cost = fc.oneof(
  { weight: 6, arbitrary: fc.double({ min: 0, max: 100, noNaN: true }).map(d) },
  { weight: 1, arbitrary: fc.constantFrom(d(Number.NaN), d(Number.POSITIVE_INFINITY), d(-1), i(0), i(3), s("0.5")) },
  { weight: 1, arbitrary: anyValue },
);
const label = fc.oneof({ weight: 6, arbitrary: fc.constantFrom("openai", "gpt-4o-mini", "support").map(s) }, { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 300 }).map(s) }, { weight: 1, arbitrary: anyValue });
const outcome = fc.oneof({ weight: 6, arbitrary: fc.constantFrom("ok", "error", "budget_rejected", "rate_limited", "timeout").map(s) }, { weight: 1, arbitrary: fc.constantFrom("exploded", "").map(s) });

/** One usage attribute: present with a generated value (mostly valid), or absent. */
function maybe(key: string, value: fc.Arbitrary<GenValue>, absentWeight = 1): fc.Arbitrary<Array<[string, GenValue]>> {
  return fc.oneof({ weight: 10, arbitrary: value.map((v): Array<[string, GenValue]> => [[key, v]]) }, { weight: absentWeight, arbitrary: fc.constant<Array<[string, GenValue]>>([]) });
}

/** A usage record with a hostile value (or none) anywhere. */
const hostileUsageAttributes: fc.Arbitrary<Array<[string, GenValue]>> = fc
  .tuple(
    maybe("troupe.usage.id", idValue),
    maybe("troupe.tenant.id", tenantValue, 4),
    maybe("troupe.agent.type", label, 3),
    maybe("gen_ai.request.model", label),
    maybe("gen_ai.response.model", label, 3),
    maybe("gen_ai.provider.name", label),
    maybe("gen_ai.usage.input_tokens", tokens),
    maybe("gen_ai.usage.output_tokens", tokens),
    maybe("gen_ai.usage.cache_read.input_tokens", tokens, 5),
    maybe("troupe.llm.reasoning_tokens", tokens, 5),
    maybe("troupe.llm.cost_usd", cost),
    maybe("troupe.llm.outcome", outcome),
    maybe("troupe.llm.usage_exact", fc.oneof(fc.boolean().map((b): GenValue => ({ b })), anyValue), 5),
    fc.array(fc.tuple(fc.constantFrom("prompt.text", "event.name", "x.other", "troupe.usage.id", "troupe.tenant.id"), anyValue), { maxLength: 2 }),
  )
  .map((parts) => parts.flat());

/** A valid usage record (ids from the pool, so re-sends with the same or other figures happen). */
const validUsageAttributes: fc.Arbitrary<Array<[string, GenValue]>> = fc
  .record({
    id: fc.oneof(uuid, pooledId),
    tenant: fc.constantFrom(undefined, undefined, "acme", "globex"),
    input: fc.integer({ min: 0, max: 100_000 }),
    output: fc.integer({ min: 0, max: 10_000 }),
    cost: fc.double({ min: 0, max: 10, noNaN: true }),
    outcome: fc.constantFrom("ok", "error", "timeout"),
  })
  .map(({ id, tenant, input, output, cost, outcome }) => [
    ["troupe.usage.id", s(id)],
    ...(tenant === undefined ? [] : [["troupe.tenant.id", s(tenant)] as [string, GenValue]]),
    ["gen_ai.request.model", s("gpt-4o-mini")],
    ["gen_ai.provider.name", s("openai")],
    ["gen_ai.usage.input_tokens", i(input)],
    ["gen_ai.usage.output_tokens", i(output)],
    ["troupe.llm.cost_usd", d(cost)],
    ["troupe.llm.outcome", s(outcome)],
  ]);

const usageAttributes = fc.oneof({ weight: 3, arbitrary: validUsageAttributes }, { weight: 2, arbitrary: hostileUsageAttributes });

// Accepted times lie within one day of each other: the writer recognises a re-sent id on the day of
// its time and the days either side (UsageWriter), which a day's spread always meets.
const time = fc.oneof(
  { weight: 8, arbitrary: fc.bigInt({ min: NOW_NS - DAY_NS, max: NOW_NS + 60_000_000_000n }) },
  { weight: 1, arbitrary: fc.constantFrom(0n, 1n, NOW_NS + DAY_NS, NOW_NS - 400n * DAY_NS, 2n ** 64n - 1n, 2n ** 63n) },
);
const id = (n: number) => fc.oneof({ weight: 4, arbitrary: fc.constant(new Uint8Array()) }, { weight: 4, arbitrary: fc.uint8Array({ minLength: n, maxLength: n }) }, { weight: 1, arbitrary: fc.uint8Array({ maxLength: 40 }) });

export const genLogRecord: fc.Arbitrary<GenLogRecord> = fc.record({
  time,
  eventName: fc.oneof({ weight: 8, arbitrary: fc.constant("troupe.llm.usage") }, { weight: 1, arbitrary: fc.constantFrom(undefined, "", "app.log", "troupe.llm.usagex") }),
  traceId: id(16),
  spanId: id(8),
  attributes: usageAttributes,
  body: fc.oneof({ weight: 5, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: anyValue }),
  severity: fc.integer({ min: -1, max: 30 }),
});

export const genLogsRequest: fc.Arbitrary<GenLogsRequest> = fc.record({
  resources: fc.array(
    fc.record({
      attributes: fc.array(fc.tuple(fc.constantFrom("service.name", "troupe.tenant.id", "host.name"), fc.oneof(fc.constantFrom("svc", "acme", "globex").map(s), anyValue)), { maxLength: 3 }),
      records: fc.array(genLogRecord, { maxLength: 8 }),
    }),
    { maxLength: 3 },
  ),
});

/** How many log records the request holds. */
export function logRecordCount(r: GenLogsRequest): number {
  return r.resources.reduce((n, res) => n + res.records.length, 0);
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
const kvJson = ([k, v]: [string, GenValue]) => ({ key: k, value: jsonValue(v) });

/** The request as OTLP/JSON text (times as strings, or as number literals past 2^53 for some). */
export function logsToJson(r: GenLogsRequest): string {
  return JSON.stringify({
    resourceLogs: r.resources.map((res) => ({
      resource: { attributes: res.attributes.map(kvJson) },
      scopeLogs: [
        {
          scope: { name: "fuzz" },
          logRecords: res.records.map((x) => ({
            timeUnixNano: x.time.toString(),
            ...(x.eventName === undefined ? {} : { eventName: x.eventName }),
            traceId: hex(x.traceId),
            spanId: hex(x.spanId),
            severityNumber: x.severity,
            ...(x.body === undefined ? {} : { body: jsonValue(x.body) }),
            attributes: x.attributes.map(kvJson),
          })),
        },
      ],
    })),
  }).replace(/"timeUnixNano":"(\d*[02468])"/g, '"timeUnixNano":$1');
}

function protoLogRecord(x: GenLogRecord): Buffer[] {
  return [
    fixed64(1, x.time),
    tag(2, 0),
    varint(BigInt(x.severity)),
    ...(x.body === undefined ? [] : [bytesField(5, protoValue(x.body))]),
    ...x.attributes.map((kv) => bytesField(6, protoKeyValue(kv))),
    ...(x.traceId.length > 0 ? [bytesField(9, x.traceId)] : []),
    ...(x.spanId.length > 0 ? [bytesField(10, x.spanId)] : []),
    ...(x.eventName === undefined ? [] : [strField(12, x.eventName)]),
  ];
}

/** The request in the OTLP protobuf wire format. */
export function logsToProtobuf(r: GenLogsRequest): Uint8Array {
  const parts = r.resources.map((res) =>
    bytesField(1, [
      bytesField(1, res.attributes.map((kv) => bytesField(1, protoKeyValue(kv)))),
      bytesField(2, [bytesField(1, strField(1, "fuzz")), ...res.records.map((x) => bytesField(2, protoLogRecord(x)))]),
    ]),
  );
  return new Uint8Array(Buffer.concat(parts));
}
