import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { TraceSpan } from "@troupe/contract/query-api";
import { orderAsTree } from "./trace-queries.js";

function span(spanId: string, parentSpanId: string): TraceSpan {
  return {
    spanId, parentSpanId, depth: -1, name: spanId, kind: 1, startTime: "", startTimeUnixNano: "0", durationMs: 0, statusCode: 0,
    serviceName: "", agentType: "", operation: "", model: "", inputTokens: 0, outputTokens: 0, costUsd: 0, outcome: "", attributes: {}, resourceAttributes: {},
    scope: { name: "", version: "" }, traceState: "", flags: 0, events: [], links: [],
  };
}

describe("orderAsTree", () => {
  it("puts parents before children, depth-first, siblings in input order", () => {
    const out = orderAsTree([span("a", ""), span("b", "a"), span("c", ""), span("d", "b"), span("e", "a"), span("f", "missing")]);
    expect(out.map((s) => `${s.spanId}${s.depth}`)).toEqual(["a0", "b1", "d2", "e1", "c0", "f0"]);
  });

  it("places every span exactly once, even with cycles and self-parents", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 30 }), fc.integer({ min: -1, max: 30 })), { maxLength: 40 }), (pairs) => {
        const seen = new Set<string>();
        const spans = pairs
          .filter(([id]) => !seen.has(String(id)) && seen.add(String(id)))
          .map(([id, parent]) => span(String(id), parent < 0 ? "" : String(parent)));
        const out = orderAsTree(spans);
        expect(out.map((s) => s.spanId).sort()).toEqual(spans.map((s) => s.spanId).sort());
        const position = new Map(out.map((s, i) => [s.spanId, i]));
        for (const s of out) {
          if (s.depth > 0) {
            const parentAt = position.get(s.parentSpanId)!;
            expect(parentAt).toBeLessThan(position.get(s.spanId)!);
            expect(out[parentAt]!.depth).toBe(s.depth - 1);
          }
        }
      }),
    );
  });
});
