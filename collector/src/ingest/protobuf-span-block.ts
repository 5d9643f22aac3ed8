import { ATTR, EVENT_ATTRIBUTE_ALLOW_LIST, MAX_ATTRIBUTE_VALUE_LENGTH, RESOURCE_ATTRIBUTE_ALLOW_LIST, SPAN_ATTRIBUTE_ALLOW_LIST } from "@troupe/contract";
import { CollectorError } from "../errors.js";
import type { StoredAttributeType } from "../store/attribute-types.js";
import { NativeWriter } from "../store/native-block.js";
import type { SpanBlockBuilder } from "../store/span-block.js";
import { encodeSpanEvents, encodeSpanLinks } from "../store/span-events.js";
import type { SpanEvent, SpanLink } from "../store/span-row.js";
import type { Principal } from "../tenants/principal.js";
import { attributeText, stringifyAttributeValue, type FilterCounts } from "./attribute-filter.js";
import { TraceWireReader, spanDurationNs, type AttributeAllowLists } from "./decode-protobuf-wire.js";
import type { IngestLimits } from "./ingest-limits.js";
import { STORED_TYPE_TEXT, writeAttributeText, type WrittenValue } from "./protobuf-attribute-text.js";
import { releaseSpanBlockBuilder, takeSpanBlockBuilder } from "./span-block-pool.js";
import { capped, resolveTenant, startTimeWindow, storedEvent, storedLink, type StartTimeWindow } from "./span-rows.js";
import { KeyCache, NO_KEY, sameBytes, type KeyEntry } from "./wire-key-cache.js";
import { ProtobufForwardCopy, codeOnlyStatus, copyableValue, utf8Text } from "./protobuf-forward-copy.js";

/** A protobuf export request decoded straight into a span block (every span accepted). */
export interface DirectSpanBlock {
  builder: SpanBlockBuilder;
  spanCount: number;
  droppedAttributes: { span: number; resource: number; event: number; link: number };
  truncatedAttributes: number;
  /**
   * When asked for (`forwardCopy`): the accepted spans as the OTLP protobuf request the forwarder
   * sends, copied from the request's bytes (ProtobufForwardCopy); undefined when the request could
   * not be copied exactly (the forwarder then encodes the block).
   */
  forwardCopy?: Buffer;
}

/**
 * Decodes an `application/x-protobuf` export request straight into a span block: no request
 * object, no rows, no attribute records, and ids, names and ASCII values copied from the wire as
 * bytes (events and links, which few spans have, are decoded as the general path decodes them).
 * This is the hot path of ingest; it gives the very bytes decodeProtobufTracesWire + buildSpanRows
 * + encodeSpanBlock give, attribute types, scopes, tracestate, flags, events and links included (a
 * differential test holds them together), but only for the common request: every span accepted (at
 * `nowMs`, as buildSpanRows decides), no span or resource attribute key twice in one list, the
 * resource before its spans and each scope before its spans. For anything else — malformed bodies,
 * rejected spans (zero ids and start times out of the window included), duplicate keys — it returns
 * undefined and the caller takes the general path, which answers with the precise error or partial
 * success.
 */
export function decodeProtobufSpanBlock(body: Buffer, principal: Principal, limits: IngestLimits, nowMs = Date.now(), forwardCopy = false): DirectSpanBlock | undefined {
  const builder = takeSpanBlockBuilder();
  try {
    return new DirectDecoder(body, principal, limits, builder, startTimeWindow(nowMs), forwardCopy ? new ProtobufForwardCopy(body) : undefined).decode();
  } catch (err) {
    releaseSpanBlockBuilder(builder);
    if (err === GENERAL_PATH || err instanceof CollectorError) return undefined;
    throw err;
  }
}

/** Gives a decoded block's builder back for reuse once its block is finished (or abandoned): see releaseSpanBlockBuilder. */
export function releaseSpanBlock(direct: DirectSpanBlock): void {
  releaseSpanBlockBuilder(direct.builder);
}

/** Thrown inside the decoder when the request needs the general path. */
const GENERAL_PATH = Symbol("general-path");

const EMPTY = Buffer.alloc(0);
/** Names a span in a link's errors, which the direct path never reports (the general path does). */
const SPAN_PATH = (): string => "span";

const LEN = 2;
const I32 = 5;
const STRING_VALUE_TAG = (1 << 3) | LEN;
const KEY_TAG = (1 << 3) | LEN;
const VALUE_TAG = (2 << 3) | LEN;

/** What the general path's reader decodes of events and links (the attributes stored with them). */
const ALLOW: AttributeAllowLists = { span: SPAN_ATTRIBUTE_ALLOW_LIST, resource: RESOURCE_ATTRIBUTE_ALLOW_LIST, event: EVENT_ATTRIBUTE_ALLOW_LIST };

interface ResourceState {
  /** The kept keys, in order, and their indexes in the block's resource-attribute dictionary (looked up at its first span). */
  keys: string[];
  keyIndexes: number[] | undefined;
  /** Their values, encoded as the block's String values. */
  values: Buffer;
  /** The keys whose values are not plain strings, their indexes in the block's type dictionary, and their types as String values. */
  typeKeys: string[];
  typeKeyIndexes: number[] | undefined;
  typeValues: Buffer;
  serviceName: string;
  tenantClaim: string | undefined;
  attributeCount: number;
  /** The tenant its spans are forwarded under, when a forward copy is written. */
  copyTenant: string | undefined;
}

/** The scope of a ScopeSpans, capped, with its indexes in the block's scope dictionaries (looked up at its first span). */
interface ScopeState {
  name: string;
  version: string;
  /** How many of name and version were cut to the cap (counted for each span, as the general path does). */
  cuts: number;
  nameIndex: number;
  versionIndex: number;
  given: boolean;
}

class DirectDecoder {
  readonly #buf: Buffer;
  readonly #r: TraceWireReader;
  readonly #principal: Principal;
  readonly #limits: IngestLimits;
  readonly #b: SpanBlockBuilder;
  /** The start time window as the halves of fixed64 values: [min high, min low, max high, max low]. */
  readonly #window: [number, number, number, number];
  #spanCount = 0;
  readonly #dropped = { span: 0, resource: 0 };
  /** Span and resource values, scopes and tracestates cut to the cap. */
  readonly #cuts: FilterCounts = { dropped: 0, truncated: 0 };
  readonly #eventCounts: FilterCounts = { dropped: 0, truncated: 0 };
  readonly #linkCounts: FilterCounts = { dropped: 0, truncated: 0 };
  /** This block's serial: the key indexes kept on KeyEntry are this block's when their `block` is it. */
  readonly #block = nextSerial();
  /** The last tenant claim decided, and its tenant's index in the block's tenant dictionary (-1: none yet). */
  #resolvedClaim: string | undefined;
  #resolvedIndex = -1;
  #resolvedTenant = "";
  /** The forward copy, while it is being written (undefined: not asked for, or abandoned). */
  #copy: ProtobufForwardCopy | undefined;

  constructor(body: Buffer, principal: Principal, limits: IngestLimits, builder: SpanBlockBuilder, window: StartTimeWindow, copy: ProtobufForwardCopy | undefined) {
    this.#copy = copy;
    this.#b = builder;
    this.#window = [Number(window.minNs >> 32n), Number(window.minNs & 0xffffffffn), Number(window.maxNs >> 32n), Number(window.maxNs & 0xffffffffn)];
    this.#buf = body;
    this.#r = new TraceWireReader(body, limits, ALLOW);
    this.#principal = principal;
    this.#limits = limits;
  }

  decode(): DirectSpanBlock {
    const r = this.#r;
    const end = this.#buf.length;
    while (r.pos < end) {
      const tag = r.varint32();
      if (tag >>> 3 === 1 && (tag & 7) === LEN) this.#resourceSpans(r.lengthEnd(end, "ExportTraceServiceRequest"));
      else r.skip(tag, end);
    }
    return {
      builder: this.#b,
      spanCount: this.#spanCount,
      droppedAttributes: { ...this.#dropped, event: this.#eventCounts.dropped, link: this.#linkCounts.dropped },
      truncatedAttributes: this.#cuts.truncated + this.#eventCounts.truncated + this.#linkCounts.truncated,
      forwardCopy: this.#copy?.take(),
    };
  }

  #resourceSpans(end: number): void {
    const r = this.#r;
    let resource: ResourceState | undefined;
    const copyStart = this.#copy?.beginResourceSpans() ?? 0;
    let spans = 0;
    while (r.pos < end) {
      const tag = r.varint32();
      const field = tag >>> 3;
      if (field === 1) {
        r.expect(tag, LEN, "ResourceSpans.resource");
        if (resource !== undefined) throw GENERAL_PATH; // a second resource, or one after its spans
        resource = this.#resource(r.lengthEnd(end, "ResourceSpans"));
      } else if (field === 2) {
        r.expect(tag, LEN, "ResourceSpans.scope_spans");
        resource ??= this.#resource(r.pos);
        spans += this.#scopeSpans(r.lengthEnd(end, "ResourceSpans"), resource);
      } else r.skip(tag, end);
    }
    this.#copy?.endGroup(copyStart, spans);
  }

  #resource(end: number): ResourceState {
    const r = this.#r;
    const state: ResourceState = { keys: [], keyIndexes: undefined, values: EMPTY, typeKeys: [], typeKeyIndexes: undefined, typeValues: EMPTY, serviceName: "", tenantClaim: undefined, attributeCount: 0, copyTenant: undefined };
    const values = new NativeWriter(256);
    const typeValues = new NativeWriter(64);
    const serial = nextSerial();
    /** The kept KeyValue fields the forward copy takes as they came: start and end of each. */
    const copied: number[] = [];
    let hasServiceName = false;
    while (r.pos < end) {
      const fieldStart = r.pos;
      const tag = r.varint32();
      if (tag >>> 3 !== 1) {
        r.skip(tag, end);
        continue;
      }
      r.expect(tag, LEN, "Resource.attributes");
      const kvEnd = r.lengthEnd(end, "Resource");
      this.#keyValue(kvEnd, RESOURCE_HINTS, state.attributeCount);
      const entry = this.#entry;
      const key = entry.key;
      const valueStart = this.#valueStart;
      const valueEnd = this.#valueEnd;
      state.attributeCount++;
      if (!entry.resource) {
        this.#skipValue(valueStart, valueEnd, kvEnd);
        this.#dropped.resource++;
        continue;
      }
      markOnce(entry, serial);
      if (key === ATTR.tenantId) state.tenantClaim = this.#fullText(valueStart, valueEnd, kvEnd, false);
      // The stored text, as the general path names the service.
      if (key === "service.name") state.serviceName = this.#fullText(valueStart, valueEnd, kvEnd, true).slice(0, MAX_ATTRIBUTE_VALUE_LENGTH);
      state.keys.push(key);
      const type = this.#writeValue(values, valueStart, valueEnd, kvEnd);
      if (type !== undefined) {
        state.typeKeys.push(key);
        typeValues.bytes(STORED_TYPE_TEXT[type]);
      }
      if (key === "service.name") hasServiceName = true;
      // The tenant's is written anew: the tenant the collector decided.
      if (this.#copy !== undefined && key !== ATTR.tenantId) {
        if (this.#kvAsSent && (this.#written.asSent || copyableValue(this.#buf, valueStart, valueEnd, type))) copied.push(fieldStart, kvEnd);
        else this.#abandonCopy();
      }
    }
    if (state.serviceName === "") state.serviceName = "unknown_service";
    if (this.#copy !== undefined) {
      const tenant = resolveTenant(this.#principal, state.tenantClaim, () => undefined);
      if (tenant === null) this.#abandonCopy();
      else {
        state.copyTenant = tenant;
        // forwardedResource names the service when the resource did not.
        this.#copy.resource(copied, hasServiceName ? undefined : state.serviceName, tenant);
      }
    }
    state.values = Buffer.from(values.view());
    state.typeValues = Buffer.from(typeValues.view());
    return state;
  }

  /** Writes a span's resource attributes and their types (the dictionary indexes looked up at the resource's first span, as the general path adds them). */
  #writeResource(resource: ResourceState): void {
    const b = this.#b;
    const keys = b.resourceAttributes.keys;
    const typeKeys = b.resourceAttributeTypes.keys;
    const keyIndexes = (resource.keyIndexes ??= resource.keys.map((key) => keys.dictionary.indexOf(key)));
    const typeKeyIndexes = (resource.typeKeyIndexes ??= resource.typeKeys.map((key) => typeKeys.dictionary.indexOf(key)));
    for (let i = 0; i < keyIndexes.length; i++) keys.addIndex(keyIndexes[i]!);
    b.resourceAttributes.values.bytes(resource.values);
    for (let i = 0; i < typeKeyIndexes.length; i++) typeKeys.addIndex(typeKeyIndexes[i]!);
    if (resource.typeValues.length > 0) b.resourceAttributeTypes.values.bytes(resource.typeValues);
  }

  /** Decodes a ScopeSpans; returns how many spans it held. */
  #scopeSpans(end: number, resource: ResourceState): number {
    const r = this.#r;
    const scope: ScopeState = { name: "", version: "", cuts: 0, nameIndex: -1, versionIndex: -1, given: false };
    let spans = 0;
    const copyStart = this.#copy?.beginScopeSpans() ?? 0;
    while (r.pos < end) {
      const tag = r.varint32();
      const field = tag >>> 3;
      if (field === 2) {
        r.expect(tag, LEN, "ScopeSpans.spans");
        if (++this.#spanCount > this.#limits.maxSpansPerRequest) throw GENERAL_PATH;
        this.#span(r.lengthEnd(end, "ScopeSpans"), resource, scope);
        spans++;
      } else if (field === 1) {
        r.expect(tag, LEN, "ScopeSpans.scope");
        if (spans > 0) throw GENERAL_PATH; // a scope after spans it names
        // A second scope would be merged with the first by a receiver, not replace it.
        if (scope.given) this.#abandonCopy();
        scope.given = true;
        const [name, version] = r.scope(r.lengthEnd(end, "ScopeSpans"));
        const cuts: FilterCounts = { dropped: 0, truncated: 0 };
        scope.name = capped(name, cuts);
        scope.version = capped(version, cuts);
        scope.cuts = cuts.truncated;
        if (scope.cuts > 0) this.#abandonCopy();
        this.#copy?.scope(scope.name, scope.version);
      } else r.skip(tag, end);
    }
    this.#copy?.endGroup(copyStart, spans);
    return spans;
  }

  #span(end: number, resource: ResourceState, scope: ScopeState): void {
    const r = this.#r;
    const b = this.#b;
    const buf = this.#buf;
    let traceStart = -1;
    let spanStart = -1;
    let parentStart = -1;
    let nameStart = -1;
    let nameEnd = -1;
    let kind = 0;
    let startLo = 0;
    let startHi = 0;
    let endLo = 0;
    let endHi = 0;
    let statusCode = 0;
    let traceStateStart = -1;
    let traceStateEnd = -1;
    let flags = 0;
    let attributeCount = 0;
    let events: SpanEvent[] | undefined;
    let links: SpanLink[] | undefined;
    let tenantClaim: string | undefined;
    const serial = nextSerial();
    const attributes = b.attributes;
    const types = b.attributeTypes;
    const copy = this.#copy;
    let statusGiven = false;
    const copySlot = copy?.beginSpan(r.pos) ?? 0;
    while (r.pos < end) {
      const fieldStart = r.pos;
      const tag = r.varint32();
      switch (tag >>> 3) {
        case 1:
        case 2:
        case 4: {
          r.expect(tag, LEN, "Span id");
          const idEnd = r.lengthEnd(end, "Span");
          const bytes = idEnd - r.pos;
          const field = tag >>> 3;
          if (field === 1) traceStart = bytes === 16 ? r.pos : -1;
          else if (field === 2) spanStart = bytes === 8 ? r.pos : -1;
          else if (bytes === 8) parentStart = r.pos;
          else if (bytes === 0) parentStart = -1;
          else throw GENERAL_PATH;
          r.pos = idEnd;
          break;
        }
        case 3:
          r.expect(tag, LEN, "Span.trace_state");
          traceStateEnd = r.lengthEnd(end, "a string");
          traceStateStart = r.pos;
          r.pos = traceStateEnd;
          if (copy !== undefined && (traceStateEnd - traceStateStart > MAX_ATTRIBUTE_VALUE_LENGTH || !utf8Text(buf, traceStateStart, traceStateEnd))) this.#abandonCopy();
          break;
        case 5:
          r.expect(tag, LEN, "Span.name");
          nameEnd = r.lengthEnd(end, "a string");
          nameStart = r.pos;
          r.pos = nameEnd;
          if (copy !== undefined && !utf8Text(buf, nameStart, nameEnd)) this.#abandonCopy();
          break;
        case 6:
          r.expect(tag, 0, "Span.kind");
          kind = Number(r.varintNumber(true));
          // The kinds OTLP defines: any other is stored as a byte.
          if (copy !== undefined && !(kind >= 0 && kind <= 5)) this.#abandonCopy();
          break;
        case 7:
          r.expect(tag, 1, "Span.start_time_unix_nano");
          r.fixed64(end);
          startLo = r.lo;
          startHi = r.hi;
          break;
        case 8:
          r.expect(tag, 1, "Span.end_time_unix_nano");
          r.fixed64(end);
          endLo = r.lo;
          endHi = r.hi;
          break;
        case 9: {
          r.expect(tag, LEN, "Span.attributes");
          const kvEnd = r.lengthEnd(end, "Span");
          this.#keyValue(kvEnd, SPAN_HINTS, attributeCount);
          const entry = this.#entry;
          const valueStart = this.#valueStart;
          const valueEnd = this.#valueEnd;
          attributeCount++;
          if (!entry.span) {
            this.#skipValue(valueStart, valueEnd, kvEnd);
            this.#dropped.span++;
            copy?.cut(fieldStart, kvEnd);
            break;
          }
          markOnce(entry, serial);
          if (entry.key === ATTR.tenantId) tenantClaim = this.#fullText(valueStart, valueEnd, kvEnd, false);
          if (entry.block !== this.#block) {
            entry.block = this.#block;
            entry.attributeIndex = attributes.keys.dictionary.indexOf(entry.key);
            entry.typeIndex = -1;
          }
          attributes.keys.addIndex(entry.attributeIndex);
          const type = this.#writeValue(attributes.values, valueStart, valueEnd, kvEnd);
          if (type !== undefined) {
            // Token counts make this common: the key's index is looked up once per block.
            if (entry.typeIndex < 0) entry.typeIndex = types.keys.dictionary.indexOf(entry.key);
            types.keys.addIndex(entry.typeIndex);
            const text = STORED_TYPE_TEXT[type];
            types.values.rawBytes(text, 0, text.length);
          }
          if (copy !== undefined && !(this.#kvAsSent && (this.#written.asSent || copyableValue(buf, valueStart, valueEnd, type)))) this.#abandonCopy();
          break;
        }
        case 11: {
          r.expect(tag, LEN, "Span.events");
          const event = storedEvent(r.event(r.lengthEnd(end, "Span")), this.#eventCounts);
          (events ??= []).push(event);
          // Written as stored: its attributes filtered, its name capped.
          copy?.cut(fieldStart, r.pos);
          copy?.event(event);
          break;
        }
        case 13: {
          r.expect(tag, LEN, "Span.links");
          const link = storedLink(r.link(r.lengthEnd(end, "Span"), SPAN_PATH, links?.length ?? 0), this.#linkCounts);
          (links ??= []).push(link);
          copy?.cut(fieldStart, r.pos);
          copy?.link(link);
          break;
        }
        case 15: {
          r.expect(tag, LEN, "Span.status");
          const statusEnd = r.lengthEnd(end, "Span");
          const statusStart = r.pos;
          statusCode = r.statusCode(statusEnd);
          // A second status would be merged with the first by a receiver, not replace it.
          if (statusGiven) this.#abandonCopy();
          statusGiven = true;
          if (copy !== undefined && !codeOnlyStatus(buf, statusStart, statusEnd)) {
            // The message is never forwarded (it can carry user content): the code alone.
            if (statusCode < 0 || statusCode > 2) this.#abandonCopy();
            copy.cut(fieldStart, statusEnd);
            copy.status(statusCode);
          }
          break;
        }
        case 16:
          r.expect(tag, I32, "Span.flags");
          flags = r.fixed32(end);
          break;
        default:
          // Dropped-counts and fields this decoder does not know: not forwarded.
          r.skip(tag, end);
          copy?.cut(fieldStart, r.pos);
      }
    }
    if (traceStart < 0 || spanStart < 0) throw GENERAL_PATH;
    // Spans buildSpanRows refuses as unreadable: zero ids, a start outside the window (0 included).
    if (isZero(buf, traceStart, 16) || isZero(buf, spanStart, 8)) throw GENERAL_PATH;
    const [minHi, minLo, maxHi, maxLo] = this.#window;
    if (startHi < minHi || (startHi === minHi && startLo < minLo) || startHi > maxHi || (startHi === maxHi && startLo > maxLo)) throw GENERAL_PATH;
    if (attributeCount > this.#limits.maxAttributesPerSpan || resource.attributeCount > this.#limits.maxAttributesPerSpan) throw GENERAL_PATH;
    if ((events?.length ?? 0) > this.#limits.maxEventsPerSpan || (links?.length ?? 0) > this.#limits.maxLinksPerSpan) throw GENERAL_PATH;
    if (tenantClaim !== undefined && resource.tenantClaim !== undefined && tenantClaim !== resource.tenantClaim) throw GENERAL_PATH;
    const tenantIndex = this.#tenantIndexOf(tenantClaim ?? resource.tenantClaim);
    if (copy !== undefined) {
      // The end time as the forwarder writes it: start + the stored duration (a duration under 2^53 ns, never negative, is exact).
      const hiDiff = endHi - startHi;
      if (this.#resolvedTenant !== resource.copyTenant || hiDiff < 0 || hiDiff >= 0x200000 || (hiDiff === 0 && endLo < startLo)) this.#abandonCopy();
      copy.endSpan(copySlot, end);
    }

    b.tenantId.addIndex(tenantIndex);
    b.traceId.hexString(buf, traceStart, 16);
    b.spanId.hexString(buf, spanStart, 8);
    if (parentStart >= 0) b.parentSpanId.hexString(buf, parentStart, 8);
    else b.parentSpanId.varUInt(0);
    if (nameStart >= 0) b.name.stringFromUtf8(buf, nameStart, nameEnd);
    else b.name.varUInt(0);
    b.kind.uint8(kind);
    // In the window, so far below 2^63 ns (DateTime64 is signed).
    b.startTime.uint32Pair(startLo, startHi);
    b.durationNs.uint64(spanDurationNs(startLo, startHi, endLo, endHi));
    b.statusCode.uint8(statusCode);
    b.serviceName.add(resource.serviceName);
    this.#writeResource(resource);
    if (scope.nameIndex < 0) {
      scope.nameIndex = b.scopeName.dictionary.indexOf(scope.name);
      scope.versionIndex = b.scopeVersion.dictionary.indexOf(scope.version);
    }
    b.scopeName.addIndex(scope.nameIndex);
    b.scopeVersion.addIndex(scope.versionIndex);
    this.#cuts.truncated += scope.cuts;
    // An empty String is one zero byte (its length): the common tracestate, events and links.
    if (traceStateStart < 0) b.traceState.uint8(0);
    // At most as many UTF-16 units as bytes: never over the cap.
    else if (traceStateEnd - traceStateStart <= MAX_ATTRIBUTE_VALUE_LENGTH) b.traceState.stringFromUtf8(buf, traceStateStart, traceStateEnd);
    else b.traceState.string(capped(buf.toString("utf8", traceStateStart, traceStateEnd), this.#cuts));
    b.flags.uint32(flags);
    if (events === undefined) b.events.uint8(0);
    else b.events.string(encodeSpanEvents(events));
    if (links === undefined) b.links.uint8(0);
    else b.links.string(encodeSpanLinks(links));
    b.endRow();
  }

  /** The last KeyValue read: its key, and where its AnyValue lies (-1: none). */
  #entry: KeyEntry = NO_KEY;
  #valueStart = -1;
  #valueEnd = -1;
  /** Whether that KeyValue was laid out as exporters write it (key, then value, nothing else): a forward copy takes only those as they came. */
  #kvAsSent = false;
  /** How the last value was written: a forward copy takes one known to be as sent without checking it again. */
  readonly #written: WrittenValue = { asSent: false };

  /** The forward copy cannot say exactly what the encoder would: the forwarder will encode the block. */
  #abandonCopy(): void {
    this.#copy?.abandon();
    this.#copy = undefined;
  }

  /**
   * Reads a KeyValue into #entry, #valueStart, #valueEnd (the key as the general path decodes it).
   * `hints` holds the key last seen at each position of such lists: checked first, as exporters
   * send their attributes in the same order span after span. Leaves pos at `end`.
   */
  #keyValue(end: number, hints: KeyEntry[] | undefined, position: number): void {
    const r = this.#r;
    const buf = this.#buf;
    // The layout every exporter writes: key (one-byte length), then value (length under 16 KiB), nothing else.
    const start = r.pos;
    if (buf[start] === KEY_TAG && buf[start + 1]! < 0x80) {
      const keyStart = start + 2;
      const keyEnd = keyStart + buf[start + 1]!;
      if (keyEnd + 2 < end && buf[keyEnd] === VALUE_TAG) {
        let valueStart = keyEnd + 2;
        let length = buf[keyEnd + 1]!;
        if (length >= 0x80) {
          length = (length & 0x7f) | (buf[keyEnd + 2]! << 7);
          valueStart++;
        }
        if (length < 0x4000 && valueStart + length === end) {
          const hint = hints?.[position];
          const entry = hint !== undefined && sameBytes(hint.bytes, buf, keyStart, keyEnd - keyStart) ? hint : KEYS.entry(buf, keyStart, keyEnd);
          if (hints !== undefined && position < MAX_HINTS) hints[position] = entry;
          this.#entry = entry;
          this.#valueStart = valueStart;
          this.#valueEnd = end;
          this.#kvAsSent = true;
          r.pos = end;
          return;
        }
      }
    }
    let entry = NO_KEY;
    let valueStart = -1;
    let valueEnd = -1;
    while (r.pos < end) {
      const tag = r.varint32();
      const field = tag >>> 3;
      if (field === 1) {
        r.expect(tag, LEN, "KeyValue.key");
        const keyEnd = r.lengthEnd(end, "a string");
        const hint = hints?.[position];
        entry = hint !== undefined && sameBytes(hint.bytes, this.#buf, r.pos, keyEnd - r.pos) ? hint : KEYS.entry(this.#buf, r.pos, keyEnd);
        if (hints !== undefined && position < MAX_HINTS) hints[position] = entry;
        r.pos = keyEnd;
      } else if (field === 2) {
        r.expect(tag, LEN, "KeyValue.value");
        valueEnd = r.lengthEnd(end, "KeyValue");
        valueStart = r.pos;
        r.pos = valueEnd;
      } else r.skip(tag, end);
    }
    this.#entry = entry;
    this.#valueStart = valueStart;
    this.#valueEnd = valueEnd;
    this.#kvAsSent = false;
  }

  /** A dropped attribute's value is still checked (structure, nesting), as the general path does. */
  #skipValue(valueStart: number, valueEnd: number, kvEnd: number): void {
    if (valueStart < 0) return;
    const r = this.#r;
    r.pos = valueStart;
    r.walkAnyValue(valueEnd, 1);
    r.pos = kvEnd;
  }

  /** Writes an attribute's stored text into `values` (writeAttributeText) and leaves pos at `kvEnd`. */
  #writeValue(values: NativeWriter, valueStart: number, valueEnd: number, kvEnd: number): StoredAttributeType | undefined {
    const type = writeAttributeText(this.#r, this.#buf, values, valueStart, valueEnd, this.#limits.maxAnyValueDepth, this.#cuts, this.#written);
    this.#r.pos = kvEnd;
    return type;
  }

  /**
   * An attribute's full text (uncapped): its stored text when `stored` (as the general path names
   * the service), else its untyped text (as it compares tenant claims).
   */
  #fullText(valueStart: number, valueEnd: number, kvEnd: number, stored: boolean): string {
    if (valueStart < 0) return "";
    const r = this.#r;
    if (this.#buf[valueStart] === STRING_VALUE_TAG) {
      // A plain string (a tenant id, a service name): repeated in every span, so decoded once.
      r.pos = valueStart + 1;
      const stringEnd = r.lengthEnd(valueEnd, "a string");
      if (stringEnd === valueEnd) {
        const text = TEXTS.entry(this.#buf, r.pos, stringEnd).key;
        r.pos = kvEnd;
        return text;
      }
    }
    r.pos = valueStart;
    const value = r.anyValue(valueEnd, 1);
    const text = stored && r.valueType !== "other" ? attributeText(value, r.valueType) : stringifyAttributeValue(value);
    r.pos = kvEnd;
    return text;
  }

  /** The index (in the block's tenant dictionary) of the row's tenant as buildSpanRows decides it; anything it would reject takes the general path. */
  #tenantIndexOf(claimed: string | undefined): number {
    // Spans of a request mostly claim the same tenant: decided once per run of the same claim.
    if (this.#resolvedIndex >= 0 && claimed === this.#resolvedClaim) return this.#resolvedIndex;
    const tenant = resolveTenant(this.#principal, claimed, () => undefined);
    if (tenant === null) throw GENERAL_PATH;
    this.#resolvedClaim = claimed;
    this.#resolvedTenant = tenant;
    this.#resolvedIndex = this.#b.tenantId.dictionary.indexOf(tenant);
    return this.#resolvedIndex;
  }
}

/** Attribute lists and blocks are numbered: a key's `seen` tells whether the current list named it already, its `block` whether its indexes are the current block's. */
let serials = 0;
function nextSerial(): number {
  serials = (serials + 1) | 0;
  return serials;
}

function markOnce(entry: KeyEntry, serial: number): void {
  // A key given twice in one list takes the general path (which keeps the last value at the first place).
  if (entry.seen === serial) throw GENERAL_PATH;
  entry.seen = serial;
}

function isZero(buf: Buffer, start: number, length: number): boolean {
  for (let i = start; i < start + length; i++) if (buf[i] !== 0) return false;
  return true;
}

const KEYS = new KeyCache([...SPAN_ATTRIBUTE_ALLOW_LIST, ...RESOURCE_ATTRIBUTE_ALLOW_LIST]);
/** Short values that repeat in every span (tenant ids, service names). */
const TEXTS = new KeyCache();
/** The key last seen at each position of span and resource attribute lists. */
const MAX_HINTS = 64;
const SPAN_HINTS: KeyEntry[] = [];
const RESOURCE_HINTS: KeyEntry[] = [];
