import { SpanStatusCode, TraceFlags } from "@opentelemetry/api";
import type { Attributes, AttributeValue, Exception, HrTime, Link, Span, SpanContext, SpanKind, SpanStatus, TimeInput } from "@opentelemetry/api";
import type { InstrumentationScope } from "@opentelemetry/core";
import { isAttributeValue, isTimeInputHrTime, millisToHrTime } from "@opentelemetry/core";
import type { Resource } from "@opentelemetry/resources";
import type { ReadableSpan, TimedEvent } from "@opentelemetry/sdk-trace-base";
import { ATTR } from "@troupe/contract";
import { randomSpanId } from "./span-ids.js";

/** Attributes past this many on one span are dropped when it is exported (the SDK's default limit). */
const ATTRIBUTE_COUNT_LIMIT = 128;
/** Events and links past this many on one span are dropped (the SDK's default limits). */
const EVENT_COUNT_LIMIT = 128;
const LINK_COUNT_LIMIT = 128;

const UNSET: SpanStatus = Object.freeze({ code: SpanStatusCode.UNSET });

/** An event as recorded: its time in `performance.now()` milliseconds (events are rare: no need to pack it). */
interface RecordedEvent {
  name: string;
  attributes: Attributes | undefined;
  timeMs: number;
}

/** What few spans have: events and links (one field on every span instead of two). */
interface RareParts {
  events: RecordedEvent[];
  links: Link[];
}

/**
 * Slots of a span's own attribute array when first made, by span kind (index): sized to what the
 * runtime's spans set beside their shared base (invoke_agent two attributes, send three or four,
 * process seven; LLM chat spans, CLIENT, start with about ten). Past them the array grows.
 */
const INITIAL_ATTRIBUTE_SLOTS: readonly number[] = [4, 16, 16, 8, 16];

/**
 * A span of a trace whose sampling decision is not made yet (see PendingTrace): it records what an
 * SDK span would (name, kind, attributes, events, links, status, start and end) in plain fields and
 * costs no export until its trace is kept. Its span context carries the sampled flag unset (the
 * decision was not made at its start), and its ids are drawn only when first asked for. Like an SDK
 * span, it records nothing after `end()`.
 */
/**
 * What a deferred span needs of the trace that holds it (PendingTrace): the trace id and the origin
 * its times count from, its remote parent, and where its outcome, errors and end are reported.
 */
export interface DeferredSpanTrace {
  readonly traceId: string;
  /** `performance.now()` (whole ms) that span times count from. */
  readonly originMs: number;
  readonly remoteParent: SpanContext | undefined;
  noteOutcome(outcome: AttributeValue): void;
  noteError(): void;
  spanEnded(span: DeferredSpan<this>): void;
}

export class DeferredSpan<T extends DeferredSpanTrace = DeferredSpanTrace> implements Span {
  status: SpanStatus = UNSET;
  /** False while the span is open. */
  ended = false;
  /**
   * Start and end as whole microseconds from the trace's origin (PendingTrace.originMs): small
   * integers, which V8 keeps in the object, where a `performance.now()` double would be boxed.
   */
  startUs: number;
  endUs = 0;
  #rare: RareParts | null = null;
  #context: SpanContext | undefined = undefined;
  /** Attributes shared with other spans (see setBaseAttributes), under the span's own. */
  #base: Attributes | null = null;
  /**
   * The span's own attributes as set, as key, value, key, value... in `attributeSlots` slots (none
   * yet: null): an array store per attribute, where an object would grow its hidden class and
   * property store attribute by attribute — garbage, with thousands of traces in flight. Validated
   * (and limited) only if the span is exported; a key set twice counts its last value.
   */
  #attributes: unknown[] | null = null;
  #attributeSlots = 0;
  /** The next span of the same trace, in start order (the trace's list of held spans). */
  next: DeferredSpan<T> | null = null;

  constructor(
    /** The local trace this span belongs to. */
    readonly trace: T,
    /** The parent span in this process; undefined for the local root (whose parent, if any, is remote). */
    readonly parent: DeferredSpan<T> | undefined,
    public name: string,
    readonly kind: SpanKind,
    readonly scope: InstrumentationScope,
    /** `performance.now()` at the start. */
    startMs: number,
  ) {
    this.startUs = Math.round((startMs - trace.originMs) * 1000);
  }

  /** The duration in milliseconds (0 while open). */
  get durationMs(): number {
    return this.ended ? (this.endUs - this.startUs) / 1000 : 0;
  }

  spanContext(): SpanContext {
    return (this.#context ??= { traceId: this.trace.traceId, spanId: randomSpanId(), traceFlags: TraceFlags.NONE });
  }

  setAttribute(key: string, value: AttributeValue | undefined): this {
    if (this.ended || value === undefined) return this;
    const a = (this.#attributes ??= new Array<unknown>(INITIAL_ATTRIBUTE_SLOTS[this.kind] ?? 8));
    const n = this.#attributeSlots;
    a[n] = key;
    a[n + 1] = value;
    this.#attributeSlots = n + 2;
    if (key === ATTR.outcome) this.trace.noteOutcome(value);
    return this;
  }

  /**
   * Adds attributes that many spans share (the same object each time, never changed: it is read
   * when the span is exported), as one reference instead of one entry each. Attributes the span sets
   * itself take precedence. For the runtime's per-type messaging attributes; the outcome attribute
   * must be set with setAttribute (keep rules read it there).
   */
  setBaseAttributes(base: Readonly<Attributes>): this {
    if (!this.ended) this.#base = base;
    return this;
  }

  setAttributes(attributes: Attributes): this {
    for (const key in attributes) this.setAttribute(key, attributes[key]);
    return this;
  }

  addEvent(name: string, attributesOrStartTime?: Attributes | TimeInput, startTime?: TimeInput): this {
    if (this.ended) return this;
    const events = (this.#rare ??= { events: [], links: [] }).events;
    if (events.length >= EVENT_COUNT_LIMIT) return this;
    let attributes: Attributes | undefined;
    let time = startTime;
    if (isTimeInput(attributesOrStartTime)) time = attributesOrStartTime;
    else attributes = attributesOrStartTime;
    events.push({ name, attributes, timeMs: time === undefined ? performance.now() : toPerformanceMs(time) });
    return this;
  }

  addLink(link: Link): this {
    if (this.ended) return this;
    const links = (this.#rare ??= { events: [], links: [] }).links;
    if (links.length < LINK_COUNT_LIMIT) links.push(link);
    return this;
  }

  addLinks(links: Link[]): this {
    for (const link of links) this.addLink(link);
    return this;
  }

  setStatus(status: SpanStatus): this {
    // As the SDK: an ended span, an UNSET status or a span already OK keep their status.
    if (this.ended || status.code === SpanStatusCode.UNSET || this.status.code === SpanStatusCode.OK) return this;
    this.status = status.code === SpanStatusCode.ERROR && typeof status.message === "string" ? { code: status.code, message: status.message } : { code: status.code };
    if (status.code === SpanStatusCode.ERROR) this.trace.noteError();
    return this;
  }

  updateName(name: string): this {
    if (!this.ended) this.name = name;
    return this;
  }

  end(endTime?: TimeInput): void {
    this.endAt(endTime === undefined ? performance.now() : toPerformanceMs(endTime));
  }

  /** Ends the span at `endMs`, a `performance.now()` reading the caller already has (a clock read saved). */
  endAt(endMs: number): void {
    if (this.ended) return;
    this.endUs = Math.max(this.startUs, Math.round((endMs - this.trace.originMs) * 1000));
    this.ended = true;
    this.trace.spanEnded(this);
  }

  isRecording(): boolean {
    return !this.ended;
  }

  recordException(exception: Exception, time?: TimeInput): void {
    const attributes: Attributes = {};
    if (typeof exception === "string") attributes["exception.message"] = exception;
    else if (exception) {
      const type = exception.code ?? exception.name;
      if (type !== undefined) attributes["exception.type"] = String(type);
      if (exception.message) attributes["exception.message"] = exception.message;
      if (exception.stack) attributes["exception.stacktrace"] = exception.stack;
    }
    if (attributes["exception.type"] !== undefined || attributes["exception.message"] !== undefined) this.addEvent("exception", attributes, time);
  }

  /** The value of one attribute as set. */
  attribute(key: string): AttributeValue | undefined {
    const a = this.#attributes;
    if (a !== null) for (let i = this.#attributeSlots - 2; i >= 0; i -= 2) if (a[i] === key) return a[i + 1] as AttributeValue;
    return this.#base?.[key];
  }

  /**
   * This ended span as the SDK's exporters read it, for a trace that is kept: attributes validated as
   * the SDK would (invalid values dropped, at most 128), times converted with `epochOffsetMs`
   * (`Date.now() - performance.now()` when the trace was decided), the sampled flag set, and
   * `extra` attributes (the sampling marks of a local root) added.
   */
  toReadableSpan(resource: Resource, epochOffsetMs: number, extra: Attributes | undefined): ReadableSpan {
    const own = this.spanContext();
    const spanContext: SpanContext = { traceId: own.traceId, spanId: own.spanId, traceFlags: TraceFlags.SAMPLED };
    const parentSpanContext = this.parent === undefined ? this.trace.remoteParent : sampled(this.parent.spanContext());
    const { attributes, dropped } = exportableAttributes(this.#base, this.#attributes ?? [], this.#attributeSlots, extra);
    const events: TimedEvent[] =
      this.#rare === null
        ? []
        : this.#rare.events.map((e) => ({ name: e.name, time: millisToHrTime(epochOffsetMs + e.timeMs), ...(e.attributes === undefined ? {} : { attributes: exportableAttributes(e.attributes, [], 0, undefined).attributes }) }));
    const links: Link[] = this.#rare === null ? [] : this.#rare.links.map((l) => (l.attributes === undefined ? l : { ...l, attributes: exportableAttributes(l.attributes, [], 0, undefined).attributes }));
    return {
      name: this.name,
      kind: this.kind,
      spanContext: () => spanContext,
      parentSpanContext,
      startTime: millisToHrTime(epochOffsetMs + this.trace.originMs + this.startUs / 1000),
      endTime: millisToHrTime(epochOffsetMs + this.trace.originMs + this.endUs / 1000),
      status: this.status,
      attributes,
      links,
      events,
      duration: durationHrTime(this.durationMs),
      ended: true,
      resource,
      instrumentationScope: this.scope,
      droppedAttributesCount: dropped,
      droppedEventsCount: 0,
      droppedLinksCount: 0,
    };
  }
}

function sampled(sc: SpanContext): SpanContext {
  return { traceId: sc.traceId, spanId: sc.spanId, traceFlags: TraceFlags.SAMPLED };
}

/**
 * Valid attributes (as the SDK's sanitizeAttributes: arrays copied) from a base object and then the
 * first `slots` entries of key, value pairs, at most ATTRIBUTE_COUNT_LIMIT, with `extra` last.
 */
function exportableAttributes(base: Attributes | null, pairs: readonly unknown[], slots: number, extra: Attributes | undefined): { attributes: Attributes; dropped: number } {
  const out: Attributes = {};
  let count = 0;
  let dropped = 0;
  const add = (key: unknown, value: unknown): void => {
    if (typeof key !== "string" || key.length === 0 || !isAttributeValue(value) || (count >= ATTRIBUTE_COUNT_LIMIT && !(key in out))) {
      dropped++;
      return;
    }
    if (!(key in out)) count++;
    out[key] = Array.isArray(value) ? (value.slice() as AttributeValue) : value;
  };
  if (base !== null) for (const key in base) add(key, base[key]);
  for (let i = 0; i < slots; i += 2) add(pairs[i], pairs[i + 1]);
  if (extra !== undefined) Object.assign(out, extra);
  return { attributes: out, dropped };
}

function durationHrTime(ms: number): HrTime {
  const seconds = Math.floor(ms / 1000);
  return [seconds, Math.min(999_999_999, Math.round((ms - seconds * 1000) * 1e6))];
}

function isTimeInput(value: unknown): value is TimeInput {
  return typeof value === "number" || value instanceof Date || isTimeInputHrTime(value);
}

/** A TimeInput as `performance.now()` milliseconds (as the SDK: a number not past `performance.now()` already is one). */
export function toPerformanceMs(time: TimeInput): number {
  const nowMs = performance.now();
  if (typeof time === "number" && time <= nowMs) return time;
  const epochMs = typeof time === "number" ? time : time instanceof Date ? time.getTime() : time[0] * 1000 + time[1] / 1e6;
  return epochMs - (Date.now() - nowMs);
}
