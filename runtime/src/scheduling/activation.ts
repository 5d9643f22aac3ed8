import type { Agent } from "../agents/agent.js";
import type { AgentId } from "../agents/ids.js";
import type { Delivery } from "./delivery.js";

/**
 * One agent of one tenant as the runtime tracks it: its instance (created lazily), its mailbox and
 * its place in the ready and idle lists. Guarantee: at most one of its deliveries runs at a time
 * (`running`), except that a turn abandoned by the watchdog no longer holds the agent. The mailbox
 * is an intrusive list on the deliveries, so an idle agent with an empty mailbox holds no buffer.
 */
export class Activation {
  instance: Agent | null = null;
  /** Activated in the TurnHost (worker tier) rather than inline. */
  hosted = false;
  /** State to hand to the host on the next hosted turn (loaded on re-activation). */
  pendingHostedState: unknown = undefined;
  head: Delivery | null = null;
  tail: Delivery | null = null;
  running: Delivery | null = null;
  /** Eviction in progress (saving state); messages wait in the mailbox meanwhile. */
  passivating = false;
  /** In the tenant's ready list. */
  ready = false;
  nextReady: Activation | null = null;
  /** Idle list links (least recently used first) and when the agent became idle. */
  idlePrev: Activation | null = null;
  idleNext: Activation | null = null;
  inIdleList = false;
  idleSinceMs = 0;
  /** Removed from its tenant's table; must not be scheduled again. */
  evicted = false;

  constructor(
    readonly agentId: AgentId,
    /** The tenant lane that owns it (typed loosely to keep files free of import cycles). */
    readonly lane: unknown,
  ) {}

  /** True when the agent can start a turn now. */
  get startable(): boolean {
    return this.running === null && !this.passivating && this.head !== null;
  }

  push(delivery: Delivery): void {
    if (this.tail === null) this.head = delivery;
    else this.tail.next = delivery;
    this.tail = delivery;
  }

  shift(): Delivery | null {
    const d = this.head;
    if (d !== null) {
      this.head = d.next;
      if (this.head === null) this.tail = null;
      d.next = null;
    }
    return d;
  }
}
