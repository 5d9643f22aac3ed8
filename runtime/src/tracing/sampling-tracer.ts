import { context as otelContext, isSpanContextValid, propagation, trace, TraceFlags } from "@opentelemetry/api";
import type { Context, Span, SpanContext, SpanKind, SpanOptions, Tracer } from "@opentelemetry/api";
import type { InstrumentationScope } from "@opentelemetry/core";
import { isTracingSuppressed } from "@opentelemetry/core";
import { ATTR, TENANT_BAGGAGE_KEY, type SamplingKeptBy } from "@troupe/contract";
import { PendingTrace, isPendingSpan, type PendingSpan, type PendingTraceSink } from "./pending-trace.js";
import type { SamplingSettings } from "./sampling-settings.js";
import { UnsampledSpan } from "./unsampled-span.js";

/**
 * A tracer of a SamplingTracerProvider. Each span it starts is, by where its trace was decided:
 * - a span of a trace its tenant's ratio picked when it started here, or that a caller in another
 *   process sampled (the sampled flag of the parent), or a child of such a span: an SDK span from the
 *   delegate tracer, exported as the SDK does; the local root carries the sampling marks;
 * - a span of a trace not sampled at its start: a DeferredSpan of the trace's PendingTrace, exported
 *   whole only if a keep rule fires (or, with the keep rules off, an UnsampledSpan: nothing recorded).
 * The tenant of a new trace is its start attribute `troupe.tenant.id`, else the tenant baggage entry.
 */
export class SamplingTracer implements Tracer {
  readonly #delegate: Tracer;
  readonly #scope: InstrumentationScope;
  readonly #settings: SamplingSettings;
  readonly #sink: PendingTraceSink;

  constructor(
    delegate: Tracer,
    scope: InstrumentationScope,
    settings: SamplingSettings,
    sink: PendingTraceSink,
  ) {
    this.#delegate = delegate;
    this.#scope = scope;
    this.#settings = settings;
    this.#sink = sink;
  }

  startSpan(name: string, options?: SpanOptions, ctx?: Context): Span {
    return this.#start(name, options, ctx, false, undefined);
  }

  /**
   * `startSpan` for a span whose tenant the caller knows (the runtime's producer spans): the tenant's
   * ratio applies if the span starts a trace, without passing the tenant as a start attribute.
   */
  startTenantSpan(tenant: string, name: string, options: SpanOptions | undefined, ctx: Context): Span {
    return this.#start(name, options, ctx, true, tenant);
  }

  /**
   * A child of a deferred span, started at `startMs` (a `performance.now()` reading the caller has):
   * what `startSpan` would start under it, without a context lookup or a clock read.
   */
  startDeferredChild(parent: PendingSpan, name: string, kind: SpanKind, startMs: number): PendingSpan {
    return parent.trace.startSpanAt(parent, name, kind, this.#scope, startMs);
  }

  #start(name: string, options: SpanOptions | undefined, ctx: Context | undefined, tenantKnown: boolean, knownTenant: string | undefined): Span {
    const parentCtx = ctx ?? otelContext.active();
    const parent = options?.root === true ? undefined : trace.getSpan(parentCtx);
    // The hot path: a span inside a trace that is not decided yet.
    if (isPendingSpan(parent)) return parent.trace.startSpan(parent, name, options, this.#scope);
    if (parent instanceof UnsampledSpan) return new UnsampledSpan(parent);
    if (isTracingSuppressed(parentCtx)) return this.#delegate.startSpan(name, options, parentCtx);
    if (parent !== undefined) {
      const sc = parent.spanContext();
      if (isSpanContextValid(sc)) {
        // A live SDK span: its trace was sampled (or recorded) already.
        if (parent.isRecording()) return this.#delegate.startSpan(name, options, parentCtx);
        if ((sc.traceFlags & TraceFlags.SAMPLED) !== 0) {
          if (sc.isRemote !== true) return this.#delegate.startSpan(name, options, parentCtx);
          this.#sink.stats.keptByParent++;
          return this.#delegate.startSpan(name, withMarks(options, this.#settings.ratioFor(tenantKnown ? knownTenant : tenantOf(options, parentCtx)), "parent"), parentCtx);
        }
        return this.#unsampled(name, options, sc, tenantKnown ? knownTenant : tenantOf(options, parentCtx));
      }
    }
    const record = this.#settings.recordFor(tenantKnown ? knownTenant : tenantOf(options, parentCtx));
    const ratio = record.ratio;
    if (ratio > 0 && (ratio >= 1 || Math.random() < ratio)) {
      this.#sink.stats.keptByRatio++;
      return this.#delegate.startSpan(name, withMarks(options, ratio, "ratio"), parentCtx);
    }
    if (!this.#settings.keepRules) return new UnsampledSpan(undefined);
    return new PendingTrace(this.#sink, undefined, record).startSpan(undefined, name, options, this.#scope);
  }

  startActiveSpan<F extends (span: Span) => unknown>(name: string, fn: F): ReturnType<F>;
  startActiveSpan<F extends (span: Span) => unknown>(name: string, options: SpanOptions, fn: F): ReturnType<F>;
  startActiveSpan<F extends (span: Span) => unknown>(name: string, options: SpanOptions, ctx: Context, fn: F): ReturnType<F>;
  startActiveSpan<F extends (span: Span) => unknown>(name: string, a2: F | SpanOptions, a3?: F | Context, a4?: F): ReturnType<F> {
    let options: SpanOptions | undefined;
    let ctx: Context | undefined;
    let fn: F;
    if (typeof a2 === "function") fn = a2;
    else if (typeof a3 === "function") {
      options = a2;
      fn = a3;
    } else {
      options = a2;
      ctx = a3;
      fn = a4!;
    }
    const parentCtx = ctx ?? otelContext.active();
    const span = this.startSpan(name, options, parentCtx);
    return otelContext.with(trace.setSpan(parentCtx, span), fn as (span: Span) => ReturnType<F>, undefined, span);
  }

  /** A span continuing a trace not sampled by its caller (another process, or a span not of this provider). */
  #unsampled(name: string, options: SpanOptions | undefined, parent: SpanContext, tenant: string | undefined): Span {
    if (!this.#settings.keepRules) return new UnsampledSpan(parent);
    return new PendingTrace(this.#sink, parent, tenant === undefined ? undefined : this.#settings.recordFor(tenant)).startSpan(undefined, name, options, this.#scope);
  }
}

function tenantOf(options: SpanOptions | undefined, ctx: Context): string | undefined {
  const fromAttributes = options?.attributes?.[ATTR.tenantId];
  if (typeof fromAttributes === "string") return fromAttributes;
  return propagation.getBaggage(ctx)?.getEntry(TENANT_BAGGAGE_KEY)?.value;
}

/** `options` with the sampling marks a kept trace's local root carries. */
function withMarks(options: SpanOptions | undefined, ratio: number, keptBy: SamplingKeptBy): SpanOptions {
  return { ...options, attributes: { ...options?.attributes, [ATTR.samplingRatio]: ratio, [ATTR.samplingKeptBy]: keptBy } };
}
