import {
  context as otelContext,
  isSpanContextValid,
  SpanKind,
  SpanStatusCode,
  trace,
  type Context,
  type Span,
  type SpanOptions,
  type Tracer,
  type TracerProvider,
} from "@opentelemetry/api";
import type { AgentId, TopicId } from "../agents/ids.js";
import { type TenantId, ATTR, type TurnOutcome } from "@troupe/contract";
import { contextWithSpan } from "./overlay-context.js";
import { isPendingSpan, type PendingTrace } from "./pending-trace.js";
import { BaseAttributeCache, setInvokeAttributes, setMessagingAttributes } from "./runtime-span-attributes.js";
import { SamplingTracer } from "./sampling-tracer.js";

/** The tracer name and version of the runtime's spans. */
export const TRACER_NAME = "@troupe/runtime";

/** Spans and contexts of one delivery. */
export interface DeliveryTrace {
  /** Context of the send or publish span: the parent of the process span. */
  parent: Context;
  /** The send span (ended when the call settles); undefined for published deliveries. */
  send: Span | undefined;
  process: Span | undefined;
  invoke: Span | undefined;
  /** Context the handler runs in (invoke_agent active), so its own spans nest under it. */
  invokeCtx: Context | undefined;
  /** The undecided trace a published delivery keeps open until its turn starts (or it is dropped). */
  held: PendingTrace | undefined;
  /** The traceparent a TurnHost was given for this turn, while it is registered (deferred traces only). */
  hostedTraceparent: string | undefined;
}

/** Timings of one finished turn. */
export interface TurnTimings {
  queueWaitMs: number;
  wallMs: number;
  blockedMs: number;
  /** `performance.now()` when the turn ended (its spans end then). */
  endMs: number;
}

/**
 * Emits the runtime's spans through @opentelemetry/api: `send <type>` and `publish <topic>`
 * (PRODUCER), `process <type>` (CONSUMER, child of its send or publish) and `invoke_agent <type>`
 * (INTERNAL, child of process) around the handler. Every span carries the tenant id, the agent's
 * type and key, the hop count and the outcome, with messaging and GenAI semantic-convention
 * attributes; never a payload, and error status messages carry only the error code.
 *
 * `create` returns null when the provider is a no-op, so the runtime skips tracing entirely.
 *
 * Under a SamplingTracerProvider, producer spans name their tenant at their start (its ratio applies
 * to the traces they start), a published delivery keeps its undecided trace open until its turn
 * starts, and the sends of a turn run by a TurnHost join the turn's trace in this process. Deferred
 * spans (of undecided traces) get the same attributes, the per-type ones as one shared object.
 */
export class RuntimeTracing {
  readonly #names = new SpanNameCache(1024);
  /** The tracer when it samples by tenant (producer spans then name their tenant); else null. */
  readonly #sampling: SamplingTracer | null;
  /** Attributes deferred spans share by tenant and type. */
  readonly #bases = new BaseAttributeCache(10_000, 1024);
  /** Contexts of running hosted turns of undecided traces, by the traceparent their host was given. */
  readonly #hostedTurns = new Map<string, { tenant: TenantId; ctx: Context }>();

  readonly #tracer: Tracer;

  private constructor(tracer: Tracer) {
    this.#tracer = tracer;
    this.#sampling = tracer instanceof SamplingTracer ? tracer : null;
  }

  /**
   * A RuntimeTracing for `provider`, or null when it is a no-op (the probe span has no valid span
   * context: the API's no-op tracer). The probe span is never ended, so it is never exported.
   */
  static create(provider: TracerProvider): RuntimeTracing | null {
    const tracer = provider.getTracer(TRACER_NAME, "0.1.0");
    const probe = tracer.startSpan("troupe.probe", { root: true });
    return isSpanContextValid(probe.spanContext()) ? new RuntimeTracing(tracer) : null;
  }

  /** Starts the PRODUCER span of a send; its context is the parent of the delivery's process span. */
  startSend(tenant: TenantId, to: AgentId, hopCount: number, parent: Context | undefined): DeliveryTrace {
    const ctx = parent ?? otelContext.active();
    const span = this.#startProducer(tenant, this.#names.of(to.type).send, ctx);
    if (isPendingSpan(span)) {
      span.setBaseAttributes(this.#bases.of(tenant, to.type).send);
      span.setAttribute(ATTR.hopCount, hopCount);
      span.setAttribute(ATTR.agentKey, to.key);
    } else if (span.isRecording()) setMessagingAttributes(span, tenant, to.type, to.key, hopCount, "send");
    return { parent: contextWithSpan(ctx, span), send: span, process: undefined, invoke: undefined, invokeCtx: undefined, held: undefined, hostedTraceparent: undefined };
  }

  /** Starts the PRODUCER span of a publish; end it with `endPublish`. */
  startPublish(tenant: TenantId, topic: TopicId, hopCount: number, parent: Context | undefined): { span: Span; ctx: Context } {
    const ctx = parent ?? otelContext.active();
    const span = this.#startProducer(tenant, this.#names.of(topic.type).publish, ctx);
    if (isPendingSpan(span)) {
      span.setBaseAttributes(this.#bases.of(tenant, topic.type).publish);
      span.setAttribute(ATTR.hopCount, hopCount);
    } else if (span.isRecording()) {
      setMessagingAttributes(span, tenant, undefined, undefined, hopCount, "publish");
      span.setAttribute(ATTR.messagingDestination, topic.type);
    }
    return { span, ctx: contextWithSpan(ctx, span) };
  }

  /**
   * A delivery trace for one subscriber of a publish (no send span of its own). Call while the publish
   * span is open: an undecided trace then stays open for the delivery until its turn starts, or until
   * `endSend` when it never runs.
   */
  forPublishedDelivery(publishCtx: Context): DeliveryTrace {
    const publish = trace.getSpan(publishCtx);
    const held = isPendingSpan(publish) && publish.trace.hold() ? publish.trace : undefined;
    return { parent: publishCtx, send: undefined, process: undefined, invoke: undefined, invokeCtx: undefined, held, hostedTraceparent: undefined };
  }

  endPublish(span: Span, outcome: TurnOutcome, error?: unknown): void {
    span.setAttribute(ATTR.outcome, outcome);
    if (error !== undefined) markError(span, error);
    span.end();
  }

  /** Records a message refused before it was queued (quota, rate, loop, drop, unknown type) as one ended error span. */
  rejected(
    kind: "send" | "publish",
    tenant: TenantId,
    target: string,
    key: string | undefined,
    hopCount: number,
    outcome: TurnOutcome,
    error: unknown,
    parent: Context | undefined,
  ): void {
    const names = this.#names.of(target);
    const span = this.#startProducer(tenant, kind === "send" ? names.send : names.publish, parent ?? otelContext.active());
    if (span.isRecording()) {
      setMessagingAttributes(span, tenant, kind === "send" ? target : undefined, key, hopCount, kind);
      if (kind === "publish") span.setAttribute(ATTR.messagingDestination, target);
      span.setAttribute(ATTR.outcome, outcome);
      markError(span, error);
    }
    span.end();
  }

  /**
   * Starts `process` (CONSUMER, child of the send/publish) and `invoke_agent` (child of process).
   * `startMs`: `performance.now()` when the turn started (the spans of an undecided trace start then;
   * SDK spans read their own clock, as they always have).
   */
  startTurn(t: DeliveryTrace, tenant: TenantId, agent: AgentId, hopCount: number, deliveryId: string, isRpc: boolean, startMs: number): Context {
    const names = this.#names.of(agent.type);
    const parent = this.#sampling === null ? undefined : trace.getSpan(t.parent);
    if (isPendingSpan(parent)) {
      // An undecided trace: its turn spans are started directly, and the handler's context holds invoke_agent alone.
      const process = this.#sampling!.startDeferredChild(parent, names.process, SpanKind.CONSUMER, startMs);
      const invoke = this.#sampling!.startDeferredChild(process, names.invoke, SpanKind.INTERNAL, startMs);
      const bases = this.#bases.of(tenant, agent.type);
      process.setBaseAttributes(isRpc ? bases.process : bases.processPublished);
      process.setAttribute(ATTR.hopCount, hopCount);
      process.setAttribute(ATTR.agentKey, agent.key);
      process.setAttribute(ATTR.messagingMessageId, deliveryId);
      invoke.setBaseAttributes(bases.invoke);
      invoke.setAttribute(ATTR.agentKey, agent.key);
      t.process = process;
      t.invoke = invoke;
      t.invokeCtx = contextWithSpan(t.parent, invoke);
    } else {
      const process = this.#tracer.startSpan(names.process, CONSUMER, t.parent);
      const processCtx = contextWithSpan(t.parent, process);
      const invoke = this.#tracer.startSpan(names.invoke, INTERNAL, processCtx);
      if (process.isRecording()) {
        setMessagingAttributes(process, tenant, agent.type, agent.key, hopCount, "process");
        process.setAttribute(ATTR.messagingMessageId, deliveryId);
        if (!isRpc) process.setAttribute(ATTR.messagingOperationName, "process_published");
      }
      if (invoke.isRecording()) setInvokeAttributes(invoke, tenant, agent.type, agent.key);
      t.process = process;
      t.invoke = invoke;
      t.invokeCtx = contextWithSpan(processCtx, invoke);
    }
    if (t.held !== undefined) release(t);
    return t.invokeCtx;
  }

  /** Marks a started turn as run in the worker TurnHost (its tenant's tier), on its process span. */
  markHosted(t: DeliveryTrace): void {
    if (t.process !== undefined && t.process.isRecording()) t.process.setAttribute(ATTR.turnIsolation, "worker");
  }

  /**
   * Ends the turn's spans with its outcome; the timings (queue wait, handler wall and blocked time) go
   * on the process span only, the one span per turn that usage and agent queries count. Every
   * attribute costs CPU on the traced hot path, so none is written twice.
   */
  endTurn(t: DeliveryTrace, outcome: TurnOutcome, timings: TurnTimings, error?: unknown): void {
    const { invoke, process } = t;
    if (t.hostedTraceparent !== undefined) {
      this.#hostedTurns.delete(t.hostedTraceparent);
      t.hostedTraceparent = undefined;
    }
    const wallMs = round(timings.wallMs);
    const blockedMs = round(timings.blockedMs);
    if (invoke !== undefined) {
      if (invoke.isRecording()) {
        invoke.setAttribute(ATTR.outcome, outcome);
        if (error !== undefined) markError(invoke, error);
      }
      endAt(invoke, timings.endMs);
    }
    if (process !== undefined) {
      if (process.isRecording()) {
        process.setAttribute(ATTR.outcome, outcome);
        process.setAttribute(ATTR.queueWaitMs, round(timings.queueWaitMs));
        process.setAttribute(ATTR.handlerWallMs, wallMs);
        process.setAttribute(ATTR.handlerBlockedMs, blockedMs);
        if (error !== undefined) markError(process, error);
      }
      endAt(process, timings.endMs);
    }
    // The turn's spans and contexts are young and its delivery trace is old (it waited in a queue): a
    // link from it would keep them through every young-generation collection until a full one. Sends
    // the handler makes after its turn find the turn's context as the active one instead (the
    // context manager carries it into the handler's callbacks).
    t.invokeCtx = undefined;
    t.process = t.invoke = undefined;
  }

  /** Ends the send span when the caller's call settles. */
  endSend(t: DeliveryTrace, outcome: TurnOutcome, error?: unknown): void {
    const span = t.send;
    if (span === undefined) {
      if (t.held !== undefined) release(t);
      return;
    }
    t.send = undefined;
    if (span.isRecording()) {
      span.setAttribute(ATTR.outcome, outcome);
      if (error !== undefined) markError(span, error);
    }
    span.end();
  }

  /**
   * W3C traceparent of the turn's invoke_agent span, for a TurnHost. For an undecided trace, the turn
   * is registered until it ends, so `hostedTurnContext` finds it again for the sends its host relays.
   */
  traceparent(t: DeliveryTrace, tenant: TenantId): string | undefined {
    const span = t.invoke ?? t.process;
    if (span === undefined) return undefined;
    const sc = span.spanContext();
    if (!isSpanContextValid(sc)) return undefined;
    const traceparent = `00-${sc.traceId}-${sc.spanId}-${(sc.traceFlags & 1).toString(16).padStart(2, "0")}`;
    if (isPendingSpan(span) && t.invokeCtx !== undefined) {
      this.#hostedTurns.set(traceparent, { tenant, ctx: t.invokeCtx });
      t.hostedTraceparent = traceparent;
    }
    return traceparent;
  }

  /**
   * The context of a running hosted turn of `tenant` whose host was given `traceparent`, when its
   * trace is undecided: a send the host relays then joins the turn's trace in this process (rather
   * than starting a local part of its own). Undefined otherwise (parse the traceparent instead).
   */
  hostedTurnContext(tenant: TenantId, traceparent: string): Context | undefined {
    if (this.#hostedTurns.size === 0) return undefined;
    const turn = this.#hostedTurns.get(traceparent);
    return turn !== undefined && turn.tenant === tenant ? turn.ctx : undefined;
  }

  /** Starts a producer span; under a SamplingTracer, naming its tenant (whose ratio applies to a trace the span starts). */
  #startProducer(tenant: TenantId, name: string, ctx: Context): Span {
    return this.#sampling === null ? this.#tracer.startSpan(name, PRODUCER, ctx) : this.#sampling.startTenantSpan(tenant, name, PRODUCER, ctx);
  }
}

/** Ends a span at `endMs` (`performance.now()`) when it is deferred; an SDK span reads its own clock, as it always has. */
function endAt(span: Span, endMs: number): void {
  if (isPendingSpan(span)) span.endAt(endMs);
  else span.end();
}

function release(t: DeliveryTrace): void {
  const held = t.held!;
  t.held = undefined;
  held.release();
}

const PRODUCER: SpanOptions = Object.freeze({ kind: SpanKind.PRODUCER });
const CONSUMER: SpanOptions = Object.freeze({ kind: SpanKind.CONSUMER });
const INTERNAL: SpanOptions = Object.freeze({ kind: SpanKind.INTERNAL });

/** Span names of one agent or topic type. */
interface SpanNames {
  send: string;
  publish: string;
  process: string;
  invoke: string;
}

/** Span names per type, built once per type rather than per span; bounded (past the bound, names are built per call). */
class SpanNameCache {
  readonly #byType = new Map<string, SpanNames>();
  readonly #maxTypes: number;

  constructor(maxTypes: number) {
    this.#maxTypes = maxTypes;
  }

  of(type: string): SpanNames {
    let names = this.#byType.get(type);
    if (names === undefined) {
      names = { send: `send ${type}`, publish: `publish ${type}`, process: `process ${type}`, invoke: `invoke_agent ${type}` };
      if (this.#byType.size < this.#maxTypes) this.#byType.set(type, names);
    }
    return names;
  }
}

function markError(span: Span, error: unknown): void {
  const code = errorType(error);
  span.setAttribute(ATTR.errorType, code);
  span.setStatus({ code: SpanStatusCode.ERROR, message: code });
}

/** The stable type of an error for `error.type`: its `code` when it has one, else its class name. */
export function errorType(error: unknown): string {
  if (error !== null && typeof error === "object") {
    const code = (error as { code?: unknown }).code;
    if (typeof code === "string" && code.length > 0) return code;
    const name = (error as { name?: unknown }).name;
    if (typeof name === "string" && name.length > 0) return name;
  }
  return "Error";
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
