import { ATTR, MAX_ATTRIBUTE_VALUE_LENGTH } from "@troupe/contract";
import { NativeWriter } from "../store/native-block.js";
import type { SpanBlockBuilder } from "../store/span-block.js";
import { encodeSpanEvents, encodeSpanLinks } from "../store/span-events.js";
import type { Principal } from "../tenants/principal.js";
import type { FilterCounts } from "./attribute-filter.js";
import type { IngestLimits } from "./ingest-limits.js";
import { JsonKeyValueReader, KeyHints } from "./json-key-value.js";
import { END, MemberNames, once } from "./json-member-names.js";
import { isZeroId, readFixed32, readHexId, readHexIdText, readSmallInt, readTime, timeText, timeWithin, writeHexId, writeStartAndDuration } from "./json-span-fields.js";
import { JsonTokens, NOT_TAKEN } from "./json-tokens.js";
import type { OtlpEvent, OtlpKeyValue, OtlpLink } from "./otlp-traces.js";
import { releaseSpanBlockBuilder, takeSpanBlockBuilder } from "./span-block-pool.js";
import { capped, resolveTenant, startTimeWindow, storedEvent, storedLink } from "./span-rows.js";
import type { KeyEntry } from "./wire-key-cache.js";

/** An OTLP/JSON export request decoded straight into a span block (every span accepted). */
export interface JsonSpanBlock {
  builder: SpanBlockBuilder;
  spanCount: number;
  droppedAttributes: { span: number; resource: number; event: number; link: number };
  truncatedAttributes: number;
}

/**
 * Decodes an `application/json` export request straight into a span block: a tokenizer over the
 * body's bytes (no JSON.parse, no request object, no rows), ids, names and ASCII values copied as
 * bytes. It gives the very block decodeJsonTraces + buildSpanRows + SpanBlockBuilder.addRow give
 * (a differential test holds them together), with the same counts of dropped and cut attributes,
 * but only for the request the OpenTelemetry exporters send: lowerCamelCase names, hex ids (either
 * case), int64 as strings or as numbers below 10^15, enums as numbers, every span accepted (at
 * `nowMs`, as buildSpanRows decides), no span or resource attribute key twice in one list, no
 * member twice in one object, the resource before its spans and each scope before its spans.
 * Unknown members are skipped (checked to be JSON), as OTLP/JSON receivers must. For anything
 * else — invalid JSON, snake_case names, base64 ids, enum names, nulls, key-value lists, rejected
 * spans (zero ids, start times out of the window, a tenant the key may not write), too many spans,
 * attributes, events or links — it returns undefined and the caller takes the general path, which
 * answers with the precise error or partial success.
 */
export function decodeJsonSpanBlock(body: Buffer, principal: Principal, limits: IngestLimits, nowMs = Date.now()): JsonSpanBlock | undefined {
  const builder = takeSpanBlockBuilder();
  try {
    return new JsonSpanDecoder(body, principal, limits, builder, nowMs).decode();
  } catch (err) {
    releaseSpanBlockBuilder(builder);
    if (err === NOT_TAKEN) return undefined;
    throw err;
  }
}

/** Gives a decoded block's builder back for reuse once its block is finished (or abandoned). */
export function releaseJsonSpanBlock(block: JsonSpanBlock): void {
  releaseSpanBlockBuilder(block.builder);
}

// The members of each object, by id (bits of the decoder's `seen` sets).
const ROOT = new MemberNames({ resourceSpans: 0 }, ["resource_spans"]);
const RESOURCE_SPANS = new MemberNames({ resource: 0, scopeSpans: 1 }, ["scope_spans"]);
const RESOURCE = new MemberNames({ attributes: 0 });
const SCOPE_SPANS = new MemberNames({ scope: 0, spans: 1 });
const SCOPE = new MemberNames({ name: 0, version: 1 });
const SPAN = new MemberNames(
  { traceId: 0, spanId: 1, parentSpanId: 2, traceState: 3, name: 4, kind: 5, startTimeUnixNano: 6, endTimeUnixNano: 7, attributes: 8, events: 9, status: 10, links: 11, flags: 12 },
  ["trace_id", "span_id", "parent_span_id", "trace_state", "start_time_unix_nano", "end_time_unix_nano"],
);
const STATUS = new MemberNames({ code: 0 });
const EVENT = new MemberNames({ timeUnixNano: 0, name: 1, attributes: 2 }, ["time_unix_nano"]);
const LINK = new MemberNames({ traceId: 0, spanId: 1, traceState: 2, flags: 3, attributes: 4 }, ["trace_id", "span_id", "trace_state"]);

const UNKNOWN_SERVICE = "unknown_service";
const EMPTY = Buffer.alloc(0);
/** What was read lately at each position of span attribute lists. */
const SPAN_HINTS = new KeyHints();

/** A resource's stored attributes, encoded once and copied into each of its spans' rows. */
interface ResourceState {
  keys: string[];
  values: Buffer;
  typeKeys: string[];
  typeValues: Buffer;
  serviceName: string;
  tenantClaim: string | undefined;
  attributeCount: number;
  /** The keys' indexes in the block's dictionaries, and the service name's (looked up at the first span, so an empty resource adds nothing). */
  keyIndexes: number[] | undefined;
  typeKeyIndexes: number[];
  serviceIndex: number;
}

/** A scope as its spans store it: name and version capped, how many of the two were cut. */
interface ScopeState {
  name: string;
  version: string;
  cuts: number;
  nameIndex: number;
  versionIndex: number;
}

/** Numbers each attribute list (to spot a key given twice) and each block (for the keys' dictionary indexes). */
let serials = 0;
function nextSerial(): number {
  serials = (serials + 1) | 0;
  return serials;
}

class JsonSpanDecoder {
  readonly #t: JsonTokens;
  readonly #buf: Buffer;
  readonly #kv: JsonKeyValueReader;
  readonly #b: SpanBlockBuilder;
  readonly #principal: Principal;
  readonly #limits: IngestLimits;
  readonly #minStart: string;
  readonly #maxStart: string;
  readonly #block = nextSerial();
  #spanCount = 0;
  readonly #spanCounts: FilterCounts = { dropped: 0, truncated: 0 };
  readonly #resourceCounts: FilterCounts = { dropped: 0, truncated: 0 };
  readonly #eventCounts: FilterCounts = { dropped: 0, truncated: 0 };
  readonly #linkCounts: FilterCounts = { dropped: 0, truncated: 0 };
  /** The last tenant claim decided, and its tenant's index in the block's tenant dictionary (-1: none yet). */
  #resolvedClaim: string | undefined;
  #resolvedIndex = -1;
  /** The tenant the span attributes read last claim. */
  #claim: string | undefined;

  constructor(body: Buffer, principal: Principal, limits: IngestLimits, builder: SpanBlockBuilder, nowMs: number) {
    this.#t = new JsonTokens(body);
    this.#buf = body;
    this.#kv = new JsonKeyValueReader(this.#t, limits.maxAnyValueDepth);
    this.#b = builder;
    this.#principal = principal;
    this.#limits = limits;
    const window = startTimeWindow(nowMs);
    this.#minStart = window.minText;
    this.#maxStart = window.maxText;
  }

  decode(): JsonSpanBlock {
    const t = this.#t;
    let seen = 0;
    for (let id = ROOT.first(t), member = 1; id !== END; id = ROOT.next(t, member++)) {
      if (id < 0) {
        t.skipValue();
        continue;
      }
      seen = once(seen, id);
      if (t.arrayStart()) do this.#resourceSpans();
      while (t.nextElement());
    }
    t.finish();
    const counts = [this.#spanCounts, this.#resourceCounts, this.#eventCounts, this.#linkCounts];
    return {
      builder: this.#b,
      spanCount: this.#spanCount,
      droppedAttributes: { span: this.#spanCounts.dropped, resource: this.#resourceCounts.dropped, event: this.#eventCounts.dropped, link: this.#linkCounts.dropped },
      truncatedAttributes: counts.reduce((sum, c) => sum + c.truncated, 0),
    };
  }

  #resourceSpans(): void {
    const t = this.#t;
    let seen = 0;
    let resource: ResourceState | undefined;
    for (let id = RESOURCE_SPANS.first(t), member = 1; id !== END; id = RESOURCE_SPANS.next(t, member++)) {
      if (id < 0) {
        t.skipValue();
        continue;
      }
      seen = once(seen, id);
      if (id === 0) {
        if (resource !== undefined) throw NOT_TAKEN; // after its spans
        resource = this.#resource();
      } else {
        resource ??= emptyResource();
        if (t.arrayStart()) do this.#scopeSpans(resource);
        while (t.nextElement());
      }
    }
  }

  #resource(): ResourceState {
    const t = this.#t;
    const kv = this.#kv;
    const state = emptyResource();
    const values = new NativeWriter(256);
    const typeValues = new NativeWriter(64);
    let serviceName = "";
    let seen = 0;
    for (let id = RESOURCE.first(t), member = 1; id !== END; id = RESOURCE.next(t, member++)) {
      if (id < 0) {
        t.skipValue();
        continue;
      }
      seen = once(seen, id);
      const serial = nextSerial();
      if (!t.arrayStart()) continue;
      do {
        const entry = kv.read();
        state.attributeCount++;
        if (!entry.resource) {
          this.#resourceCounts.dropped++;
          continue;
        }
        markOnce(entry, serial);
        if (entry.key === ATTR.tenantId) state.tenantClaim = kv.claim();
        if (entry.key === "service.name") serviceName = kv.text().slice(0, MAX_ATTRIBUTE_VALUE_LENGTH);
        state.keys.push(entry.key);
        const type = kv.write(values, this.#resourceCounts);
        if (type !== undefined) {
          state.typeKeys.push(entry.key);
          typeValues.string(type);
        }
      } while (t.nextElement());
    }
    state.values = Buffer.from(values.view());
    state.typeValues = Buffer.from(typeValues.view());
    state.serviceName = serviceName === "" ? UNKNOWN_SERVICE : serviceName;
    return state;
  }

  #scopeSpans(resource: ResourceState): void {
    const t = this.#t;
    let seen = 0;
    let scope: ScopeState | undefined;
    for (let id = SCOPE_SPANS.first(t), member = 1; id !== END; id = SCOPE_SPANS.next(t, member++)) {
      if (id < 0) {
        t.skipValue();
        continue;
      }
      seen = once(seen, id);
      if (id === 0) {
        if (scope !== undefined) throw NOT_TAKEN; // after its spans
        scope = this.#scope();
      } else {
        scope ??= scopeState("", "");
        if (!t.arrayStart()) continue;
        do {
          if (++this.#spanCount > this.#limits.maxSpansPerRequest) throw NOT_TAKEN;
          this.#span(resource, scope);
        } while (t.nextElement());
      }
    }
  }

  #scope(): ScopeState {
    const t = this.#t;
    let name = "";
    let version = "";
    let seen = 0;
    for (let id = SCOPE.first(t), member = 1; id !== END; id = SCOPE.next(t, member++)) {
      if (id < 0) {
        t.skipValue();
        continue;
      }
      seen = once(seen, id);
      t.string();
      if (id === 0) name = t.text();
      else version = t.text();
    }
    return scopeState(name, version);
  }

  #span(resource: ResourceState, scope: ScopeState): void {
    const t = this.#t;
    const b = this.#b;
    const buf = this.#buf;
    const limits = this.#limits;
    let seen = 0;
    // Ids as readHexId gives them, times as readTime does.
    let traceId = -1;
    let spanId = -1;
    let parentId = -1;
    let start = -1;
    let end = -1;
    let nameStart = -1;
    let nameEnd = -1;
    let nameText: string | undefined;
    let kind = 0;
    let statusCode = 0;
    let flags = 0;
    let traceState = "";
    let attributeCount = 0;
    let tenantClaim: string | undefined;
    let events: OtlpEvent[] | undefined;
    let links: OtlpLink[] | undefined;
    for (let id = SPAN.first(t), member = 1; id !== END; id = SPAN.next(t, member++)) {
      if (id < 0) {
        t.skipValue();
        continue;
      }
      seen = once(seen, id);
      switch (id) {
        case 0:
          traceId = readHexId(t, 32, false);
          break;
        case 1:
          spanId = readHexId(t, 16, false);
          break;
        case 2:
          parentId = readHexId(t, 16, true);
          break;
        case 3:
          t.string();
          traceState = t.text();
          break;
        case 4:
          t.string();
          if (t.escaped) nameText = t.text();
          else {
            nameStart = t.stringStart;
            nameEnd = t.stringEnd;
          }
          break;
        case 5:
          kind = readSmallInt(t, 5);
          break;
        case 6:
          start = readTime(t);
          break;
        case 7:
          end = readTime(t);
          break;
        case 8:
          attributeCount = this.#spanAttributes();
          tenantClaim = this.#claim;
          break;
        case 9:
          if (t.arrayStart()) {
            events = [];
            do events.push(this.#event());
            while (t.nextElement());
          }
          break;
        case 10:
          statusCode = this.#status();
          break;
        case 11:
          if (t.arrayStart()) {
            links = [];
            do links.push(this.#link());
            while (t.nextElement());
          }
          break;
        default:
          flags = readFixed32(t);
      }
    }
    // What buildSpanRows would refuse (or the general decoder reject) goes there.
    if (traceId < 0 || spanId < 0 || isZeroId(traceId) || isZeroId(spanId)) throw NOT_TAKEN;
    if (start < 0 || !timeWithin(buf, start, this.#minStart, this.#maxStart)) throw NOT_TAKEN;
    if (attributeCount > limits.maxAttributesPerSpan || resource.attributeCount > limits.maxAttributesPerSpan) throw NOT_TAKEN;
    if ((events?.length ?? 0) > limits.maxEventsPerSpan || (links?.length ?? 0) > limits.maxLinksPerSpan) throw NOT_TAKEN;
    if (tenantClaim !== undefined && resource.tenantClaim !== undefined && tenantClaim !== resource.tenantClaim) throw NOT_TAKEN;
    const tenantIndex = this.#tenantIndexOf(tenantClaim ?? resource.tenantClaim);

    b.tenantId.addIndex(tenantIndex);
    writeHexId(b.traceId, buf, traceId, 32);
    writeHexId(b.spanId, buf, spanId, 16);
    if (parentId >= 0) writeHexId(b.parentSpanId, buf, parentId, 16);
    else b.parentSpanId.uint8(0);
    if (nameText !== undefined) b.name.string(nameText);
    else if (nameStart >= 0) b.name.stringFromUtf8(buf, nameStart, nameEnd);
    else b.name.uint8(0);
    b.kind.uint8(kind);
    writeStartAndDuration(b, buf, start, end);
    b.statusCode.uint8(statusCode);
    this.#writeResource(resource);
    if (scope.nameIndex < 0) {
      scope.nameIndex = b.scopeName.dictionary.indexOf(scope.name);
      scope.versionIndex = b.scopeVersion.dictionary.indexOf(scope.version);
    }
    b.scopeName.addIndex(scope.nameIndex);
    b.scopeVersion.addIndex(scope.versionIndex);
    this.#spanCounts.truncated += scope.cuts;
    // An empty String is one zero byte (its length): the common tracestate, events and links.
    if (traceState === "") b.traceState.uint8(0);
    else b.traceState.string(capped(traceState, this.#spanCounts));
    b.flags.uint32(flags);
    if (events === undefined || events.length === 0) b.events.uint8(0);
    else b.events.string(encodeSpanEvents(events.map((e) => storedEvent(e, this.#eventCounts))));
    if (links === undefined || links.length === 0) b.links.uint8(0);
    else b.links.string(encodeSpanLinks(links.map((l) => storedLink(l, this.#linkCounts))));
    b.endRow();
  }

  /** Copies the resource's attributes into the current row. */
  #writeResource(resource: ResourceState): void {
    const b = this.#b;
    if (resource.keyIndexes === undefined) {
      resource.keyIndexes = resource.keys.map((key) => b.resourceAttributes.keys.dictionary.indexOf(key));
      resource.typeKeyIndexes = resource.typeKeys.map((key) => b.resourceAttributeTypes.keys.dictionary.indexOf(key));
      resource.serviceIndex = b.serviceName.dictionary.indexOf(resource.serviceName);
    }
    b.serviceName.addIndex(resource.serviceIndex);
    const keys = b.resourceAttributes.keys;
    for (const index of resource.keyIndexes) keys.addIndex(index);
    b.resourceAttributes.values.bytes(resource.values);
    const typeKeys = b.resourceAttributeTypes.keys;
    for (const index of resource.typeKeyIndexes) typeKeys.addIndex(index);
    b.resourceAttributeTypes.values.bytes(resource.typeValues);
  }

  /** Reads a span's attribute list straight into the row's attribute maps; how many attributes it had (the tenant it claims in #claim). */
  #spanAttributes(): number {
    const t = this.#t;
    const kv = this.#kv;
    const attributes = this.#b.attributes;
    const types = this.#b.attributeTypes;
    const serial = nextSerial();
    let count = 0;
    this.#claim = undefined;
    if (!t.arrayStart()) return 0;
    do {
      const entry = kv.read(SPAN_HINTS, count);
      count++;
      if (!entry.span) {
        this.#spanCounts.dropped++;
        continue;
      }
      markOnce(entry, serial);
      if (entry.key === ATTR.tenantId) this.#claim = kv.claim();
      if (entry.block !== this.#block) {
        entry.block = this.#block;
        entry.attributeIndex = attributes.keys.dictionary.indexOf(entry.key);
        entry.typeIndex = -1;
      }
      attributes.keys.addIndex(entry.attributeIndex);
      const type = kv.write(attributes.values, this.#spanCounts);
      if (type !== undefined) {
        if (entry.typeIndex < 0) entry.typeIndex = types.keys.dictionary.indexOf(entry.key);
        types.keys.addIndex(entry.typeIndex);
        types.values.string(type);
      }
    } while (t.nextElement());
    return count;
  }

  /** An event as the general decoder gives it (its attributes' values as their stored text). */
  #event(): OtlpEvent {
    const t = this.#t;
    const event: OtlpEvent = { timeUnixNano: "0", name: "", attributes: [] };
    let seen = 0;
    for (let id = EVENT.first(t), member = 1; id !== END; id = EVENT.next(t, member++)) {
      if (id < 0) {
        t.skipValue();
        continue;
      }
      seen = once(seen, id);
      if (id === 0) event.timeUnixNano = timeText(this.#buf, readTime(t));
      else if (id === 1) {
        t.string();
        event.name = t.text();
      } else event.attributes = this.#textAttributes();
    }
    return event;
  }

  /** A link as the general decoder gives it (its attributes' values as their stored text). */
  #link(): OtlpLink {
    const t = this.#t;
    const link: OtlpLink = { traceId: "", spanId: "", traceState: "", flags: 0, attributes: [] };
    let seen = 0;
    for (let id = LINK.first(t), member = 1; id !== END; id = LINK.next(t, member++)) {
      if (id < 0) {
        t.skipValue();
        continue;
      }
      seen = once(seen, id);
      if (id === 0) link.traceId = readHexIdText(t, 32);
      else if (id === 1) link.spanId = readHexIdText(t, 16);
      else if (id === 2) {
        t.string();
        link.traceState = t.text();
      } else if (id === 3) link.flags = readFixed32(t);
      else link.attributes = this.#textAttributes();
    }
    if (link.traceId === "" || link.spanId === "") throw NOT_TAKEN;
    return link;
  }

  /** An attribute list of an event or a link, for storedEvent and storedLink (values as their stored text). */
  #textAttributes(): OtlpKeyValue[] {
    const t = this.#t;
    const out: OtlpKeyValue[] = [];
    if (t.arrayStart()) do out.push(this.#kv.readAsText());
    while (t.nextElement());
    return out;
  }

  #status(): number {
    const t = this.#t;
    let code = 0;
    let seen = 0;
    for (let id = STATUS.first(t), member = 1; id !== END; id = STATUS.next(t, member++)) {
      if (id < 0) {
        t.skipValue();
        continue;
      }
      seen = once(seen, id);
      code = readSmallInt(t, 2);
    }
    return code;
  }

  /** The index (in the block's tenant dictionary) of the row's tenant as buildSpanRows decides it; anything it would reject takes the general path. */
  #tenantIndexOf(claimed: string | undefined): number {
    // Spans of a request mostly claim the same tenant: decided once per run of the same claim.
    if (this.#resolvedIndex >= 0 && claimed === this.#resolvedClaim) return this.#resolvedIndex;
    const tenant = resolveTenant(this.#principal, claimed, () => undefined);
    if (tenant === null) throw NOT_TAKEN;
    this.#resolvedClaim = claimed;
    this.#resolvedIndex = this.#b.tenantId.dictionary.indexOf(tenant);
    return this.#resolvedIndex;
  }
}

function emptyResource(): ResourceState {
  return {
    keys: [],
    values: EMPTY,
    typeKeys: [],
    typeValues: EMPTY,
    serviceName: UNKNOWN_SERVICE,
    tenantClaim: undefined,
    attributeCount: 0,
    keyIndexes: undefined,
    typeKeyIndexes: [],
    serviceIndex: 0,
  };
}

function scopeState(name: string, version: string): ScopeState {
  const cut = (text: string): number => (text.length > MAX_ATTRIBUTE_VALUE_LENGTH ? 1 : 0);
  return { name: name.slice(0, MAX_ATTRIBUTE_VALUE_LENGTH), version: version.slice(0, MAX_ATTRIBUTE_VALUE_LENGTH), cuts: cut(name) + cut(version), nameIndex: -1, versionIndex: -1 };
}

function markOnce(entry: KeyEntry, serial: number): void {
  // A key given twice in one list takes the general path (which keeps the last value at the first place).
  if (entry.seen === serial) throw NOT_TAKEN;
  entry.seen = serial;
}
