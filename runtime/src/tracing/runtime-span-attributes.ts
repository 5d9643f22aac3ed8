import type { Attributes, AttributeValue } from "@opentelemetry/api";
import { type TenantId, ATTR } from "@troupe/contract";

/** Something attributes are set on: a span, or the recorder that builds a shared base. */
interface AttributeTarget {
  setAttribute(key: string, value: AttributeValue): unknown;
}

/**
 * Sets the messaging attributes every send, publish and process span carries (one call each: no
 * temporary objects). The hop count and the agent key are left out when undefined (a shared base).
 */
export function setMessagingAttributes(
  span: AttributeTarget,
  tenant: TenantId,
  agentType: string | undefined,
  agentKey: string | undefined,
  hopCount: number | undefined,
  operation: "send" | "publish" | "process",
): void {
  span.setAttribute(ATTR.tenantId, tenant);
  if (hopCount !== undefined) span.setAttribute(ATTR.hopCount, hopCount);
  span.setAttribute(ATTR.messagingSystem, "troupe");
  span.setAttribute(ATTR.messagingOperationType, operation);
  span.setAttribute(ATTR.messagingOperationName, operation);
  if (agentType !== undefined) {
    span.setAttribute(ATTR.agentType, agentType);
    span.setAttribute(ATTR.messagingDestination, agentType);
  }
  if (agentKey !== undefined) span.setAttribute(ATTR.agentKey, agentKey);
}

/** Sets the attributes of an `invoke_agent` span; the agent key is left out when undefined (a shared base). */
export function setInvokeAttributes(span: AttributeTarget, tenant: TenantId, agentType: string, agentKey: string | undefined): void {
  span.setAttribute(ATTR.tenantId, tenant);
  span.setAttribute(ATTR.agentType, agentType);
  if (agentKey !== undefined) span.setAttribute(ATTR.agentKey, agentKey);
  span.setAttribute(ATTR.genAiOperation, "invoke_agent");
  span.setAttribute(ATTR.genAiAgentName, agentType);
}

/**
 * The attributes of the runtime's spans that depend only on the tenant, the agent or topic type and
 * the operation: what a deferred span shares by reference (DeferredSpan.setBaseAttributes) instead
 * of holding its own copy. Each span adds its hop count, agent key and message id, and its outcome.
 */
export interface RuntimeBaseAttributes {
  readonly send: Readonly<Attributes>;
  readonly process: Readonly<Attributes>;
  /** Of the process span of a published delivery. */
  readonly processPublished: Readonly<Attributes>;
  readonly invoke: Readonly<Attributes>;
  /** Of the publish span of a topic of this type. */
  readonly publish: Readonly<Attributes>;
}

/** RuntimeBaseAttributes per tenant and type, built once; bounded (past the bounds, built per call). */
export class BaseAttributeCache {
  readonly #byTenant = new Map<TenantId, Map<string, RuntimeBaseAttributes>>();

  readonly #maxTenants: number;
  readonly #maxTypesPerTenant: number;

  constructor(
    maxTenants: number,
    maxTypesPerTenant: number,
  ) {
    this.#maxTenants = maxTenants;
    this.#maxTypesPerTenant = maxTypesPerTenant;
  }

  of(tenant: TenantId, type: string): RuntimeBaseAttributes {
    let byType = this.#byTenant.get(tenant);
    if (byType === undefined) {
      byType = new Map();
      if (this.#byTenant.size < this.#maxTenants) this.#byTenant.set(tenant, byType);
    }
    let bases = byType.get(type);
    if (bases === undefined) {
      bases = buildBases(tenant, type);
      if (byType.size < this.#maxTypesPerTenant) byType.set(type, bases);
    }
    return bases;
  }
}

function buildBases(tenant: TenantId, type: string): RuntimeBaseAttributes {
  const build = (write: (target: AttributeTarget) => void): Readonly<Attributes> => {
    const out: Attributes = {};
    write({ setAttribute: (key, value) => (out[key] = value) });
    return Object.freeze(out);
  };
  return {
    send: build((t) => setMessagingAttributes(t, tenant, type, undefined, undefined, "send")),
    process: build((t) => setMessagingAttributes(t, tenant, type, undefined, undefined, "process")),
    processPublished: build((t) => {
      setMessagingAttributes(t, tenant, type, undefined, undefined, "process");
      t.setAttribute(ATTR.messagingOperationName, "process_published");
    }),
    invoke: build((t) => setInvokeAttributes(t, tenant, type, undefined)),
    publish: build((t) => {
      setMessagingAttributes(t, tenant, undefined, undefined, undefined, "publish");
      t.setAttribute(ATTR.messagingDestination, type);
    }),
  };
}
