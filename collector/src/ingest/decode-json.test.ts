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
      { key: "big", value: "9007199254740993" },
      { key: "negative", value: "-9223372036854775808" },
      { key: "small", value: 42 },
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
