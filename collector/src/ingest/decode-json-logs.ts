import { CollectorError } from "../errors.js";
import {
  buildingFieldPaths,
  decodeOtlpJson,
  isJsonObject,
  jsonAttributes,
  jsonField,
  jsonObject,
  jsonOptionalArray,
  jsonOptionalString,
  jsonTypeName,
  jsonUint64,
} from "./decode-json.js";
import type { IngestLimits } from "./ingest-limits.js";
import type { OtlpLogRecord, OtlpLogsRequest, OtlpResourceLogs } from "./otlp-logs.js";

const HEX = /^[0-9a-fA-F]*$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
/** Longest id kept as sent: a longer one is refused anyway. */
const MAX_ID_CHARS = 128;

/**
 * Decodes an OTLP/JSON ExportLogsServiceRequest (the protobuf JSON mapping: lowerCamelCase keys,
 * snake_case accepted too; hex ids, base64 ids where the length makes it unambiguous; int64 as
 * strings or numbers, exact either way). Keeps of each log record what
 * decode-protobuf-logs.ts keeps. Throws CollectorError bad_request naming the path of the first
 * problem, payload_too_large past the log record bound.
 */
export function decodeJsonLogs(body: Buffer, limits: IngestLimits): OtlpLogsRequest {
  return decodeOtlpJson(body, (root) => decodeRoot(root, limits));
}

function decodeRoot(root: unknown, limits: IngestLimits): OtlpLogsRequest {
  const P = buildingFieldPaths();
  const req = jsonObject(root, "body");
  const rlList = jsonOptionalArray(jsonField(req, "resourceLogs", "resource_logs"), "resourceLogs");
  let logRecordCount = 0;
  for (const rl of rlList) {
    const slList = isJsonObject(rl) ? jsonField(rl, "scopeLogs", "scope_logs") : undefined;
    if (!Array.isArray(slList)) continue;
    for (const sl of slList) {
      const records = isJsonObject(sl) ? jsonField(sl, "logRecords", "log_records") : undefined;
      if (Array.isArray(records)) logRecordCount += records.length;
    }
  }
  if (logRecordCount > limits.maxLogRecordsPerRequest) {
    throw new CollectorError(
      "payload_too_large",
      `request has ${logRecordCount} log records; at most ${limits.maxLogRecordsPerRequest} are accepted per request (lower the exporter's maxExportBatchSize)`,
    );
  }
  const resourceLogs: OtlpResourceLogs[] = rlList.map((rlRaw, i) => {
    const path = P ? `resourceLogs[${i}]` : "";
    const rl = jsonObject(rlRaw, path);
    const resourceRaw = rl["resource"];
    const resource = resourceRaw === undefined || resourceRaw === null ? {} : jsonObject(resourceRaw, P ? `${path}.resource` : "");
    const logRecords: OtlpLogRecord[] = [];
    jsonOptionalArray(jsonField(rl, "scopeLogs", "scope_logs"), P ? `${path}.scopeLogs` : "").forEach((slRaw, j) => {
      const sl = jsonObject(slRaw, P ? `${path}.scopeLogs[${j}]` : "");
      jsonOptionalArray(jsonField(sl, "logRecords", "log_records"), P ? `${path}.scopeLogs[${j}].logRecords` : "").forEach((recordRaw, k) => {
        logRecords.push(decodeLogRecord(recordRaw, P ? `${path}.scopeLogs[${j}].logRecords[${k}]` : "", limits));
      });
    });
    return { resourceAttributes: jsonAttributes(resource["attributes"], P ? `${path}.resource.attributes` : "", limits), logRecords };
  });
  return { resourceLogs, logRecordCount };
}

function decodeLogRecord(raw: unknown, path: string, limits: IngestLimits): OtlpLogRecord {
  const P = buildingFieldPaths();
  const r = jsonObject(raw, path);
  return {
    timeUnixNano: jsonUint64(jsonField(r, "timeUnixNano", "time_unix_nano"), P ? `${path}.timeUnixNano` : ""),
    eventName: jsonOptionalString(jsonField(r, "eventName", "event_name"), P ? `${path}.eventName` : ""),
    traceId: logId(jsonField(r, "traceId", "trace_id"), 16, P ? `${path}.traceId` : ""),
    spanId: logId(jsonField(r, "spanId", "span_id"), 8, P ? `${path}.spanId` : ""),
    attributes: jsonAttributes(r["attributes"], P ? `${path}.attributes` : "", limits),
  };
}

/**
 * An optional id as hex (the OTLP/JSON encoding), or base64 when its length can only be that. A
 * string of another form is kept as sent (cut short) for the record's validation to refuse alone.
 */
function logId(v: unknown, bytes: number, path: string): string {
  if (v === undefined || v === null || v === "") return "";
  if (typeof v !== "string") throw new CollectorError("bad_request", `${path}: expected a hex string; got ${jsonTypeName(v)}`);
  if (HEX.test(v)) return v.slice(0, MAX_ID_CHARS).toLowerCase();
  if (v.length === Math.ceil(bytes / 3) * 4 && BASE64.test(v)) {
    const decoded = Buffer.from(v, "base64");
    if (decoded.length === bytes) return decoded.toString("hex");
  }
  return v.slice(0, MAX_ID_CHARS);
}
