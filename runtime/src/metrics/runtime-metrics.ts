import { createNoopMeter, ValueType } from "@opentelemetry/api";
import type { Attributes, Counter, Histogram, Meter, MeterProvider } from "@opentelemetry/api";
import { type TenantId, ATTR, type TurnOutcome } from "@troupe/contract";
import { METRIC, METRIC_ATTR, TURN_DURATION_BUCKETS, type QuotaKind } from "./metric-names.js";

/** The meter name of the runtime's own metrics. */
export const METER_NAME = "@troupe/runtime";

/** The attribute objects of one tenant and agent type (or of no type), built once and reused for every point. */
interface TypeAttributes {
  readonly base: Attributes;
  readonly outcomes: Partial<Record<TurnOutcome, Attributes>>;
  readonly quotas: Partial<Record<QuotaKind, Attributes>>;
}

interface TenantAttributes {
  /** For points whose agent type is unknown (a publish refused before its recipients were known). */
  readonly untyped: TypeAttributes;
  readonly byType: Map<string, TypeAttributes>;
}

const MAX_TENANTS = 10_000;
const MAX_TYPES_PER_TENANT = 1024;

/**
 * The runtime's per-tenant metrics, recorded through `@opentelemetry/api`: `troupe.turns` (by
 * outcome), `troupe.turn.queue_wait`, `troupe.turn.handler_duration` (by outcome) and
 * `troupe.quota.rejections` (by quota kind), every point naming its tenant and, where known, its
 * agent type. Instruments are created once and attribute objects reused (bounded: past 10,000 tenants
 * or 1,024 types per tenant they are built per point). `create` returns null for a no-op meter
 * provider, so a runtime without a metrics SDK skips recording altogether.
 */
export class RuntimeMetrics {
  readonly #turns: Counter;
  readonly #queueWait: Histogram;
  readonly #handlerDuration: Histogram;
  readonly #quotaRejections: Counter;
  readonly #byTenant = new Map<TenantId, TenantAttributes>();

  private constructor(meter: Meter) {
    this.#turns = meter.createCounter(METRIC.turns, { description: "Turns that ended, by outcome", unit: "{turn}", valueType: ValueType.INT });
    const advice = { explicitBucketBoundaries: [...TURN_DURATION_BUCKETS] };
    this.#queueWait = meter.createHistogram(METRIC.turnQueueWait, { description: "Time a message waited in its tenant's queue before its turn started", unit: "s", advice });
    this.#handlerDuration = meter.createHistogram(METRIC.turnHandlerDuration, { description: "Handler time of a turn, start to settle", unit: "s", advice });
    this.#quotaRejections = meter.createCounter(METRIC.quotaRejections, { description: "Messages refused by a tenant quota", unit: "{message}", valueType: ValueType.INT });
  }

  /** RuntimeMetrics recording through `provider`, or null when its meter is the API's no-op meter. */
  static create(provider: MeterProvider): RuntimeMetrics | null {
    const meter = provider.getMeter(METER_NAME, "0.1.0");
    return meter === createNoopMeter() ? null : new RuntimeMetrics(meter);
  }

  /** Records a turn that ended (finished or abandoned): one turn, its queue wait and its handler time. */
  turnEnded(tenant: TenantId, agentType: string, outcome: TurnOutcome, queueWaitMs: number, handlerMs: number): void {
    const attributes = this.#attributes(tenant, agentType);
    const withOutcome = (attributes.outcomes[outcome] ??= { ...attributes.base, [ATTR.outcome]: outcome });
    this.#turns.add(1, withOutcome);
    this.#queueWait.record(queueWaitMs / 1000, attributes.base);
    this.#handlerDuration.record(handlerMs / 1000, withOutcome);
  }

  /** Records a message refused by a quota of its tenant; `agentType` undefined when the recipient was not known yet. */
  quotaRejected(tenant: TenantId, agentType: string | undefined, kind: QuotaKind): void {
    const attributes = this.#attributes(tenant, agentType);
    this.#quotaRejections.add(1, (attributes.quotas[kind] ??= { ...attributes.base, [METRIC_ATTR.quotaKind]: kind }));
  }

  #attributes(tenant: TenantId, agentType: string | undefined): TypeAttributes {
    let entry = this.#byTenant.get(tenant);
    if (entry === undefined) {
      entry = { untyped: typeAttributes(tenant, undefined), byType: new Map() };
      if (this.#byTenant.size < MAX_TENANTS) this.#byTenant.set(tenant, entry);
    }
    if (agentType === undefined) return entry.untyped;
    let attributes = entry.byType.get(agentType);
    if (attributes === undefined) {
      attributes = typeAttributes(tenant, agentType);
      if (entry.byType.size < MAX_TYPES_PER_TENANT) entry.byType.set(agentType, attributes);
    }
    return attributes;
  }
}

function typeAttributes(tenant: TenantId, agentType: string | undefined): TypeAttributes {
  const base: Attributes = agentType === undefined ? { [ATTR.tenantId]: tenant } : { [ATTR.tenantId]: tenant, [ATTR.agentType]: agentType };
  return { base, outcomes: {}, quotas: {} };
}
