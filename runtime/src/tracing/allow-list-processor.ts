import type { Attributes, AttributeValue, Link, SpanStatus } from "@opentelemetry/api";
import type { Context } from "@opentelemetry/api";
import type { Resource } from "@opentelemetry/resources";
import type { ReadableSpan, Span, SpanProcessor, TimedEvent } from "@opentelemetry/sdk-trace-base";
import { EVENT_ATTRIBUTE_ALLOW_LIST, MAX_ATTRIBUTE_VALUE_LENGTH, RESOURCE_ATTRIBUTE_ALLOW_LIST, SPAN_ATTRIBUTE_ALLOW_LIST } from "@troupe/contract";

/** Counts of what an AllowListSpanProcessor removed, for tests and metrics. */
export interface AllowListDropCounts {
  /** Span, event, link and resource attributes dropped because their name is not allow-listed. */
  droppedAttributes: number;
  /** String values (or string array elements) cut to MAX_ATTRIBUTE_VALUE_LENGTH characters. */
  truncatedValues: number;
  /** Span status messages removed (they carry error text, which can carry content). */
  droppedStatusMessages: number;
}

/**
 * A span processor that guards an exporting processor: every span handed to the wrapped processor's
 * `onEnd` carries only allow-listed attributes (SPAN_ATTRIBUTE_ALLOW_LIST on the span and its links,
 * EVENT_ATTRIBUTE_ALLOW_LIST on events — so `exception.message` and `exception.stacktrace` never leave
 * — RESOURCE_ATTRIBUTE_ALLOW_LIST on the resource), string values cut to MAX_ATTRIBUTE_VALUE_LENGTH,
 * span and event names cut likewise, and no status message. There is deliberately no option to turn
 * the filter off: content capture cannot be switched on by configuration. What it removes is counted.
 *
 * The wrapped processor sees `onStart` unchanged (exporting processors ignore it) but never
 * `onEnding`, whose span is the live, unfiltered one.
 */
export class AllowListSpanProcessor implements SpanProcessor {
  readonly #counts: AllowListDropCounts = { droppedAttributes: 0, truncatedValues: 0, droppedStatusMessages: 0 };
  /** Each resource seen, filtered once; the resource itself when it needs no filtering. */
  readonly #resources = new WeakMap<Resource, Resource>();

  readonly #next: SpanProcessor;

  constructor(next: SpanProcessor) {
    this.#next = next;
  }

  /** Attributes dropped so far (span, event, link and resource attributes together). */
  get droppedAttributes(): number {
    return this.#counts.droppedAttributes;
  }

  /** A snapshot of every counter. */
  dropCounts(): AllowListDropCounts {
    return { ...this.#counts };
  }

  onStart(span: Span, parentContext: Context): void {
    this.#next.onStart(span, parentContext);
  }

  onEnd(span: ReadableSpan): void {
    this.#next.onEnd(this.#filterSpan(span));
  }

  forceFlush(): Promise<void> {
    return this.#next.forceFlush();
  }

  shutdown(): Promise<void> {
    return this.#next.shutdown();
  }

  #filterSpan(span: ReadableSpan): ReadableSpan {
    // The common case (the runtime sets only allowed attributes): hand the span itself on, unchanged.
    const resource = this.#filterResource(span.resource);
    if (
      resource === span.resource &&
      span.events.length === 0 &&
      span.links.length === 0 &&
      (span.status.message === undefined || span.status.message === "") &&
      span.name.length <= MAX_ATTRIBUTE_VALUE_LENGTH &&
      this.#isClean(span.attributes, SPAN_ATTRIBUTE_ALLOW_LIST)
    ) {
      return span;
    }
    const before = this.#counts.droppedAttributes;
    const attributes = this.#filterAttributes(span.attributes, SPAN_ATTRIBUTE_ALLOW_LIST);
    const droppedHere = this.#counts.droppedAttributes - before;
    const events = span.events.length === 0 ? span.events : span.events.map((event) => this.#filterEvent(event));
    const links = span.links.length === 0 ? span.links : span.links.map((link) => this.#filterLink(link));
    let status: SpanStatus = span.status;
    if (status.message !== undefined && status.message !== "") {
      status = { code: status.code };
      this.#counts.droppedStatusMessages++;
    }
    // A plain object, not a Span: the exporter reads fields only, and the original stays untouched.
    return {
      name: capString(span.name, this.#counts),
      kind: span.kind,
      spanContext: () => span.spanContext(),
      parentSpanContext: span.parentSpanContext,
      startTime: span.startTime,
      endTime: span.endTime,
      status,
      attributes,
      links,
      events,
      duration: span.duration,
      ended: span.ended,
      resource,
      instrumentationScope: span.instrumentationScope,
      droppedAttributesCount: span.droppedAttributesCount + droppedHere,
      droppedEventsCount: span.droppedEventsCount,
      droppedLinksCount: span.droppedLinksCount,
    };
  }

  #filterEvent(event: TimedEvent): TimedEvent {
    const name = capString(event.name, this.#counts);
    if (event.attributes === undefined) {
      return name === event.name ? event : { ...event, name };
    }
    const before = this.#counts.droppedAttributes;
    const attributes = this.#filterAttributes(event.attributes, EVENT_ATTRIBUTE_ALLOW_LIST);
    const dropped = this.#counts.droppedAttributes - before;
    if (attributes === event.attributes && name === event.name) return event;
    return { ...event, name, attributes, droppedAttributesCount: (event.droppedAttributesCount ?? 0) + dropped };
  }

  #filterLink(link: Link): Link {
    if (link.attributes === undefined) return link;
    const before = this.#counts.droppedAttributes;
    const attributes = this.#filterAttributes(link.attributes, SPAN_ATTRIBUTE_ALLOW_LIST);
    if (attributes === link.attributes) return link;
    return { ...link, attributes, droppedAttributesCount: (link.droppedAttributesCount ?? 0) + this.#counts.droppedAttributes - before };
  }

  #filterResource(resource: Resource): Resource {
    let filtered = this.#resources.get(resource);
    if (filtered === undefined) {
      // A final resource with only allowed attributes is used as it is; anything else is seen through a filter.
      if (resource.asyncAttributesPending !== true && this.#isClean(resource.attributes, RESOURCE_ATTRIBUTE_ALLOW_LIST)) filtered = resource;
      else filtered = new AllowListedResource(resource, (attributes) => this.#filterAttributes(attributes, RESOURCE_ATTRIBUTE_ALLOW_LIST));
      this.#resources.set(resource, filtered);
    }
    return filtered;
  }

  /** True when every attribute is allowed and no value needs cutting. */
  #isClean(attributes: Attributes, allowed: ReadonlySet<string>): boolean {
    for (const name in attributes) {
      if (!allowed.has(name) || needsCap(attributes[name])) return false;
    }
    return true;
  }

  /** Returns `attributes` itself when nothing needs removing or cutting (the common, cheap case). */
  #filterAttributes(attributes: Attributes, allowed: ReadonlySet<string>): Attributes {
    if (this.#isClean(attributes, allowed)) return attributes;
    const out: Attributes = {};
    for (const name in attributes) {
      if (!allowed.has(name)) {
        this.#counts.droppedAttributes++;
        continue;
      }
      out[name] = capValue(attributes[name], this.#counts);
    }
    return out;
  }
}

/**
 * A resource seen through the allow-list. Attributes are filtered when first read once they are
 * final (a resource may still be resolving asynchronous detector results).
 */
class AllowListedResource implements Resource {
  #filtered: Attributes | undefined;

  readonly #inner: Resource;
  readonly #filter: (attributes: Attributes) => Attributes;

  constructor(
    inner: Resource,
    filter: (attributes: Attributes) => Attributes,
  ) {
    this.#inner = inner;
    this.#filter = filter;
    // Filter at once when possible, so the drop counters are right before any exporter reads it.
    if (inner.asyncAttributesPending !== true) this.#filtered = filter(inner.attributes);
  }

  get asyncAttributesPending(): boolean | undefined {
    return this.#inner.asyncAttributesPending;
  }

  get schemaUrl(): string | undefined {
    return this.#inner.schemaUrl;
  }

  get attributes(): Attributes {
    if (this.#filtered !== undefined) return this.#filtered;
    const attributes = this.#filter(this.#inner.attributes);
    if (this.#inner.asyncAttributesPending !== true) this.#filtered = attributes;
    return attributes;
  }

  waitForAsyncAttributes(): Promise<void> {
    return this.#inner.waitForAsyncAttributes?.() ?? Promise.resolve();
  }

  merge(other: Resource | null): Resource {
    return new AllowListedResource(this.#inner.merge(other), this.#filter);
  }

  getRawAttributes(): ReturnType<Resource["getRawAttributes"]> {
    const attributes = this.attributes;
    return Object.keys(attributes).map((name) => [name, attributes[name]]);
  }
}

function needsCap(value: AttributeValue | undefined): boolean {
  if (typeof value === "string") return value.length > MAX_ATTRIBUTE_VALUE_LENGTH;
  if (Array.isArray(value)) {
    for (const element of value) {
      if (typeof element === "string" && element.length > MAX_ATTRIBUTE_VALUE_LENGTH) return true;
    }
  }
  return false;
}

function capString(value: string, counts: AllowListDropCounts): string {
  if (value.length <= MAX_ATTRIBUTE_VALUE_LENGTH) return value;
  counts.truncatedValues++;
  return value.slice(0, MAX_ATTRIBUTE_VALUE_LENGTH);
}

function capValue(value: AttributeValue | undefined, counts: AllowListDropCounts): AttributeValue | undefined {
  if (typeof value === "string") return capString(value, counts);
  if (Array.isArray(value) && needsCap(value)) {
    return (value as unknown[]).map((element) => (typeof element === "string" ? capString(element, counts) : element)) as AttributeValue;
  }
  return value;
}
