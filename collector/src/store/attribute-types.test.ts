import { describe, expect, it } from "vitest";
import { attributeText } from "../ingest/attribute-filter.js";
import { otlpAnyValue, typedAttributeValue } from "./attribute-types.js";
import { decodeSpanEvents, decodeSpanLinks, encodeSpanEvents, encodeSpanLinks } from "./span-events.js";
import type { SpanEvent } from "./span-row.js";

describe("stored attribute types", () => {
  it("give back the JSON value and the OTLP AnyValue of each type from its stored text", () => {
    const cases = [
      { value: 45, type: "int", text: "45", json: 45, any: { intValue: "45" } },
      { value: "9223372036854775807", type: "int", text: "9223372036854775807", json: "9223372036854775807", any: { intValue: "9223372036854775807" } },
      { value: -3, type: "int", text: "-3", json: -3, any: { intValue: "-3" } },
      { value: 0.1, type: "double", text: "0.1", json: 0.1, any: { doubleValue: 0.1 } },
      { value: 1, type: "double", text: "1", json: 1, any: { doubleValue: 1 } },
      { value: "NaN", type: "double", text: "NaN", json: "NaN", any: { doubleValue: "NaN" } },
      { value: false, type: "bool", text: "false", json: false, any: { boolValue: false } },
      { value: "AAE=", type: "bytes", text: "AAE=", json: "AAE=", any: { bytesValue: "AAE=" } },
      { value: ["stop", "a\"b"], type: "string[]", text: '["stop","a\\"b"]', json: ["stop", 'a"b'], any: { arrayValue: { values: [{ stringValue: "stop" }, { stringValue: 'a"b' }] } } },
      { value: [1, "9007199254740993"], type: "int[]", text: "[1,9007199254740993]", json: [1, "9007199254740993"], any: { arrayValue: { values: [{ intValue: "1" }, { intValue: "9007199254740993" }] } } },
      { value: [1.5, "Infinity"], type: "double[]", text: '[1.5,"Infinity"]', json: [1.5, "Infinity"], any: { arrayValue: { values: [{ doubleValue: 1.5 }, { doubleValue: "Infinity" }] } } },
      { value: [true], type: "bool[]", text: "[true]", json: [true], any: { arrayValue: { values: [{ boolValue: true }] } } },
      { value: [], type: "string[]", text: "[]", json: [], any: { arrayValue: { values: [] } } },
      { value: "plain", type: undefined, text: "plain", json: "plain", any: { stringValue: "plain" } },
    ] as const;
    for (const c of cases) {
      const text = attributeText(c.value as never, c.type);
      expect(text, JSON.stringify(c.value)).toBe(c.text);
      expect(typedAttributeValue(text, c.type)).toEqual(c.json);
      expect(otlpAnyValue(text, c.type)).toEqual(c.any);
    }
    expect(typedAttributeValue("[1,2", "int[]")).toBe("[1,2");
    expect(otlpAnyValue('["a", "b', "truncated")).toEqual({ stringValue: '["a", "b' });
  });

  it("store events and links as canonical JSON that reads back as written", () => {
    const events: SpanEvent[] = [
      { timeUnixNano: "1700000000000000001", name: "exception", attributes: { "exception.type": "TypeError" }, attributeTypes: {} },
      { timeUnixNano: "1700000000000000002", name: "ünï \"q\"", attributes: { n: "3" }, attributeTypes: { n: "int" as const } },
    ];
    const links = [{ traceId: "ab".repeat(16), spanId: "cd".repeat(8), traceState: "", flags: 0, attributes: {}, attributeTypes: {} }];
    expect(encodeSpanEvents([])).toBe("");
    expect(encodeSpanLinks(links)).toBe(`[{"traceId":"${"ab".repeat(16)}","spanId":"${"cd".repeat(8)}"}]`);
    expect(decodeSpanEvents(encodeSpanEvents(events))).toEqual(events);
    expect(decodeSpanLinks(encodeSpanLinks(links))).toEqual(links);
    expect(decodeSpanEvents("not json")).toEqual([]);
  });
});
