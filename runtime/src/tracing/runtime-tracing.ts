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
import type { TenantId } from "../tenancy/tenant-id.js";
import { ATTR, type TurnOutcome } from "./attributes.js";

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
}

/** Timings of one finished turn. */
export interface TurnTimings {
  queueWaitMs: number;
  wallMs: number;
  blockedMs: number;
}

/**
 * Emits the runtime's spans through @opentelemetry/api: `send <type>` and `publish <topic>`
 * (PRODUCER), `process <type>` (CONSUMER, child of its send or publish) and `invoke_agent <type>`
 * (INTERNAL, child of process) around the handler. Every span carries the tenant id, the agent's
 * type and key, the hop count and the outcome, with messaging and GenAI semantic-convention
 * attributes; never a payload, and error status messages carry only the error code.
 *
 * `create` returns null when the provider is a no-op, so the runtime skips tracing entirely.
 */
export class RuntimeTracing {
  private readonly names = new SpanNameCache(1024);

  private constructor(private readonly tracer: Tracer) {}

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
    const span = this.tracer.startSpan(this.names.of(to.type).send, PRODUCER, ctx);
    if (span.isRecording()) setMessagingAttributes(span, tenant, to.type, to.key, hopCount, "send");
    return { parent: trace.setSpan(ctx, span), send: span, process: undefined, invoke: undefined, invokeCtx: undefined };
  }

  /** Starts the PRODUCER span of a publish; end it with `endPublish`. */
  startPublish(tenant: TenantId, topic: TopicId, hopCount: number, parent: Context | undefined): { span: Span; ctx: Context } {
    const ctx = parent ?? otelContext.active();
    const span = this.tracer.startSpan(this.names.of(topic.type).publish, PRODUCER, ctx);
    if (span.isRecording()) {
      setMessagingAttributes(span, tenant, undefined, undefined, hopCount, "publish");
      span.setAttribute(ATTR.messagingDestination, topic.type);
    }
    return { span, ctx: trace.setSpan(ctx, span) };
  }

  /** A delivery trace for one subscriber of a publish (no send span of its own). */
  forPublishedDelivery(publishCtx: Context): DeliveryTrace {
    return { parent: publishCtx, send: undefined, process: undefined, invoke: undefined, invokeCtx: undefined };
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
    const names = this.names.of(target);
    const span = this.tracer.startSpan(kind === "send" ? names.send : names.publish, PRODUCER, parent ?? otelContext.active());
    if (span.isRecording()) {
      setMessagingAttributes(span, tenant, kind === "send" ? target : undefined, key, hopCount, kind);
      if (kind === "publish") span.setAttribute(ATTR.messagingDestination, target);
      span.setAttribute(ATTR.outcome, outcome);
      markError(span, error);
    }
    span.end();
  }

  /** Starts `process` (CONSUMER, child of the send/publish) and `invoke_agent` (child of process). */
  startTurn(t: DeliveryTrace, tenant: TenantId, agent: AgentId, hopCount: number, deliveryId: string, isRpc: boolean): Context {
    const names = this.names.of(agent.type);
    const process = this.tracer.startSpan(names.process, CONSUMER, t.parent);
    const processCtx = trace.setSpan(t.parent, process);
    const invoke = this.tracer.startSpan(names.invoke, INTERNAL, processCtx);
    if (process.isRecording()) {
      setMessagingAttributes(process, tenant, agent.type, agent.key, hopCount, "process");
      process.setAttribute(ATTR.messagingMessageId, deliveryId);
      if (!isRpc) process.setAttribute(ATTR.messagingOperationName, "process_published");
    }
    if (invoke.isRecording()) {
      invoke.setAttribute(ATTR.tenantId, tenant);
      invoke.setAttribute(ATTR.agentType, agent.type);
      invoke.setAttribute(ATTR.agentKey, agent.key);
      invoke.setAttribute(ATTR.genAiOperation, "invoke_agent");
      invoke.setAttribute(ATTR.genAiAgentName, agent.type);
    }
    t.process = process;
    t.invoke = invoke;
    t.invokeCtx = trace.setSpan(processCtx, invoke);
    return t.invokeCtx;
  }

  /**
   * Ends the turn's spans with its outcome; the timings (queue wait, handler wall and blocked time) go
   * on the process span only, the one span per turn that usage and agent queries count. Every
   * attribute costs CPU on the traced hot path, so none is written twice.
   */
  endTurn(t: DeliveryTrace, outcome: TurnOutcome, timings: TurnTimings, error?: unknown): void {
    const { invoke, process } = t;
    const wallMs = round(timings.wallMs);
    const blockedMs = round(timings.blockedMs);
    if (invoke !== undefined) {
      if (invoke.isRecording()) {
        invoke.setAttribute(ATTR.outcome, outcome);
        if (error !== undefined) markError(invoke, error);
      }
      invoke.end();
    }
    if (process !== undefined) {
      if (process.isRecording()) {
        process.setAttribute(ATTR.outcome, outcome);
        process.setAttribute(ATTR.queueWaitMs, round(timings.queueWaitMs));
        process.setAttribute(ATTR.handlerWallMs, wallMs);
        process.setAttribute(ATTR.handlerBlockedMs, blockedMs);
        if (error !== undefined) markError(process, error);
      }
      process.end();
    }
    t.process = t.invoke = undefined;
  }

  /** Ends the send span when the caller's call settles. */
  endSend(t: DeliveryTrace, outcome: TurnOutcome, error?: unknown): void {
    const span = t.send;
    if (span === undefined) return;
    t.send = undefined;
    if (span.isRecording()) {
      span.setAttribute(ATTR.outcome, outcome);
      if (error !== undefined) markError(span, error);
    }
    span.end();
  }

  /** W3C traceparent of the turn's invoke_agent span, for a TurnHost. */
  traceparent(t: DeliveryTrace): string | undefined {
    const span = t.invoke ?? t.process;
    if (span === undefined) return undefined;
    const sc = span.spanContext();
    if (!isSpanContextValid(sc)) return undefined;
    return `00-${sc.traceId}-${sc.spanId}-${(sc.traceFlags & 1).toString(16).padStart(2, "0")}`;
  }
}

/** Sets the messaging attributes every send, publish and process span carries (one call each: no temporary objects). */
function setMessagingAttributes(
  span: Span,
  tenant: TenantId,
  agentType: string | undefined,
  agentKey: string | undefined,
  hopCount: number,
  operation: "send" | "publish" | "process",
): void {
  span.setAttribute(ATTR.tenantId, tenant);
  span.setAttribute(ATTR.hopCount, hopCount);
  span.setAttribute(ATTR.messagingSystem, "troupe");
  span.setAttribute(ATTR.messagingOperationType, operation);
  span.setAttribute(ATTR.messagingOperationName, operation);
  if (agentType !== undefined) {
    span.setAttribute(ATTR.agentType, agentType);
    span.setAttribute(ATTR.messagingDestination, agentType);
  }
  if (agentKey !== undefined) span.setAttribute(ATTR.agentKey, agentKey);
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
  private readonly byType = new Map<string, SpanNames>();
  constructor(private readonly maxTypes: number) {}

  of(type: string): SpanNames {
    let names = this.byType.get(type);
    if (names === undefined) {
      names = { send: `send ${type}`, publish: `publish ${type}`, process: `process ${type}`, invoke: `invoke_agent ${type}` };
      if (this.byType.size < this.maxTypes) this.byType.set(type, names);
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
