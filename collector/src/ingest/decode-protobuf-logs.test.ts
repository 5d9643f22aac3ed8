import { randomUUID } from "node:crypto";
import { JsonLogsSerializer, ProtobufLogsSerializer } from "@opentelemetry/otlp-transformer";
import { USAGE_ATTR, USAGE_EVENT_NAME } from "@troupe/contract";
import { describe, expect, it } from "vitest";
import { CollectorError } from "../errors.js";
import { decodeJsonLogs } from "./decode-json-logs.js";
import { decodeProtobufLogsWire } from "./decode-protobuf-logs.js";
import { DEFAULT_INGEST_LIMITS } from "./ingest-limits.js";
import { otlpProtoTypes } from "./otlp-proto-root.js";
import { sdkLogRecords, usageAttributes } from "./usage-log-records.test-helper.js";
import { USAGE_RECORD_ATTRIBUTES, USAGE_RESOURCE_ATTRIBUTES } from "./usage-rows.js";

const ALLOW = { record: USAGE_RECORD_ATTRIBUTES, resource: USAGE_RESOURCE_ATTRIBUTES };
const TRACE = "0af7651916cd43dd8448eb211c80319c";
const SPAN = "b7ad6b7169203331";

function protobufjsBody(logRecords: Record<string, unknown>[], resourceAttributes: unknown[] = []): Buffer {
  const type = otlpProtoTypes().ExportLogsServiceRequest;
  return Buffer.from(type.encode(type.fromObject({ resourceLogs: [{ resource: { attributes: resourceAttributes }, scopeLogs: [{ scope: { name: "s" }, logRecords }] }] })).finish());
}

function badRequest(run: () => unknown): CollectorError {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(CollectorError);
    return err as CollectorError;
  }
  throw new Error("expected the decoder to refuse the body");
}

describe("decodeProtobufLogsWire", () => {
  it("decodes what the real SDK's protobuf serializer writes, exactly as its JSON serializer's twin decodes", async () => {
    const id = randomUUID();
    // A time past 2^53 ns whose last digits a double would lose.
    const records = await sdkLogRecords([
      { attributes: usageAttributes(id, "acme", { "prompt.text": "never kept" }), timeMs: 1_700_000_000_123.456, traceId: TRACE, spanId: SPAN },
      { attributes: { "troupe.usage.id": randomUUID(), "event.name": USAGE_EVENT_NAME }, eventName: null },
    ]);
    const fromProtobuf = decodeProtobufLogsWire(Buffer.from(ProtobufLogsSerializer.serializeRequest(records)!), DEFAULT_INGEST_LIMITS, ALLOW);
    const fromJson = decodeJsonLogs(Buffer.from(JsonLogsSerializer.serializeRequest(records)!), DEFAULT_INGEST_LIMITS);

    expect(fromProtobuf.logRecordCount).toBe(2);
    const [first, second] = fromProtobuf.resourceLogs[0]!.logRecords;
    // Exactly the nanoseconds the SDK sent (its last digits are not those of a double).
    const [seconds, nanos] = records[0]!.hrTime;
    const sent = `${seconds}${String(nanos).padStart(9, "0")}`;
    expect(Number(sent).toString()).not.toBe(sent);
    expect(first).toMatchObject({ eventName: USAGE_EVENT_NAME, traceId: TRACE, spanId: SPAN, timeUnixNano: sent, skippedAttributes: 1 });
    expect(Object.fromEntries(first!.attributes.map((kv) => [kv.key, kv.value]))).toEqual({ ...usageAttributes(id, "acme") });
    expect(second).toMatchObject({ eventName: "", traceId: "", spanId: "" });
    expect(fromProtobuf.resourceLogs[0]!.resourceAttributes).toEqual([{ key: "service.name", value: "billing-test" }]);

    // The JSON decoder keeps every attribute (it does not filter); on what both keep they agree.
    const jsonFirst = fromJson.resourceLogs[0]!.logRecords[0]!;
    expect({ ...jsonFirst, attributes: jsonFirst.attributes.filter((kv) => kv.key !== "prompt.text") }).toEqual({ ...first, skippedAttributes: undefined });
  });

  it("reads every field at its official number, whatever the order, and skips bodies and unknown fields", () => {
    const body = protobufjsBody(
      [
        {
          observedTimeUnixNano: "1",
          severityNumber: 9,
          body: { stringValue: "a completion, never kept" },
          attributes: [
            { key: USAGE_ATTR.inputTokens, value: { intValue: "9007199254740993" } },
            { key: USAGE_ATTR.costUsd, value: { doubleValue: Number.NaN } },
          ],
          flags: 1,
          traceId: Buffer.from(TRACE, "hex"),
          spanId: Buffer.from("abcd", "hex"),
          eventName: USAGE_EVENT_NAME,
          timeUnixNano: "18446744073709551615",
        },
      ],
      [{ key: "troupe.tenant.id", value: { stringValue: "acme" } }, { key: "host.name", value: { stringValue: "h" } }],
    );
    const request = decodeProtobufLogsWire(body, DEFAULT_INGEST_LIMITS, ALLOW);
    const record = request.resourceLogs[0]!.logRecords[0]!;
    expect(record.timeUnixNano).toBe("18446744073709551615");
    expect(record.eventName).toBe(USAGE_EVENT_NAME);
    // A short span id is kept as sent: the usage record is refused on its own, not the request.
    expect(record.spanId).toBe("abcd");
    expect(record.attributes[0]).toEqual({ key: USAGE_ATTR.inputTokens, value: "9007199254740993", type: "int" });
    expect(record.attributes[1]!.value).toBeNaN();
    expect(request.resourceLogs[0]!.resourceAttributes).toEqual([{ key: "troupe.tenant.id", value: "acme" }]);
    expect(request.resourceLogs[0]!.skippedResourceAttributes).toBe(1);
  });

  it("refuses truncated bodies, wrong wire types and too many records, naming the problem", () => {
    const good = protobufjsBody([{ eventName: USAGE_EVENT_NAME, timeUnixNano: "1" }]);
    expect(badRequest(() => decodeProtobufLogsWire(good.subarray(0, good.length - 3), DEFAULT_INGEST_LIMITS, ALLOW)).message).toMatch(
      /not a valid ExportLogsServiceRequest: .*(truncated|runs past)/,
    );
    // LogRecord.time_unix_nano sent as a varint (wire type 0) instead of fixed64.
    const wrongType = protobufjsBody([{ eventName: "x" }]);
    const patched = Buffer.concat([wrongType, Buffer.from([0x0a, 0x06, 0x12, 0x04, 0x12, 0x02, 0x08, 0x01])]);
    const err = badRequest(() => decodeProtobufLogsWire(patched, DEFAULT_INGEST_LIMITS, ALLOW));
    expect(err.code).toBe("bad_request");
    expect(err.message).toMatch(/LogRecord.time_unix_nano has wire type 0/);

    const many = protobufjsBody(Array.from({ length: 5 }, () => ({ eventName: USAGE_EVENT_NAME })));
    const tooMany = badRequest(() => decodeProtobufLogsWire(many, { ...DEFAULT_INGEST_LIMITS, maxLogRecordsPerRequest: 4 }, ALLOW));
    expect(tooMany.code).toBe("payload_too_large");
    expect(tooMany.message).toMatch(/more than 4 log records/);
  });
});
