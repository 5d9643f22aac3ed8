import type { SendOptions } from "../agents/agent.js";
import { AbortedError, TimeoutError, type TroupeError } from "../errors.js";
import type { TurnOutcome } from "@troupe/contract";
import type { DeliveryTrace, RuntimeTracing } from "../tracing/runtime-tracing.js";
import { DeliveryState, type Delivery } from "./delivery.js";

// How a delivery's caller is answered. Guarantee: a caller is settled once (the first outcome wins:
// result, handler error, its own timeout or abort, stop); later outcomes are discarded, and its
// timer and abort listener are released when it settles. `tracing` ends the send span, when on.

/** Settles the caller with the handler's result. */
export function settleOk(d: Delivery, value: unknown, tracing: RuntimeTracing | null): void {
  if (d.settled) return;
  d.settled = true;
  clearCaller(d);
  if (tracing !== null && d.trace !== null) tracing.endSend(d.trace as DeliveryTrace, "ok");
  d.resolve?.(value);
}

/** Settles the caller with `error`; a published delivery has no caller (its errors are counted, never thrown to the publisher). */
export function settleErr(d: Delivery, outcome: TurnOutcome, error: unknown, tracing: RuntimeTracing | null): void {
  if (d.settled) return;
  d.settled = true;
  clearCaller(d);
  if (tracing !== null && d.trace !== null) tracing.endSend(d.trace as DeliveryTrace, outcome, error);
  d.reject?.(error);
}

/** Arms the caller's own timeout and abort signal: either settles it at once (TimeoutError, AbortedError). */
export function watchCaller(d: Delivery, options: SendOptions, tracing: RuntimeTracing | null): void {
  const { timeoutMs, signal } = options;
  if (timeoutMs !== undefined) {
    d.callerTimer = setTimeout(() => callerGaveUp(d, new TimeoutError(`no answer from ${d.agentId.toString()} within ${timeoutMs} ms`), tracing), timeoutMs);
  }
  if (signal !== undefined) {
    if (signal.aborted) {
      callerGaveUp(d, new AbortedError(), tracing);
      return;
    }
    d.callerSignal = signal;
    d.callerAbortListener = () => callerGaveUp(d, new AbortedError(), tracing);
    signal.addEventListener("abort", d.callerAbortListener, { once: true });
  }
}

/** Releases the caller's timer and abort listener. */
export function clearCaller(d: Delivery): void {
  if (d.callerTimer !== null) {
    clearTimeout(d.callerTimer);
    d.callerTimer = null;
  }
  if (d.callerSignal !== null && d.callerAbortListener !== null) {
    d.callerSignal.removeEventListener("abort", d.callerAbortListener);
    d.callerSignal = null;
    d.callerAbortListener = null;
  }
}

/** The caller timed out or aborted: settle it now; a running turn sees its signal abort. */
export function callerGaveUp(d: Delivery, error: TroupeError, tracing: RuntimeTracing | null): void {
  if (d.settled) return;
  settleErr(d, error instanceof TimeoutError ? "timeout" : "dropped", error, tracing);
  if (d.state === DeliveryState.Running) d.abort(error);
}
