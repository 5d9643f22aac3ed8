import type { Context, TextMapGetter } from "@opentelemetry/api";
import { ROOT_CONTEXT, defaultTextMapSetter, isSpanContextValid, propagation, trace } from "@opentelemetry/api";
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from "@opentelemetry/core";
import { isTenantId, type TenantId, TENANT_BAGGAGE_KEY } from "@troupe/contract";

/** A string-keyed carrier: worker-thread messages, process messages, NATS or HTTP headers. */
export type Carrier = Record<string, string>;

/** Trace context and tenant read back from a carrier. */
export interface ExtractedContext {
  /** The context to run the receiving side in; its span context is the sender's (remote) span. */
  context: Context;
  /** The tenant from the baggage, present only when it is a valid tenant id. */
  tenant?: TenantId;
}

// Fixed W3C propagators, so the boundary works the same whether or not a global propagator is set.
const W3C_PROPAGATOR = new CompositePropagator({
  propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()],
});

const carrierGetter: TextMapGetter<Carrier> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => {
    // Own properties only: a carrier parsed from JSON must not reach the prototype chain.
    return Object.prototype.hasOwnProperty.call(carrier, key) ? carrier[key] : undefined;
  },
};

/**
 * Writes the trace context of `ctx` (`traceparent`, `tracestate`) and its baggage to `carrier`, with
 * the tenant set as the `troupe.tenant.id` baggage entry (overriding any tenant already in the
 * baggage). Nothing is written for the trace when `ctx` holds no valid span context.
 */
export function injectContext(ctx: Context, tenant: TenantId | undefined, carrier: Carrier): void {
  if (tenant !== undefined && propagation.getBaggage(ctx) === undefined && !hasValidSpan(ctx)) {
    // Untraced, no baggage of the caller's: the carrier is the tenant's alone (the common case of a send from an ingress).
    Object.assign(carrier, tenantOnlyCarrier(tenant));
    return;
  }
  let withTenant = ctx;
  if (tenant !== undefined) {
    const baggage = propagation.getBaggage(ctx) ?? propagation.createBaggage();
    withTenant = propagation.setBaggage(ctx, baggage.setEntry(TENANT_BAGGAGE_KEY, { value: tenant }));
  }
  W3C_PROPAGATOR.inject(withTenant, carrier, defaultTextMapSetter);
}

function hasValidSpan(ctx: Context): boolean {
  const sc = trace.getSpanContext(ctx);
  return sc !== undefined && isSpanContextValid(sc);
}

const tenantCarriers = new Map<TenantId, Readonly<Carrier>>();

/** What `injectContext` writes for a context with no span and no baggage: the tenant's baggage entry, serialized once per tenant. */
function tenantOnlyCarrier(tenant: TenantId): Readonly<Carrier> {
  let c = tenantCarriers.get(tenant);
  if (c === undefined) {
    const out: Carrier = {};
    W3C_PROPAGATOR.inject(propagation.setBaggage(ROOT_CONTEXT, propagation.createBaggage({ [TENANT_BAGGAGE_KEY]: { value: tenant } })), out, defaultTextMapSetter);
    c = Object.freeze(out);
    if (tenantCarriers.size >= 10_000) tenantCarriers.clear();
    tenantCarriers.set(tenant, c);
  }
  return c;
}

/**
 * Reads trace context and baggage from `carrier` into a context derived from `base` (the root
 * context by default). Never throws on hostile input: a malformed `traceparent` is ignored, and a
 * tenant entry that is not a valid tenant id is removed from the baggage and reported as no tenant.
 */
export function extractContext(carrier: Carrier, base: Context = ROOT_CONTEXT): ExtractedContext {
  // Untraced messages from an ingress all carry their tenant's baggage alone: read each distinct one once.
  const cacheable = base === ROOT_CONTEXT && !Object.prototype.hasOwnProperty.call(carrier, "traceparent") && !Object.prototype.hasOwnProperty.call(carrier, "tracestate") && typeof carrier.baggage === "string";
  if (cacheable) {
    const hit = baggageOnlyExtracts.get(carrier.baggage!);
    if (hit !== undefined) return hit;
  }
  const extracted = extractUncached(carrier, base);
  if (cacheable) {
    if (baggageOnlyExtracts.size >= 10_000) baggageOnlyExtracts.clear();
    baggageOnlyExtracts.set(carrier.baggage!, Object.freeze(extracted));
  }
  return extracted;
}

/** Contexts (immutable) extracted from carriers holding only baggage, by that baggage. */
const baggageOnlyExtracts = new Map<string, ExtractedContext>();

function extractUncached(carrier: Carrier, base: Context): ExtractedContext {
  let context: Context;
  try {
    context = W3C_PROPAGATOR.extract(base, carrier, carrierGetter);
  } catch {
    return { context: base };
  }
  const baggage = propagation.getBaggage(context);
  const entry = baggage?.getEntry(TENANT_BAGGAGE_KEY);
  if (baggage === undefined || entry === undefined) return { context };
  if (isTenantId(entry.value)) return { context, tenant: entry.value };
  return { context: propagation.setBaggage(context, baggage.removeEntry(TENANT_BAGGAGE_KEY)) };
}
