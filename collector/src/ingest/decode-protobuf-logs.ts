import { CollectorError } from "../errors.js";
import { WireReader, uint64Decimal } from "./protobuf-wire-reader.js";
import type { IngestLimits } from "./ingest-limits.js";
import type { OtlpLogRecord, OtlpLogsRequest, OtlpResourceLogs } from "./otlp-logs.js";
import type { OtlpAttributeValue, OtlpKeyValue } from "./otlp-traces.js";

/** Attribute keys worth decoding in a logs request; the rest are validated, skipped and counted. */
export interface LogAttributeAllowLists {
  record: ReadonlySet<string>;
  resource: ReadonlySet<string>;
}

/**
 * Allow-listed keys by UTF-8 byte length, to recognize a key from its bytes: an allowed key comes
 * back as the allow list's own string, and a key that is not allowed is never decoded at all (most
 * of the decoder's strings were keys).
 */
class KeyMatcher {
  readonly #byLength = new Map<number, { key: string; bytes: Buffer }[]>();

  constructor(keys: Iterable<string>) {
    for (const key of keys) {
      const bytes = Buffer.from(key, "utf8");
      const list = this.#byLength.get(bytes.length) ?? [];
      list.push({ key, bytes });
      this.#byLength.set(bytes.length, list);
    }
  }

  /** The allowed key whose bytes are buf[start, end), or undefined. */
  match(buf: Buffer, start: number, end: number): string | undefined {
    const candidates = this.#byLength.get(end - start);
    if (candidates === undefined) return undefined;
    for (const { key, bytes } of candidates) {
      let i = end - start - 1;
      // From the end: allowed keys share prefixes ("gen_ai.usage.", "troupe.").
      while (i >= 0 && bytes[i] === buf[start + i]) i--;
      if (i < 0) return key;
    }
    return undefined;
  }
}

/**
 * Short strings decoded lately, by their UTF-8 bytes: label values (model, provider, outcome,
 * tenant, agent type) repeat from record to record, and recognizing their bytes costs less than
 * decoding them again. Longer values (ids) are always decoded. Bounded; cleared when full.
 */
class ShortStringCache {
  static readonly MAX_BYTES = 32;
  static readonly MAX_ENTRIES = 4096;
  readonly #entries = new Map<number, { bytes: Buffer; value: string }>();

  /** The string of UTF-8 bytes buf[start, end) (at most MAX_BYTES), as buf.toString would give it. */
  get(buf: Buffer, start: number, end: number): string {
    let hash = 0x811c9dc5;
    for (let i = start; i < end; i++) hash = Math.imul(hash ^ buf[i]!, 0x01000193);
    const entry = this.#entries.get(hash);
    if (entry !== undefined && entry.bytes.length === end - start) {
      let i = end - start - 1;
      while (i >= 0 && entry.bytes[i] === buf[start + i]) i--;
      if (i < 0) return entry.value;
    }
    const value = buf.toString("utf8", start, end);
    if (this.#entries.size >= ShortStringCache.MAX_ENTRIES) this.#entries.clear();
    // A copy: the request's buffer is reused for later requests.
    this.#entries.set(hash, { bytes: Buffer.from(buf.subarray(start, end)), value });
    return value;
  }
}

const shortStrings = new ShortStringCache();

const matchers = new WeakMap<ReadonlySet<string>, KeyMatcher>();

function matcherOf(keys: ReadonlySet<string>): KeyMatcher {
  let matcher = matchers.get(keys);
  if (matcher === undefined) matchers.set(keys, (matcher = new KeyMatcher(keys)));
  return matcher;
}

const I64 = 1;
const LEN = 2;
/** Longest id kept as sent: a longer one is refused anyway, and its hex need not be megabytes. */
const MAX_ID_BYTES = 64;

/**
 * Decodes an `application/x-protobuf` ExportLogsServiceRequest straight from the wire format of the
 * official OTLP .proto (field numbers in ./proto/opentelemetry/proto/logs), keeping of each log
 * record its time (exact, as a decimal string), event name, trace and span ids and the attributes
 * named in `allow` (others are walked for validity, skipped and counted). Throws CollectorError
 * bad_request naming the problem (truncation, wrong wire type, nesting too deep) and
 * payload_too_large past the log record bound.
 */
export function decodeProtobufLogsWire(body: Buffer, limits: IngestLimits, allow?: LogAttributeAllowLists): OtlpLogsRequest {
  const r = new WireReader(body, limits, "ExportLogsServiceRequest");
  const decoder = new LogsDecoder(r, body, limits, allow);
  const resourceLogs: OtlpResourceLogs[] = [];
  const end = body.length;
  while (r.pos < end) {
    const tag = r.varint32();
    if (tag >>> 3 === 1 && (tag & 7) === LEN) resourceLogs.push(decoder.resourceLogs(r.lengthEnd(end, "ExportLogsServiceRequest")));
    else r.skip(tag, end);
  }
  return { resourceLogs, logRecordCount: decoder.count };
}

class LogsDecoder {
  count = 0;
  readonly #r: WireReader;
  readonly #body: Buffer;
  readonly #limits: IngestLimits;
  readonly #record: KeyMatcher | undefined;
  readonly #resource: KeyMatcher | undefined;
  /** Attributes skipped (not allow-listed) so far. */
  #skipped = 0;

  constructor(r: WireReader, body: Buffer, limits: IngestLimits, allow: LogAttributeAllowLists | undefined) {
    this.#r = r;
    this.#body = body;
    this.#limits = limits;
    this.#record = allow && matcherOf(allow.record);
    this.#resource = allow && matcherOf(allow.resource);
  }

  /** Decodes one KeyValue into `into` when its key is allowed (all are without a matcher), else validates and skips it. */
  keyValue(end: number, into: OtlpKeyValue[], matcher: KeyMatcher | undefined): void {
    const r = this.#r;
    const body = this.#body;
    let keyStart = -1;
    let keyEnd = -1;
    let valueStart = -1;
    let valueEnd = -1;
    const at = r.pos;
    // The layout the OTel serializers write, read without the general loop: key (field 1) then value
    // (field 2), each with a one-byte length, filling the KeyValue exactly. Anything else: the loop.
    if (body[at] === 0x0a && body[at + 1]! < 0x80) {
      const kEnd = at + 2 + body[at + 1]!;
      if (body[kEnd] === 0x12 && body[kEnd + 1]! < 0x80 && kEnd + 2 + body[kEnd + 1]! === end) {
        keyStart = at + 2;
        keyEnd = kEnd;
        valueStart = kEnd + 2;
        valueEnd = end;
        r.pos = end;
      }
    }
    while (r.pos < end) {
      const tag = r.varint32();
      if (tag >>> 3 === 1) {
        r.expect(tag, LEN, "KeyValue.key");
        keyEnd = r.lengthEnd(end, "KeyValue");
        keyStart = r.pos;
        r.pos = keyEnd;
      } else if (tag >>> 3 === 2) {
        r.expect(tag, LEN, "KeyValue.value");
        valueEnd = r.lengthEnd(end, "KeyValue");
        valueStart = r.pos;
        r.pos = valueEnd;
      } else r.skip(tag, end);
    }
    const after = r.pos;
    const key = keyStart < 0 ? "" : matcher ? matcher.match(body, keyStart, keyEnd) : body.toString("utf8", keyStart, keyEnd);
    if (key === undefined) {
      if (valueStart >= 0) {
        r.pos = valueStart;
        r.walkAnyValue(valueEnd, 1);
        r.pos = after;
      }
      this.#skipped++;
      return;
    }
    let value: OtlpAttributeValue = null;
    if (valueStart >= 0 && body[valueStart] === 0x0a && valueStart + 2 + body[valueStart + 1]! === valueEnd && valueEnd - valueStart - 2 <= ShortStringCache.MAX_BYTES) {
      // The common value: an AnyValue of only a short string_value (field 1, a one-byte length).
      value = shortStrings.get(body, valueStart + 2, valueEnd);
    } else if (valueStart >= 0) {
      r.pos = valueStart;
      value = r.anyValue(valueEnd, 1);
      r.pos = after;
      const type = r.valueType;
      if (type !== undefined && type !== "other") {
        into.push({ key, value, type });
        return;
      }
    }
    into.push({ key, value });
  }

  resourceLogs(end: number): OtlpResourceLogs {
    const r = this.#r;
    const out: OtlpResourceLogs & { skippedResourceAttributes: number } = { resourceAttributes: [], logRecords: [], skippedResourceAttributes: 0 };
    while (r.pos < end) {
      const tag = r.varint32();
      switch (tag >>> 3) {
        case 1: {
          r.expect(tag, LEN, "ResourceLogs.resource");
          const resourceEnd = r.lengthEnd(end, "ResourceLogs");
          while (r.pos < resourceEnd) {
            const t = r.varint32();
            if (t >>> 3 === 1) {
              r.expect(t, LEN, "Resource.attributes");
              const before = this.#skipped;
              this.keyValue(r.lengthEnd(resourceEnd, "Resource"), out.resourceAttributes, this.#resource);
              out.skippedResourceAttributes += this.#skipped - before;
            } else r.skip(t, resourceEnd);
          }
          break;
        }
        case 2: {
          r.expect(tag, LEN, "ResourceLogs.scope_logs");
          const scopeEnd = r.lengthEnd(end, "ResourceLogs");
          while (r.pos < scopeEnd) {
            const t = r.varint32();
            if (t >>> 3 === 2) {
              r.expect(t, LEN, "ScopeLogs.log_records");
              if (++this.count > this.#limits.maxLogRecordsPerRequest) throw tooMany(this.#limits);
              out.logRecords.push(this.logRecord(r.lengthEnd(scopeEnd, "ScopeLogs")));
            } else r.skip(t, scopeEnd);
          }
          break;
        }
        default:
          r.skip(tag, end);
      }
    }
    return out;
  }

  logRecord(end: number): OtlpLogRecord {
    const r = this.#r;
    let timeLo = 0;
    let timeHi = 0;
    let eventName = "";
    let traceId = "";
    let spanId = "";
    const attributes: OtlpKeyValue[] = [];
    const skippedBefore = this.#skipped;
    while (r.pos < end) {
      const tag = r.varint32();
      switch (tag >>> 3) {
        case 1:
          r.expect(tag, I64, "LogRecord.time_unix_nano");
          r.fixed64(end);
          timeLo = r.lo;
          timeHi = r.hi;
          break;
        case 6:
          r.expect(tag, LEN, "LogRecord.attributes");
          this.keyValue(r.lengthEnd(end, "LogRecord"), attributes, this.#record);
          break;
        case 9:
        case 10: {
          r.expect(tag, LEN, "LogRecord id");
          const idEnd = r.lengthEnd(end, "LogRecord");
          const hex = this.#body.toString("hex", r.pos, Math.min(idEnd, r.pos + MAX_ID_BYTES));
          if (tag >>> 3 === 9) traceId = hex;
          else spanId = hex;
          r.pos = idEnd;
          break;
        }
        case 12:
          r.expect(tag, LEN, "LogRecord.event_name");
          eventName = r.string(end);
          break;
        default:
          // body, severity, flags, observed time, dropped count: nothing a usage record has.
          r.skip(tag, end);
      }
    }
    return { timeUnixNano: uint64Decimal(timeLo, timeHi), eventName, traceId, spanId, attributes, skippedAttributes: this.#skipped - skippedBefore };
  }
}

function tooMany(limits: IngestLimits): CollectorError {
  return new CollectorError(
    "payload_too_large",
    `request has more than ${limits.maxLogRecordsPerRequest} log records; at most ${limits.maxLogRecordsPerRequest} are accepted per request (lower the exporter's maxExportBatchSize)`,
  );
}
