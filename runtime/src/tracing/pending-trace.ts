import { SpanKind } from "@opentelemetry/api";
import type { Attributes, AttributeValue, SpanContext, SpanOptions } from "@opentelemetry/api";
import type { InstrumentationScope } from "@opentelemetry/core";
import type { Resource } from "@opentelemetry/resources";
import type { ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { ATTR, type SamplingKeptBy } from "@troupe/contract";
import { DeferredSpan, toPerformanceMs, type DeferredSpanTrace } from "./deferred-span.js";
import { KEEP_ERROR, KEEP_SLOW, keepBitOfOutcome, keptByOf } from "./keep-rules.js";
import type { SamplingRatio, SamplingSettings } from "./sampling-settings.js";
import { randomTraceId } from "./span-ids.js";

/** What sampling decided so far, counted since the provider was made. */
export interface SamplingStats {
  /** Traces started in this process that their tenant's ratio kept (recorded as SDK spans from their start). */
  keptByRatio: number;
  /** Local parts of traces that a caller in another process sampled (the propagated sampled flag). */
  keptByParent: number;
  /** Local parts of traces not sampled at their start that a keep rule kept whole, by rule. */
  keptByRule: Record<Exclude<SamplingKeptBy, "ratio" | "parent">, number>;
  /** Local parts of traces decided and dropped (no keep rule fired). */
  dropped: number;
  /** Spans of undecided traces past `maxSpansPerTrace`, not held: missing from their trace if it is kept. */
  spansOverCap: number;
  /** Spans that started after their trace was decided: exported on their own when it was kept, else dropped. */
  lateSpans: number;
}

/** A zeroed SamplingStats. */
export function emptySamplingStats(): SamplingStats {
  return { keptByRatio: 0, keptByParent: 0, keptByRule: { budget_rejected: 0, rate_limited: 0, timeout: 0, error: 0, slow: 0 }, dropped: 0, spansOverCap: 0, lateSpans: 0 };
}

/** What every pending trace of one provider shares: its settings, where kept spans go, its counts. */
export interface PendingTraceSink {
  readonly settings: SamplingSettings;
  /** The resource every exported span carries (the SDK provider's). */
  readonly resource: Resource;
  /** Hands one ended span of a kept trace to the exporting processors. */
  exportSpan(span: ReadableSpan): void;
  readonly stats: SamplingStats;
}

const PENDING = 0;
const KEPT = 1;
const DROPPED = 2;

/**
 * The part of one trace that runs in this process, started unsampled and held as DeferredSpans until
 * it is decided: when its local root has ended, no span of it is open, and no hold (a queued
 * published delivery) is left. Then, if any keep rule fired on any of its spans, every span it holds
 * is exported — with the same ids and parent links they had while running, the local root marked
 * with `troupe.sampling.ratio` and `troupe.sampling.kept_by` — else all are dropped.
 *
 * A span that starts after the decision (work the trace left running) follows it: exported on its
 * own at its end when the trace was kept, dropped otherwise. A trace whose spans are never ended is
 * never decided; it holds no resource beyond its spans' memory, which goes once nothing refers to it.
 */
/** A span held by a PendingTrace (every DeferredSpan is). */
export type PendingSpan = DeferredSpan<PendingTrace>;

/** Whether `span` is a span of a trace not decided yet. */
export function isPendingSpan(span: unknown): span is PendingSpan {
  return span instanceof DeferredSpan;
}

export class PendingTrace implements DeferredSpanTrace {
  #id: string | undefined;
  /** The spans held for the decision, in start order (a list through DeferredSpan.next: no array to grow). */
  #root: PendingSpan | undefined;
  #last: PendingSpan | undefined;
  #held = 0;
  #open = 0;
  #holds = 0;
  #keep = 0;
  #state = PENDING;

  /**
   * `performance.now()` when the trace's first span started here, in whole milliseconds (a small
   * integer, kept in the object rather than boxed): its spans' times are offsets from it. Set once,
   * by the first `startSpan`.
   */
  originMs = 0;

  readonly #sink: PendingTraceSink;
  /** The tenant's ratio when the trace started; undefined when its tenant was not known yet. */
  readonly #ratio: SamplingRatio | undefined;

  constructor(
    sink: PendingTraceSink,
    /** The span this local part continues, when it started from another process's context. */
    readonly remoteParent: SpanContext | undefined,
    ratio: SamplingRatio | undefined,
  ) {
    this.#sink = sink;
    this.#ratio = ratio;
    this.#id = remoteParent?.traceId;
  }

  /** The trace id (drawn when first asked for, or the remote parent's). */
  get traceId(): string {
    return (this.#id ??= randomTraceId());
  }

  /** Starts a span of this trace: the local root when `parent` is undefined. */
  startSpan(parent: PendingSpan | undefined, name: string, options: SpanOptions | undefined, scope: InstrumentationScope): PendingSpan {
    const startTime = options?.startTime;
    const span = this.startSpanAt(parent, name, options?.kind ?? SpanKind.INTERNAL, scope, startTime === undefined ? performance.now() : toPerformanceMs(startTime));
    if (options !== undefined) {
      if (options.attributes !== undefined) span.setAttributes(options.attributes);
      if (options.links !== undefined) span.addLinks(options.links);
    }
    return span;
  }

  /** Starts a span of this trace at `startMs` (`performance.now()`), with no attributes yet. */
  startSpanAt(parent: PendingSpan | undefined, name: string, kind: SpanKind, scope: InstrumentationScope, startMs: number): PendingSpan {
    if (this.#root === undefined) this.originMs = Math.floor(startMs);
    const span: PendingSpan = new DeferredSpan<PendingTrace>(this, parent, name, kind, scope, startMs);
    this.#open++;
    if (this.#root === undefined) {
      this.#root = this.#last = span;
      this.#held = 1;
    } else if (this.#state !== PENDING) this.#sink.stats.lateSpans++;
    else if (this.#held < this.#sink.settings.maxSpansPerTrace) {
      this.#last!.next = span;
      this.#last = span;
      this.#held++;
    } else this.#sink.stats.spansOverCap++;
    return span;
  }

  /** Keeps the trace undecided until `release` (a published delivery not started yet). False when already decided. */
  hold(): boolean {
    if (this.#state !== PENDING) return false;
    this.#holds++;
    return true;
  }

  /** Ends a hold taken with `hold`. */
  release(): void {
    if (--this.#holds === 0) this.#decideIfDone();
  }

  /** Called by a span when its outcome attribute is set. */
  noteOutcome(outcome: AttributeValue): void {
    this.#keep |= keepBitOfOutcome(outcome);
  }

  /** Called by a span when its status becomes ERROR. */
  noteError(): void {
    this.#keep |= KEEP_ERROR;
  }

  /** Called by a span when it ends. */
  spanEnded(span: PendingSpan): void {
    if (span.durationMs >= this.#sink.settings.keepSlowerThanMs) this.#keep |= KEEP_SLOW;
    this.#open--;
    if (this.#state === PENDING) this.#decideIfDone();
    else if (this.#state === KEPT) this.#sink.exportSpan(span.toReadableSpan(this.#sink.resource, Date.now() - performance.now(), undefined));
  }

  #decideIfDone(): void {
    if (this.#open !== 0 || this.#holds !== 0 || this.#state !== PENDING || this.#root === undefined || !this.#root.ended) return;
    const keptBy = keptByOf(this.#keep);
    const root = this.#root;
    this.#last = undefined;
    if (keptBy === undefined) {
      this.#state = DROPPED;
      this.#sink.stats.dropped++;
      unlink(root);
      return;
    }
    this.#state = KEPT;
    this.#sink.stats.keptByRule[keptBy as keyof SamplingStats["keptByRule"]]++;
    const marks: Attributes = { [ATTR.samplingRatio]: (this.#ratio ?? this.#sink.settings.recordFor(tenantOf(root))).ratio, [ATTR.samplingKeptBy]: keptBy };
    const epochOffsetMs = Date.now() - performance.now();
    const resource = this.#sink.resource;
    for (let span: PendingSpan | null = root; span !== null; span = span.next) {
      this.#sink.exportSpan(span.toReadableSpan(resource, epochOffsetMs, span === root ? marks : undefined));
    }
    unlink(root);
  }
}

/**
 * Cuts the list of a decided trace's spans. The root usually started long before its children (its
 * message waited in a queue) and sits in V8's old generation by then; a link from it would keep the
 * children, dead or not, through every young-generation collection until a full one.
 */
function unlink(root: PendingSpan): void {
  let span: PendingSpan | null = root;
  while (span !== null) {
    const next: PendingSpan | null = span.next;
    span.next = null;
    span = next;
  }
}

function tenantOf(span: PendingSpan): string | undefined {
  const tenant = span.attribute(ATTR.tenantId);
  return typeof tenant === "string" ? tenant : undefined;
}
