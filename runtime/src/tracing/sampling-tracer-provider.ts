import type { Tracer, TracerOptions, TracerProvider } from "@opentelemetry/api";
import type { Resource } from "@opentelemetry/resources";
import type { ReadableSpan, SpanProcessor } from "@opentelemetry/sdk-trace-base";
import { emptySamplingStats, type PendingTraceSink, type SamplingStats } from "./pending-trace.js";
import type { SamplingSettings } from "./sampling-settings.js";
import { SamplingTracer } from "./sampling-tracer.js";

/** Options of a SamplingTracerProvider. */
export interface SamplingTracerProviderOptions {
  /**
   * Makes the spans of traces that are sampled at their start: an SDK provider whose sampler records
   * every span it is asked for (the SDK default, parent-based always-on).
   */
  delegate: TracerProvider;
  /** The delegate's exporting processors: they receive, at their `onEnd` only, the spans of traces kept by a keep rule. */
  spanProcessors: readonly SpanProcessor[];
  /** The delegate's resource, carried by the spans of traces kept by a keep rule. */
  resource: Resource;
  /** Ratios and keep rules, read once per new trace (so changes apply to the next traces). */
  sampling: SamplingSettings;
}

/**
 * A tracer provider that samples traces by tenant and keeps what matters. Guarantees:
 * - a trace started in this process is sampled at its start with its tenant's ratio (read from
 *   `sampling` when the trace starts) and then recorded as SDK spans through the delegate, so the
 *   sampled flag propagates to other processes; a trace continued from another process follows its
 *   caller's sampled flag (parent-based);
 * - with the keep rules on, a trace not sampled at its start is recorded in this process as
 *   DeferredSpans, at no export cost, and decided at the end of its local part (local root ended,
 *   nothing of it open): if it had an error, a budget or rate-limit rejection, a timeout, or a span
 *   of at least `keepSlowerThanMs`, every span of it this process recorded is exported, with its ids
 *   and parent links; otherwise none is;
 * - the local root of every exported trace carries `troupe.sampling.ratio` and
 *   `troupe.sampling.kept_by`.
 * Each process decides its own part of a trace: a part continued from a sampled caller is kept; a
 * part continued from an unsampled caller is kept only if a keep rule fires in this process, whatever
 * the caller's part decided, and the reverse.
 */
export class SamplingTracerProvider implements TracerProvider {
  readonly #tracers = new Map<string, SamplingTracer>();
  readonly #sink: PendingTraceSink;

  readonly #options: SamplingTracerProviderOptions;

  constructor(options: SamplingTracerProviderOptions) {
    this.#options = options;
    const processors = [...options.spanProcessors];
    this.#sink = {
      settings: options.sampling,
      resource: options.resource,
      stats: emptySamplingStats(),
      exportSpan: (span: ReadableSpan) => {
        for (const p of processors) p.onEnd(span);
      },
    };
  }

  /** The settings this provider reads: change a tenant's ratio here at run time. */
  get sampling(): SamplingSettings {
    return this.#options.sampling;
  }

  getTracer(name: string, version?: string, options?: TracerOptions): Tracer {
    const key = `${name}@${version ?? ""}:${options?.schemaUrl ?? ""}`;
    let tracer = this.#tracers.get(key);
    if (tracer === undefined) {
      const scope = { name, ...(version === undefined ? {} : { version }), ...(options?.schemaUrl === undefined ? {} : { schemaUrl: options.schemaUrl }) };
      tracer = new SamplingTracer(this.#options.delegate.getTracer(name, version, options), scope, this.#options.sampling, this.#sink);
      this.#tracers.set(key, tracer);
    }
    return tracer;
  }

  /** A snapshot of the decisions counted so far. */
  stats(): SamplingStats {
    const s = this.#sink.stats;
    return { ...s, keptByRule: { ...s.keptByRule } };
  }
}
