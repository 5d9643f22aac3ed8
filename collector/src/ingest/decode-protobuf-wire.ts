import { CollectorError } from "../errors.js";
import type { IngestLimits } from "./ingest-limits.js";
import type { OtlpEvent, OtlpKeyValue, OtlpLink, OtlpResourceSpans, OtlpSpan, OtlpTraceRequest } from "./otlp-traces.js";
import { I32, I64, LEN, VARINT, WireReader, uint64Decimal } from "./protobuf-wire-reader.js";

/**
 * Attribute keys worth decoding; other attributes are skipped (validated, not materialized) and
 * counted. Links keep the span attributes' list (as buildSpanRows stores them).
 */
export interface AttributeAllowLists {
  span: ReadonlySet<string>;
  resource: ReadonlySet<string>;
  event: ReadonlySet<string>;
}

/**
 * Decodes an `application/x-protobuf` ExportTraceServiceRequest straight from the wire format of
 * the official OTLP .proto (field numbers in ./proto), without building intermediate messages, and
 * decodes only attributes named in `allow` (the rest are walked for validity, skipped and counted).
 * Same result as the protobufjs decoder (decode-protobuf.ts) for the attributes it keeps, their
 * types, events, links, scopes, tracestate and flags included — a differential test holds them
 * together — at several times its speed (see bench/ingest.bench.ts). Throws CollectorError
 * bad_request naming the problem (truncation, wrong wire type, bad span or link id length, nesting
 * too deep) and payload_too_large past the span bound.
 */
export function decodeProtobufTracesWire(body: Buffer, limits: IngestLimits, allow?: AttributeAllowLists): OtlpTraceRequest {
  const r = new TraceWireReader(body, limits, allow);
  const resourceSpans: OtlpResourceSpans[] = [];
  const end = body.length;
  while (r.pos < end) {
    const tag = r.varint32();
    if (tag >>> 3 === 1 && (tag & 7) === LEN) resourceSpans.push(r.resourceSpans(r.lengthEnd(end, "ExportTraceServiceRequest"), resourceSpans.length));
    else r.skip(tag, end);
  }
  return { resourceSpans, spanCount: r.spanCount };
}

/** The trace messages of OTLP over the wire primitives: resource spans, scopes, spans, events, links. */
export class TraceWireReader extends WireReader {
  spanCount = 0;
  readonly #buf: Buffer;
  readonly #limits: IngestLimits;
  readonly #allow: AttributeAllowLists | undefined;

  constructor(buf: Buffer, limits: IngestLimits, allow: AttributeAllowLists | undefined) {
    super(buf, limits);
    this.#buf = buf;
    this.#limits = limits;
    this.#allow = allow;
  }

  resourceSpans(end: number, index: number): OtlpResourceSpans {
    const out: OtlpResourceSpans & { skippedResourceAttributes: number } = { resourceAttributes: [], spans: [], skippedResourceAttributes: 0 };
    let scopeIndex = 0;
    while (this.pos < end) {
      const tag = this.varint32();
      switch (tag >>> 3) {
        case 1: {
          this.expect(tag, LEN, "ResourceSpans.resource");
          const resourceEnd = this.lengthEnd(end, "ResourceSpans");
          while (this.pos < resourceEnd) {
            const t = this.varint32();
            if (t >>> 3 === 1) {
              this.expect(t, LEN, "Resource.attributes");
              const before = this.skipped;
              this.keyValueInto(this.lengthEnd(resourceEnd, "Resource"), out.resourceAttributes, this.#allow?.resource, 1);
              out.skippedResourceAttributes += this.skipped - before;
            } else this.skip(t, resourceEnd);
          }
          break;
        }
        case 2: {
          this.expect(tag, LEN, "ResourceSpans.scope_spans");
          const scopeEnd = this.lengthEnd(end, "ResourceSpans");
          const first = out.spans.length;
          let scopeName = "";
          let scopeVersion = "";
          let spanIndex = 0;
          while (this.pos < scopeEnd) {
            const t = this.varint32();
            if (t >>> 3 === 2) {
              this.expect(t, LEN, "ScopeSpans.spans");
              if (++this.spanCount > this.#limits.maxSpansPerRequest) {
                throw new CollectorError(
                  "payload_too_large",
                  `request has more than ${this.#limits.maxSpansPerRequest} spans; at most ${this.#limits.maxSpansPerRequest} are accepted per request (lower the exporter's maxExportBatchSize)`,
                );
              }
              out.spans.push(this.span(this.lengthEnd(scopeEnd, "ScopeSpans"), index, scopeIndex, spanIndex++));
            } else if (t >>> 3 === 1) {
              this.expect(t, LEN, "ScopeSpans.scope");
              // A scope given twice replaces the first (as protobufjs decodes it).
              [scopeName, scopeVersion] = this.scope(this.lengthEnd(scopeEnd, "ScopeSpans"));
            } else this.skip(t, scopeEnd);
          }
          // The scope may follow its spans on the wire.
          for (let i = first; i < out.spans.length; i++) {
            const span = out.spans[i]!;
            span.scopeName = scopeName;
            span.scopeVersion = scopeVersion;
          }
          scopeIndex++;
          break;
        }
        default:
          this.skip(tag, end);
      }
    }
    return out;
  }

  /** An InstrumentationScope's name and version (its attributes are not kept). */
  scope(end: number): [name: string, version: string] {
    let name = "";
    let version = "";
    while (this.pos < end) {
      const tag = this.varint32();
      if (tag >>> 3 === 1) {
        this.expect(tag, LEN, "InstrumentationScope.name");
        name = this.string(end);
      } else if (tag >>> 3 === 2) {
        this.expect(tag, LEN, "InstrumentationScope.version");
        version = this.string(end);
      } else this.skip(tag, end);
    }
    return [name, version];
  }

  span(end: number, rs: number, ss: number, k: number): OtlpSpan {
    const buf = this.#buf;
    const path = (): string => `resourceSpans[${rs}].scopeSpans[${ss}].spans[${k}]`;
    let traceId = "";
    let traceIdBytes = 0;
    let spanId = "";
    let spanIdBytes = 0;
    let parentSpanId = "";
    let name = "";
    let kind = 0;
    let startLo = 0;
    let startHi = 0;
    let endLo = 0;
    let endHi = 0;
    let statusCode = 0;
    let traceState = "";
    let flags = 0;
    const attributes: OtlpKeyValue[] = [];
    const events: OtlpEvent[] = [];
    const links: OtlpLink[] = [];
    const skippedBefore = this.skipped;
    let nestedSkipped = 0;
    while (this.pos < end) {
      const tag = this.varint32();
      switch (tag >>> 3) {
        case 1:
        case 2:
        case 4: {
          this.expect(tag, LEN, "Span id");
          const idEnd = this.lengthEnd(end, "Span");
          const bytes = idEnd - this.pos;
          const field = tag >>> 3;
          if (field === 1) {
            traceIdBytes = bytes;
            if (bytes === 16) traceId = buf.toString("hex", this.pos, idEnd);
          } else if (field === 2) {
            spanIdBytes = bytes;
            if (bytes === 8) spanId = buf.toString("hex", this.pos, idEnd);
          } else if (bytes === 0) parentSpanId = "";
          else if (bytes === 8) parentSpanId = buf.toString("hex", this.pos, idEnd);
          else throw new CollectorError("bad_request", `${path()}.parentSpanId: must be 8 bytes; got ${bytes}`);
          this.pos = idEnd;
          break;
        }
        case 3:
          this.expect(tag, LEN, "Span.trace_state");
          traceState = this.string(end);
          break;
        case 5:
          this.expect(tag, LEN, "Span.name");
          name = this.string(end);
          break;
        case 6:
          this.expect(tag, VARINT, "Span.kind");
          kind = Number(this.varintNumber(true));
          break;
        case 7:
          this.expect(tag, I64, "Span.start_time_unix_nano");
          this.fixed64(end);
          startLo = this.lo;
          startHi = this.hi;
          break;
        case 8:
          this.expect(tag, I64, "Span.end_time_unix_nano");
          this.fixed64(end);
          endLo = this.lo;
          endHi = this.hi;
          break;
        case 9:
          this.expect(tag, LEN, "Span.attributes");
          this.keyValueInto(this.lengthEnd(end, "Span"), attributes, this.#allow?.span, 1);
          break;
        case 11: {
          this.expect(tag, LEN, "Span.events");
          const event = this.event(this.lengthEnd(end, "Span"));
          nestedSkipped += event.skippedAttributes ?? 0;
          events.push(event);
          break;
        }
        case 13: {
          this.expect(tag, LEN, "Span.links");
          const link = this.link(this.lengthEnd(end, "Span"), path, links.length);
          nestedSkipped += link.skippedAttributes ?? 0;
          links.push(link);
          break;
        }
        case 15:
          this.expect(tag, LEN, "Span.status");
          statusCode = this.statusCode(this.lengthEnd(end, "Span"));
          break;
        case 16:
          this.expect(tag, I32, "Span.flags");
          flags = this.fixed32(end);
          break;
        default:
          this.skip(tag, end);
      }
    }
    if (traceIdBytes !== 16) throw new CollectorError("bad_request", `${path()}.traceId: must be 16 bytes; got ${traceIdBytes}`);
    if (spanIdBytes !== 8) throw new CollectorError("bad_request", `${path()}.spanId: must be 8 bytes; got ${spanIdBytes}`);
    return {
      traceId,
      spanId,
      parentSpanId,
      name,
      kind,
      startTimeUnixNano: uint64Decimal(startLo, startHi),
      endTimeUnixNano: uint64Decimal(endLo, endHi),
      durationNs: spanDurationNs(startLo, startHi, endLo, endHi),
      attributes,
      skippedAttributes: this.skipped - skippedBefore - nestedSkipped,
      events,
      links,
      statusCode,
      scopeName: "",
      scopeVersion: "",
      traceState,
      flags,
    };
  }

  /** The code of a Status message ending at `end` (0, unset, when absent). */
  statusCode(end: number): number {
    let code = 0;
    while (this.pos < end) {
      const t = this.varint32();
      if (t >>> 3 === 3) {
        this.expect(t, VARINT, "Status.code");
        code = Number(this.varintNumber(true));
      } else this.skip(t, end);
    }
    return code;
  }

  event(end: number): OtlpEvent {
    let lo = 0;
    let hi = 0;
    const event: OtlpEvent & { skippedAttributes: number } = { timeUnixNano: "0", name: "", attributes: [], skippedAttributes: 0 };
    while (this.pos < end) {
      const tag = this.varint32();
      const field = tag >>> 3;
      if (field === 1) {
        this.expect(tag, I64, "Event.time_unix_nano");
        this.fixed64(end);
        lo = this.lo;
        hi = this.hi;
      } else if (field === 2) {
        this.expect(tag, LEN, "Event.name");
        event.name = this.string(end);
      } else if (field === 3) {
        this.expect(tag, LEN, "Event.attributes");
        const before = this.skipped;
        this.keyValueInto(this.lengthEnd(end, "Event"), event.attributes, this.#allow?.event, 1);
        event.skippedAttributes += this.skipped - before;
      } else this.skip(tag, end);
    }
    event.timeUnixNano = uint64Decimal(lo, hi);
    return event;
  }

  /** A Span.Link; its ids must be 16 and 8 bytes, as the span's own (`spanPath` names the span in errors). */
  link(end: number, spanPath: () => string, index: number): OtlpLink {
    const buf = this.#buf;
    let traceIdBytes = 0;
    let spanIdBytes = 0;
    const link: OtlpLink & { skippedAttributes: number } = { traceId: "", spanId: "", traceState: "", flags: 0, attributes: [], skippedAttributes: 0 };
    while (this.pos < end) {
      const tag = this.varint32();
      switch (tag >>> 3) {
        case 1:
        case 2: {
          this.expect(tag, LEN, "Link id");
          const idEnd = this.lengthEnd(end, "Link");
          const bytes = idEnd - this.pos;
          if (tag >>> 3 === 1) {
            traceIdBytes = bytes;
            if (bytes === 16) link.traceId = buf.toString("hex", this.pos, idEnd);
          } else {
            spanIdBytes = bytes;
            if (bytes === 8) link.spanId = buf.toString("hex", this.pos, idEnd);
          }
          this.pos = idEnd;
          break;
        }
        case 3:
          this.expect(tag, LEN, "Link.trace_state");
          link.traceState = this.string(end);
          break;
        case 4: {
          this.expect(tag, LEN, "Link.attributes");
          const before = this.skipped;
          this.keyValueInto(this.lengthEnd(end, "Link"), link.attributes, this.#allow?.span, 1);
          link.skippedAttributes += this.skipped - before;
          break;
        }
        case 6:
          this.expect(tag, I32, "Link.flags");
          link.flags = this.fixed32(end);
          break;
        default:
          this.skip(tag, end);
      }
    }
    if (traceIdBytes !== 16) throw new CollectorError("bad_request", `${spanPath()}.links[${index}].traceId: must be 16 bytes; got ${traceIdBytes}`);
    if (spanIdBytes !== 8) throw new CollectorError("bad_request", `${spanPath()}.links[${index}].spanId: must be 8 bytes; got ${spanIdBytes}`);
    return link;
  }
}

/**
 * A span's duration in nanoseconds from its start and end times given as 32-bit halves: end minus
 * start, exact while it fits 2^53, and 0 when the end is not after the start.
 */
export function spanDurationNs(startLo: number, startHi: number, endLo: number, endHi: number): number {
  const hiDiff = endHi - startHi;
  const duration =
    hiDiff > -0x200000 && hiDiff < 0x200000
      ? hiDiff * 4294967296 + (endLo - startLo)
      : Number(((BigInt(endHi) << 32n) | BigInt(endLo)) - ((BigInt(startHi) << 32n) | BigInt(startLo)));
  return duration > 0 ? duration : 0;
}
