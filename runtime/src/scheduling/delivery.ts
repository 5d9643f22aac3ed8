import type { AgentId, TopicId } from "../agents/ids.js";
import type { MessageContext, SendOptions } from "../agents/agent.js";
import type { TenantId } from "@troupe/contract";

/** Where a delivery routes the sends and publishes its handler makes (the runtime). */
export interface TurnRouter {
  sendFromTurn(from: Delivery, to: AgentId, message: unknown, options: SendOptions | undefined): Promise<unknown>;
  publishFromTurn(from: Delivery, topic: TopicId, message: unknown): Promise<void>;
}

/** Life cycle of a delivery: queued, then running (a turn), then done. */
export const DeliveryState = { Queued: 0, Running: 1, Done: 2 } as const;
export type DeliveryState = (typeof DeliveryState)[keyof typeof DeliveryState];

/**
 * One message on its way to one agent of one tenant, and the context of the turn that handles it.
 * The runtime keeps it allocation-light: links for the mailbox and the in-flight list live on it,
 * and the turn's AbortController is created only when a handler reads `signal` or something aborts.
 * Owned by the runtime; handlers only see it as a MessageContext.
 */
export class Delivery implements MessageContext {
  /** Mailbox link (next message of the same agent). */
  next: Delivery | null = null;
  /** In-flight list links of the tenant (watchdog order). */
  prevRunning: Delivery | null = null;
  nextRunning: Delivery | null = null;
  state: DeliveryState = DeliveryState.Queued;
  /** Settled towards the caller (result, error, timeout, abort, stop); later outcomes are discarded. */
  settled = false;
  enqueuedAtMs = 0;
  startedAtMs = 0;
  deadlineMs = 0;
  blockedMs = 0;
  resolve: ((value: unknown) => void) | null = null;
  reject: ((reason: unknown) => void) | null = null;
  /** The owning agent activation and tenant lane (typed loosely to keep this file free of cycles). */
  activation: unknown = null;
  callerTimer: ReturnType<typeof setTimeout> | null = null;
  callerSignal: AbortSignal | null = null;
  callerAbortListener: (() => void) | null = null;
  /** Tracing state (spans, contexts) when tracing is on. */
  trace: unknown = null;
  #controller: AbortController | null = null;

  readonly #router: TurnRouter;

  constructor(
    router: TurnRouter,
    readonly tenant: TenantId,
    readonly agentId: AgentId,
    readonly sender: AgentId | undefined,
    readonly topic: TopicId | undefined,
    public message: unknown,
    readonly hopCount: number,
    readonly isRpc: boolean,
    readonly seq: number,
  ) {
    this.#router = router;
  }

  get deliveryId(): string {
    return `d${this.seq}`;
  }

  get signal(): AbortSignal {
    this.#controller ??= new AbortController();
    return this.#controller.signal;
  }

  /** True when the turn's signal has been created (someone may be listening). */
  get hasSignal(): boolean {
    return this.#controller !== null;
  }

  /** Aborts the turn's signal with `reason` (a no-op when already aborted). */
  abort(reason: unknown): void {
    if (this.#controller === null) this.#controller = new AbortController();
    if (!this.#controller.signal.aborted) this.#controller.abort(reason);
  }

  get aborted(): boolean {
    return this.#controller !== null && this.#controller.signal.aborted;
  }

  send(to: AgentId, message: unknown, options?: SendOptions): Promise<unknown> {
    return this.#router.sendFromTurn(this, to, message, options);
  }

  publish(topic: TopicId, message: unknown): Promise<void> {
    return this.#router.publishFromTurn(this, topic, message);
  }

  /** Drops references a finished delivery no longer needs, so a lingering context holds little. */
  release(): void {
    this.message = undefined;
    this.next = null;
    this.resolve = null;
    this.reject = null;
  }
}

