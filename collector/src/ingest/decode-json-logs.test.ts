import { USAGE_EVENT_NAME } from "@troupe/contract";
import { describe, expect, it } from "vitest";
import { CollectorError } from "../errors.js";
import { decodeJsonLogs } from "./decode-json-logs.js";
import { DEFAULT_INGEST_LIMITS } from "./ingest-limits.js";

const decode = (text: string) => decodeJsonLogs(Buffer.from(text), DEFAULT_INGEST_LIMITS);

function refusal(text: string): CollectorError {
  try {
    decode(text);
  } catch (err) {
    expect(err).toBeInstanceOf(CollectorError);
    return err as CollectorError;
  }
  throw new Error("expected the decoder to refuse the body");
}

describe("decodeJsonLogs", () => {
  it("reads int64 times exactly whether sent as a string or as a number literal past 2^53", () => {
    const body = `{"resourceLogs":[{"scopeLogs":[{"logRecords":[
      {"timeUnixNano": 1700000000123456789, "eventName": "${USAGE_EVENT_NAME}"},
      {"timeUnixNano":"1700000000123456789"},
      {"time_unix_nano" :1700000000999999999 }
    ]}]}]}`;
    const records = decode(body).resourceLogs[0]!.logRecords;
    expect(records.map((r) => r.timeUnixNano)).toEqual(["1700000000123456789", "1700000000123456789", "1700000000999999999"]);
    // The same digits inside a string value are text, not a time: left alone.
    const inString = decode(`{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"attributes":[{"key":"k","value":{"stringValue":"\\"timeUnixNano\\": 12"}}]}]}]}]}`);
    expect(inString.resourceLogs[0]!.logRecords[0]!.attributes[0]!.value).toBe('"timeUnixNano": 12');
  });

  it("accepts snake_case keys, hex and base64 ids, and keeps a malformed id for the record's own refusal", () => {
    const traceBase64 = Buffer.from("0af7651916cd43dd8448eb211c80319c", "hex").toString("base64");
    const request = decode(
      JSON.stringify({
        resource_logs: [
          {
            resource: { attributes: [{ key: "service.name", value: { stringValue: "svc" } }] },
            scope_logs: [
              {
                log_records: [
                  { event_name: USAGE_EVENT_NAME, trace_id: "0AF7651916CD43DD8448EB211C80319C", span_id: "b7ad6b7169203331", body: {} },
                  { traceId: traceBase64, spanId: "" },
                  { traceId: "not an id", spanId: "b7ad" },
                ],
              },
            ],
          },
        ],
      }),
    );
    const [a, b, c] = request.resourceLogs[0]!.logRecords;
    expect(a).toMatchObject({ eventName: USAGE_EVENT_NAME, traceId: "0af7651916cd43dd8448eb211c80319c", spanId: "b7ad6b7169203331", timeUnixNano: "0" });
    expect(b).toMatchObject({ traceId: "0af7651916cd43dd8448eb211c80319c", spanId: "" });
    expect(c).toMatchObject({ traceId: "not an id", spanId: "b7ad" });
    expect(request.resourceLogs[0]!.resourceAttributes).toEqual([{ key: "service.name", value: "svc" }]);
    expect(request.logRecordCount).toBe(3);
  });

  it("refuses what is not an OTLP logs request, naming the field", () => {
    expect(refusal("{nope").message).toMatch(/not valid JSON/);
    expect(refusal('{"resourceLogs":{}}').message).toMatch(/resourceLogs: expected an array/);
    expect(refusal('{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"timeUnixNano":-5}]}]}]}').message).toMatch(
      /resourceLogs\[0\]\.scopeLogs\[0\]\.logRecords\[0\]\.timeUnixNano: expected an unsigned 64-bit integer/,
    );
    expect(refusal('{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"traceId":7}]}]}]}').message).toMatch(/logRecords\[0\]\.traceId: expected a hex string/);
    expect(refusal('{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"eventName":1}]}]}]}').message).toMatch(/logRecords\[0\]\.eventName: expected a string/);
    const many = JSON.stringify({ resourceLogs: [{ scopeLogs: [{ logRecords: Array.from({ length: 3 }, () => ({})) }] }] });
    const tooMany = (() => {
      try {
        decodeJsonLogs(Buffer.from(many), { ...DEFAULT_INGEST_LIMITS, maxLogRecordsPerRequest: 2 });
      } catch (err) {
        return err as CollectorError;
      }
      throw new Error("expected a refusal");
    })();
    expect(tooMany.code).toBe("payload_too_large");
  });
});
