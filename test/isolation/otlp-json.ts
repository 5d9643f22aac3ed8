// Hand-built OTLP/JSON export requests for attack and fuzz tests: full control over ids, attribute
// shapes and duplicates, which the real SDK exporters never produce.
import { randomBytes } from "node:crypto";

/** An attribute value as a test writes it; encoded to an OTLP AnyValue. */
export type TestValue = string | number | boolean | TestValue[] | { kv: Record<string, TestValue> };

/** One span of a test request. */
export interface TestSpan {
  name: string;
  traceId?: string;
  spanId?: string;
  parentSpanId?: string;
  kind?: number;
  /** Key/value pairs in order; the same key may appear twice. */
  attributes?: Array<[string, TestValue]>;
  status?: number;
  startMs?: number;
  durationMs?: number;
}

/** A fresh random trace id (32 hex). */
export function traceId(): string {
  return randomBytes(16).toString("hex");
}

/** A fresh random span id (16 hex). */
export function spanId(): string {
  return randomBytes(8).toString("hex");
}

/** An OTLP AnyValue for a test value. */
export function anyValue(v: TestValue): Record<string, unknown> {
  if (typeof v === "string") return { stringValue: v };
  if (typeof v === "boolean") return { boolValue: v };
  if (typeof v === "number") return Number.isInteger(v) ? { intValue: String(v) } : { doubleValue: v };
  if (Array.isArray(v)) return { arrayValue: { values: v.map(anyValue) } };
  return { kvlistValue: { values: Object.entries(v.kv).map(([key, value]) => ({ key, value: anyValue(value) })) } };
}

/**
 * An ExportTraceServiceRequest as JSON text: one resource (with `resource` attributes, in order)
 * holding `spans`. Ids are filled in when absent; returns the body and the span ids used.
 */
export function otlpJson(spans: TestSpan[], resource: Array<[string, TestValue]> = [["service.name", "attack-test"]]): { body: string; spanIds: string[]; traceIds: string[] } {
  const now = Date.now();
  const filled = spans.map((s) => ({ ...s, traceId: s.traceId ?? traceId(), spanId: s.spanId ?? spanId() }));
  const body = {
    resourceSpans: [
      {
        resource: { attributes: resource.map(([key, value]) => ({ key, value: anyValue(value) })) },
        scopeSpans: [
          {
            scope: { name: "attack" },
            spans: filled.map((s) => {
              const start = BigInt(s.startMs ?? now) * 1_000_000n;
              return {
                traceId: s.traceId,
                spanId: s.spanId,
                ...(s.parentSpanId ? { parentSpanId: s.parentSpanId } : {}),
                name: s.name,
                kind: s.kind ?? 1,
                startTimeUnixNano: String(start),
                endTimeUnixNano: String(start + BigInt(Math.round((s.durationMs ?? 5) * 1_000_000))),
                attributes: (s.attributes ?? []).map(([key, value]) => ({ key, value: anyValue(value) })),
                status: { code: s.status ?? 1 },
              };
            }),
          },
        ],
      },
    ],
  };
  return { body: JSON.stringify(body), spanIds: filled.map((s) => s.spanId), traceIds: filled.map((s) => s.traceId) };
}
