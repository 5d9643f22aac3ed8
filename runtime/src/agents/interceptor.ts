import type { AgentId, TopicId } from "./ids.js";
import type { TenantId } from "@troupe/contract";

/** A send as interceptors see it. `tenant` may be read but never changed (CrossTenantError). */
export interface SendEnvelope {
  readonly kind: "send";
  tenant: TenantId;
  recipient: AgentId;
  sender: AgentId | undefined;
  message: unknown;
  hopCount: number;
}

/** A publish as interceptors see it. */
export interface PublishEnvelope {
  readonly kind: "publish";
  tenant: TenantId;
  topic: TopicId;
  sender: AgentId | undefined;
  message: unknown;
  hopCount: number;
}

/** A delivery to one agent, just before its handler runs (inside the agent's turn). */
export interface DeliverEnvelope {
  readonly kind: "deliver";
  readonly tenant: TenantId;
  readonly recipient: AgentId;
  readonly sender: AgentId | undefined;
  readonly topic: TopicId | undefined;
  message: unknown;
  readonly hopCount: number;
  readonly deliveryId: string;
  readonly isRpc: boolean;
}

/**
 * Returned by an interceptor (instead of calling `next`) to drop a message. A dropped send fails
 * with MessageDroppedError; a dropped publish or delivery is counted. Throwing MessageDroppedError
 * has the same effect.
 */
export const DROP: unique symbol = Symbol("troupe.drop");
export type Drop = typeof DROP;

/**
 * A cross-cutting step around send, publish and delivery, composed in registration order (the
 * first added is outermost). Each may rewrite the envelope before calling `next`, wrap the result,
 * or drop the message. Interceptors cannot move a message to another tenant.
 */
export interface Interceptor {
  onSend?(envelope: SendEnvelope, next: (envelope: SendEnvelope) => Promise<unknown>): Promise<unknown> | Drop;
  onPublish?(envelope: PublishEnvelope, next: (envelope: PublishEnvelope) => Promise<void>): Promise<void> | Drop;
  onDeliver?(envelope: DeliverEnvelope, next: (envelope: DeliverEnvelope) => unknown): unknown;
}
