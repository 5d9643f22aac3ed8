import { plainSpanFields, type SpanRow } from "../store/span-row.js";

/**
 * Spool records written by collectors before span blocks (store/span-block.ts): one
 * JSONCompactEachRow line per row with the span columns and retention. A spool left by such a
 * collector (a crash with the store down, then an upgrade) still replays: its records are read back
 * as rows, which the store encodes again. Nothing writes this format any more.
 */
const LEGACY_COLUMN_COUNT = 13;

/** The rows of legacy span insert lines (retention is dropped). Throws on a line that is not one. */
export function decodeSpanInsertLines(payload: Buffer): SpanRow[] {
  const rows: SpanRow[] = [];
  const text = payload.toString("utf8");
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf("\n", start);
    if (end === -1) end = text.length;
    if (end > start) rows.push(rowOfLine(JSON.parse(text.slice(start, end)) as unknown));
    start = end + 1;
  }
  return rows;
}

function rowOfLine(line: unknown): SpanRow {
  if (!Array.isArray(line) || line.length !== LEGACY_COLUMN_COUNT) throw new Error("not a span insert line");
  const [tenantId, traceId, spanId, parentSpanId, name, kind, startTime, durationNs, statusCode, serviceName, attributes, resourceAttributes] = line as [
    string,
    string,
    string,
    string,
    string,
    number,
    string,
    number,
    number,
    string,
    Record<string, string>,
    Record<string, string>,
  ];
  return {
    tenantId,
    traceId,
    spanId,
    parentSpanId,
    name,
    kind,
    startTimeUnixNano: secondsTextToNanos(startTime),
    durationNs,
    statusCode,
    serviceName,
    attributes,
    resourceAttributes,
    ...plainSpanFields(),
  };
}

/** "1700000000.123456789" (seconds text) → "1700000000123456789" (nanoseconds). */
function secondsTextToNanos(seconds: string): string {
  const dot = seconds.indexOf(".");
  const digits = dot === -1 ? `${seconds}000000000` : seconds.slice(0, dot) + seconds.slice(dot + 1).padEnd(9, "0").slice(0, 9);
  return digits.replace(/^0+(?=\d)/, "");
}
