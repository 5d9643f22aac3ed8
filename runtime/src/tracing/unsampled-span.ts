import { TraceFlags } from "@opentelemetry/api";
import type { Span, SpanContext } from "@opentelemetry/api";
import { randomSpanId, randomTraceId } from "./span-ids.js";

/**
 * A span of a trace sampled out with the keep rules off: it records nothing and is never exported,
 * like the SDK's non-recording span, but draws its ids only when first asked for (most are never
 * asked). Its span context carries the sampled flag unset, so other processes leave the trace out too.
 */
export class UnsampledSpan implements Span {
  #context: SpanContext | undefined = undefined;

  readonly #parent: UnsampledSpan | SpanContext | undefined;

  /** `parent`: the span this one continues in this process, or the remote span context it continues, or none (a new trace). */
  constructor(parent: UnsampledSpan | SpanContext | undefined) {
    this.#parent = parent;
  }

  spanContext(): SpanContext {
    if (this.#context === undefined) {
      const p = this.#parent;
      const traceId = p === undefined ? randomTraceId() : p instanceof UnsampledSpan ? p.spanContext().traceId : p.traceId;
      this.#context = { traceId, spanId: randomSpanId(), traceFlags: TraceFlags.NONE };
    }
    return this.#context;
  }

  setAttribute(): this {
    return this;
  }

  setAttributes(): this {
    return this;
  }

  addEvent(): this {
    return this;
  }

  addLink(): this {
    return this;
  }

  addLinks(): this {
    return this;
  }

  setStatus(): this {
    return this;
  }

  updateName(): this {
    return this;
  }

  end(): void {}

  isRecording(): boolean {
    return false;
  }

  recordException(): void {}
}
