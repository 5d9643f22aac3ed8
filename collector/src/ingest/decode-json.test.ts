import { describe, expect, it } from "vitest";
import { CollectorError } from "../errors.js";
import { decodeJsonTraces } from "./decode-json.js";
import { DEFAULT_INGEST_LIMITS } from "./ingest-limits.js";

const decode = (text: string) => decodeJsonTraces(Buffer.from(text), DEFAULT_INGEST_LIMITS);
const spansOf = (text: string) => decode(text).resourceSpans.flatMap((rs) => rs.spans);
const IDS = '"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"b7ad6b7169203331"';

/** The example of the OTLP specification (opentelemetry-proto examples/trace.json), plus fields this collector does not know. */
const OFFICIAL_EXAMPLE = `{
  "resourceSpans": [
    {
      "resource": {
        "attributes": [{ "key": "service.name", "value": { "stringValue": "my.service" } }],
        "droppedAttributesCount": 0
      },
      "scopeSpans": [
        {
          "scope": {
            "name": "my.library",
            "version": "1.0.0",
            "attributes": [{ "key": "my.scope.attribute", "value": { "stringValue": "some scope attribute" } }]
          },
          "spans": [
            {
              "traceId": "5B8EFFF798038103D269B633813FC60C",
              "spanId": "EEE19B7EC3C1B174",
              "parentSpanId": "EEE19B7EC3C1B173",
              "traceState": "",
              "flags": 257,
              "name": "I'm a server span",
              "startTimeUnixNano": "1544712660000000000",
              "endTimeUnixNano": "1544712661000000000",
              "kind": 2,
              "attributes": [{ "key": "my.span.attr", "value": { "stringValue": "some value", "futureValue": 1 } }],
              "events": [{ "timeUnixNano": 1544712660300000000, "name": "e", "droppedAttributesCount": 0 }],
              "links": [{ "traceId": "5B8EFFF798038103D269B633813FC60C", "spanId": "EEE19B7EC3C1B172" }],
              "status": { "code": 1, "message": "" },
              "aFieldFromANewerSpec": { "nested": [1, 2, 3] }
            }
          ],
          "schemaUrl": "https://opentelemetry.io/schemas/1.24.0"
        }
      ],
      "schemaUrl": "https://opentelemetry.io/schemas/1.24.0"
    }
  ]
}`;

describe("decodeJsonTraces", () => {
  it("reads start and end times exactly to the nanosecond, as numbers or as strings", () => {
    const [asNumbers, asStrings, snake, small] = spansOf(`{"resourceSpans":[{"scopeSpans":[{"spans":[
      {${IDS},"startTimeUnixNano":1796570141123456789,"endTimeUnixNano": 1796570141123456999 },
      {${IDS},"startTimeUnixNano":"1796570141123456789","endTimeUnixNano":"1796570141123456999"},
      {${IDS},"start_time_unix_nano" :
        1796570141123456789,"end_time_unix_nano":18446744073709551615},
      {${IDS},"startTimeUnixNano":9007199254740991,"endTimeUnixNano":9007199254740993}
    ]}]}]}`);
    // JSON.parse alone gives ...456768 for the first: the nanoseconds must survive.
    expect(asNumbers).toMatchObject({ startTimeUnixNano: "1796570141123456789", endTimeUnixNano: "1796570141123456999", durationNs: 210 });
    expect(asStrings).toMatchObject({ startTimeUnixNano: "1796570141123456789", endTimeUnixNano: "1796570141123456999", durationNs: 210 });
    expect(snake).toMatchObject({ startTimeUnixNano: "1796570141123456789", endTimeUnixNano: "18446744073709551615" });
    expect(small).toMatchObject({ startTimeUnixNano: "9007199254740991", endTimeUnixNano: "9007199254740993", durationNs: 2 });
  });

  it("reads int64 attribute values exactly as numbers, and leaves the same text inside strings alone", () => {
    const [span] = spansOf(`{"resourceSpans":[{"scopeSpans":[{"spans":[{${IDS},"startTimeUnixNano":1796570141123456789,"attributes":[
      {"key":"big","value":{"intValue":9007199254740993}},
      {"key":"negative","value":{"int_value":-9223372036854775808}},
      {"key":"small","value":{"intValue":42}},
      {"key":"text","value":{"stringValue":"\\"intValue\\": 9007199254740993, \\"startTimeUnixNano\\":1796570141123456789}"}}
    ]}]}]}]}`);
    expect(span!.startTimeUnixNano).toBe("1796570141123456789");
    expect(span!.attributes).toEqual([
      { key: "big", value: "9007199254740993", type: "int" },
      { key: "negative", value: "-9223372036854775808", type: "int" },
      { key: "small", value: 42, type: "int" },
      { key: "text", value: '"intValue": 9007199254740993, "startTimeUnixNano":1796570141123456789}' },
    ]);
  });

  it("takes the specification's example with upper-case hex ids and fields it does not know", () => {
    const request = decode(OFFICIAL_EXAMPLE);
    expect(request.spanCount).toBe(1);
    expect(request.resourceSpans[0]!.resourceAttributes).toEqual([{ key: "service.name", value: "my.service" }]);
    expect(request.resourceSpans[0]!.spans[0]).toMatchObject({
      traceId: "5b8efff798038103d269b633813fc60c",
      spanId: "eee19b7ec3c1b174",
      parentSpanId: "eee19b7ec3c1b173",
      name: "I'm a server span",
      kind: 2,
      startTimeUnixNano: "1544712660000000000",
      endTimeUnixNano: "1544712661000000000",
      durationNs: 1_000_000_000,
      attributes: [{ key: "my.span.attr", value: "some value" }],
      statusCode: 1,
    });
  });

  it("refuses int64 values out of range and numbers JSON itself refuses, naming the field", () => {
    const refusal = (text: string): CollectorError => {
      try {
        decode(text);
      } catch (err) {
        expect(err).toBeInstanceOf(CollectorError);
        return err as CollectorError;
      }
      throw new Error("expected a refusal");
    };
    const span = (fields: string) => `{"resourceSpans":[{"scopeSpans":[{"spans":[{${IDS},${fields}}]}]}]}`;
    expect(refusal(span('"startTimeUnixNano":18446744073709551616')).message).toMatch(/spans\[0\]\.startTimeUnixNano: expected an unsigned 64-bit integer/);
    expect(refusal(span('"startTimeUnixNano":-1796570141123456789')).message).toMatch(/startTimeUnixNano: expected an unsigned 64-bit integer/);
    expect(refusal(span('"attributes":[{"key":"k","value":{"intValue":9223372036854775808000}}]')).message).toMatch(/attributes\[0\]\.value\.intValue: .* is not a 64-bit integer/);
    // A leading zero is not JSON, quoted or not.
    expect(refusal(span('"startTimeUnixNano":01796570141123456789')).message).toMatch(/not valid JSON/);
  });
});

describe("decodeJsonTraces keeps what OpenTelemetry says of a span", () => {
  it("reads attribute types, scope, trace state, flags, events with their times and links", () => {
    const [span] = spansOf(`{"resourceSpans":[{"scopeSpans":[{"scope":{"name":"my-lib","version":"2.0.1"},"spans":[{${IDS},"startTimeUnixNano":"1796570141123456789",
      "traceState":"v=1","flags":769,
      "attributes":[
        {"key":"i","value":{"intValue":"45"}},{"key":"d","value":{"doubleValue":1}},{"key":"b","value":{"boolValue":false}},
        {"key":"by","value":{"bytesValue":"AAE="}},{"key":"s","value":{"stringValue":"x"}},
        {"key":"ai","value":{"arrayValue":{"values":[{"intValue":"1"},{"intValue":2}]}}},
        {"key":"mixed","value":{"arrayValue":{"values":[{"intValue":"1"},{"stringValue":"a"}]}}},
        {"key":"nested","value":{"arrayValue":{"values":[{"arrayValue":{}}]}}},
        {"key":"kv","value":{"kvlistValue":{"values":[{"key":"a","value":{"intValue":"1"}}]}}},
        {"key":"empty","value":{}}
      ],
      "events":[{"timeUnixNano":"1796570141123456790","name":"exception","attributes":[{"key":"exception.type","value":{"stringValue":"E"}}]}],
      "links":[{"traceId":"5B8EFFF798038103D269B633813FC60C","spanId":"EEE19B7EC3C1B173","traceState":"k=v","flags":1,"attributes":[{"key":"n","value":{"intValue":"7"}}]}]
    }]}]}]}`);
    expect(span!.attributes.map((a) => [a.key, a.type])).toEqual([
      ["i", "int"], ["d", "double"], ["b", "bool"], ["by", "bytes"], ["s", undefined], ["ai", "int[]"], ["mixed", undefined], ["nested", undefined], ["kv", undefined], ["empty", undefined],
    ]);
    expect(span).toMatchObject({ scopeName: "my-lib", scopeVersion: "2.0.1", traceState: "v=1", flags: 769 });
    expect(span!.events).toEqual([{ timeUnixNano: "1796570141123456790", name: "exception", attributes: [{ key: "exception.type", value: "E" }] }]);
    expect(span!.links).toEqual([{ traceId: "5b8efff798038103d269b633813fc60c", spanId: "eee19b7ec3c1b173", traceState: "k=v", flags: 1, attributes: [{ key: "n", value: 7, type: "int" }] }]);
  });

  it("refuses a link with a bad id and flags that are not a fixed32, naming the field", () => {
    expect(() => spansOf(`{"resourceSpans":[{"scopeSpans":[{"spans":[{${IDS},"startTimeUnixNano":"1","links":[{"traceId":"zz","spanId":"EEE19B7EC3C1B173"}]}]}]}]}`)).toThrow(/links\[0\]\.traceId/);
    expect(() => spansOf(`{"resourceSpans":[{"scopeSpans":[{"spans":[{${IDS},"startTimeUnixNano":"1","flags":-1}]}]}]}`)).toThrow(/flags: expected an unsigned 32-bit integer/);
  });
});
