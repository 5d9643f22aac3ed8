import type { AgentId, TopicId } from "./agents/ids.js";
import type { SendOptions } from "./agents/agent.js";
import type { Subscription } from "./agents/subscription.js";
import type { TenantId } from "@troupe/contract";
import type { TenantConfig } from "./tenancy/tenant-quota.js";

/** What a TenantHandle asks of its runtime. */
export interface TenantIngress {
  ingressSend(tenant: TenantId, to: AgentId, message: unknown, options: SendOptions | undefined): Promise<unknown>;
  ingressPublish(tenant: TenantId, topic: TopicId, message: unknown): Promise<void>;
  tenantSubscribe(tenant: TenantId, subscription: Subscription): void;
  tenantUnsubscribe(tenant: TenantId, id: string): boolean;
  setTenantConfig(tenant: TenantId, config: TenantConfig): void;
}

/**
 * The runtime as seen by one tenant: the only way in. Everything sent or published through it
 * belongs to that tenant, and subscriptions made on it apply only to that tenant. Used from inside
 * a handler of another tenant, it refuses with CrossTenantError.
 */
export class TenantHandle {
  readonly #ingress: TenantIngress;

  constructor(
    ingress: TenantIngress,
    /** The tenant, validated. */
    readonly tenant: TenantId,
  ) {
    this.#ingress = ingress;
  }

  /** Request/response to one agent of this tenant; settles with its handler's result or a typed error. */
  send(to: AgentId, message: unknown, options?: SendOptions): Promise<unknown> {
    return this.#ingress.ingressSend(this.tenant, to, message, options);
  }

  /** Fan-out to this tenant's subscribers; resolves once delivered to their mailboxes (results ignored). */
  publish(topic: TopicId, message: unknown): Promise<void> {
    return this.#ingress.ingressPublish(this.tenant, topic, message);
  }

  /** Adds a subscription that applies to this tenant only. */
  subscribe(subscription: Subscription): void {
    this.#ingress.tenantSubscribe(this.tenant, subscription);
  }

  /** Removes a subscription of this tenant; true when it existed. */
  unsubscribe(id: string): boolean {
    return this.#ingress.tenantUnsubscribe(this.tenant, id);
  }

  /** Replaces this tenant's quota overrides and tier (takes effect for the next messages). */
  configure(config: TenantConfig): void {
    this.#ingress.setTenantConfig(this.tenant, config);
  }
}
