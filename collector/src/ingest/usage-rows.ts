import { ATTR, USAGE_ATTR, USAGE_EVENT_NAME, checkUsageRecord, type UsageRecord } from "@troupe/contract";
import type { UsageRecordRow } from "../store/usage-record-row.js";
import type { Principal } from "../tenants/principal.js";
import type { IngestLimits } from "./ingest-limits.js";
import type { OtlpLogRecord, OtlpLogsRequest } from "./otlp-logs.js";
import type { OtlpAttributeValue, OtlpKeyValue } from "./otlp-traces.js";
import { resolveTenant } from "./span-rows.js";

/** Why ingest refused a log record. Stable: used as a metric label and in partial-success messages. */
export type UsageRejectReason =
  | "not_usage" // a log record that is not a usage record: /v1/logs stores usage records only
  | "invalid_record" // a usage record breaking usageRecordSchema (the message names the attribute)
  | "time_in_future" // more than MAX_FUTURE_SKEW_MS ahead of the collector's clock
  | "time_expired" // older than the tenant's retention: it could never be read back
  | "too_many_attributes"
  | "tenant_mismatch" // a tenant key's record claims another tenant
  | "tenant_not_allowed" // a service key's record names a tenant the key may not write
  | "missing_tenant" // a service key's record names no tenant
  | "invalid_tenant" // the tenant attribute is not a valid tenant id
  | "tenant_conflict"; // the record and its resource name different tenants

/** Refusals of one kind: the reason, how many, and the first one's message (naming the attribute). */
export interface UsageRejectGroup {
  reason: UsageRejectReason;
  count: number;
  example: string;
}

/** The outcome of turning a decoded logs request into usage rows. */
export interface UsageRowsResult {
  rows: UsageRecordRow[];
  /** Refused records by reason (for metrics). */
  rejected: Map<UsageRejectReason, number>;
  /** Refused records by reason and, for invalid records, attribute (for the answer), in order of first refusal. */
  rejectGroups: Map<string, UsageRejectGroup>;
}

/** What buildUsageRows needs besides the request. */
export interface UsageRowsOptions {
  limits: IngestLimits;
  /** The collector's clock, in ms since the epoch. */
  nowMs: number;
  /** The tenant's retention in days (its records are stamped with it; older ones are refused). */
  retentionDaysOf: (tenantId: string) => Promise<number> | number;
}

/** How far ahead of the collector's clock a record's time may be (clock skew between hosts). */
export const MAX_FUTURE_SKEW_MS = 5 * 60_000;

/** The log record attributes a usage record is made of (decoders skip the rest). */
export const USAGE_RECORD_ATTRIBUTES: ReadonlySet<string> = new Set<string>([...Object.values(USAGE_ATTR), "event.name"]);
/** The resource attributes usage ingest reads. */
export const USAGE_RESOURCE_ATTRIBUTES: ReadonlySet<string> = new Set<string>(["service.name", ATTR.tenantId]);

const DAY_MS = 86_400_000;
const UNKNOWN_SERVICE = "unknown_service";
/** Attributes a usage record cannot do without (the schema's own messages are about types). */
const REQUIRED: readonly string[] = [USAGE_ATTR.id, USAGE_ATTR.model, USAGE_ATTR.provider, USAGE_ATTR.inputTokens, USAGE_ATTR.outputTokens, USAGE_ATTR.costUsd, USAGE_ATTR.outcome];
/** The wire name of each UsageRecord field, to name it in refusals as the sender wrote it. */
const WIRE_NAME: Readonly<Record<string, string>> = {
  ...Object.fromEntries(Object.entries(USAGE_ATTR)),
  tenant: ATTR.tenantId,
  timeMs: "time_unix_nano",
  traceId: "trace_id",
  spanId: "span_id",
};

/**
 * Authorizes and validates the log records of a decoded request as usage records. Guarantees: the
 * tenant of every row is decided by the key (a tenant key binds every record to its tenant and
 * refuses a record naming another; a service key may write only its allowed tenants); every row
 * meets usageRecordSchema, lies at most MAX_FUTURE_SKEW_MS ahead of `nowMs` and within its tenant's
 * retention, and carries that retention; every other log record is refused and counted by reason,
 * never silently dropped.
 */
export async function buildUsageRows(request: OtlpLogsRequest, principal: Principal, options: UsageRowsOptions): Promise<UsageRowsResult> {
  const rejected = new Map<UsageRejectReason, number>();
  const rejectGroups = new Map<string, UsageRejectGroup>();
  const reject = (reason: UsageRejectReason, example: string, group: string = reason): void => {
    rejected.set(reason, (rejected.get(reason) ?? 0) + 1);
    const existing = rejectGroups.get(group);
    if (existing) existing.count++;
    else rejectGroups.set(group, { reason, count: 1, example });
  };

  const candidates: { record: UsageRecord; serviceName: string }[] = [];
  for (const rl of request.resourceLogs) {
    const resource = readAttributes(rl.resourceAttributes, RESOURCE_SLOTS);
    const serviceNameValue = resource.values[SERVICE_NAME];
    const serviceName = typeof serviceNameValue === "string" && serviceNameValue !== "" ? serviceNameValue.slice(0, 256) : UNKNOWN_SERVICE;
    for (const logRecord of rl.logRecords) {
      const record = toUsageRecord(logRecord, resource, principal, options.limits, reject);
      if (!record) continue;
      if (record.timeMs > options.nowMs + MAX_FUTURE_SKEW_MS) {
        reject("time_in_future", `time_unix_nano ${new Date(record.timeMs).toISOString()} is more than ${MAX_FUTURE_SKEW_MS / 60_000} minutes ahead of the collector's clock`);
        continue;
      }
      candidates.push({ record, serviceName });
    }
  }

  const retention = new Map<string, number>();
  for (const { record } of candidates) {
    if (!retention.has(record.tenant)) retention.set(record.tenant, await options.retentionDaysOf(record.tenant));
  }
  const rows: UsageRecordRow[] = [];
  for (const { record, serviceName } of candidates) {
    const retentionDays = retention.get(record.tenant)!;
    if (record.timeMs < options.nowMs - retentionDays * DAY_MS) {
      reject("time_expired", `time_unix_nano ${new Date(record.timeMs).toISOString()} is older than the tenant's retention of ${retentionDays} days`);
      continue;
    }
    rows.push(usageRow(record, serviceName, retentionDays));
  }
  return { rows, rejected, rejectGroups };
}

/** The slot of each attribute usage ingest reads, in an AttributeIndex's values. */
const SLOT: ReadonlyMap<string, number> = new Map([...new Set([...USAGE_RECORD_ATTRIBUTES, ...USAGE_RESOURCE_ATTRIBUTES])].map((key, i) => [key, i]));
/** The slots of a record's and of a resource's attributes (the others are not read there). */
const RECORD_SLOTS: ReadonlyMap<string, number> = new Map([...USAGE_RECORD_ATTRIBUTES].map((key) => [key, SLOT.get(key)!]));
const RESOURCE_SLOTS: ReadonlyMap<string, number> = new Map([...USAGE_RESOURCE_ATTRIBUTES].map((key) => [key, SLOT.get(key)!]));
const ID = SLOT.get(USAGE_ATTR.id)!;
const TENANT = SLOT.get(ATTR.tenantId)!;
const AGENT_TYPE = SLOT.get(USAGE_ATTR.agentType)!;
const MODEL = SLOT.get(USAGE_ATTR.model)!;
const RESPONSE_MODEL = SLOT.get(USAGE_ATTR.responseModel)!;
const PROVIDER = SLOT.get(USAGE_ATTR.provider)!;
const INPUT_TOKENS = SLOT.get(USAGE_ATTR.inputTokens)!;
const OUTPUT_TOKENS = SLOT.get(USAGE_ATTR.outputTokens)!;
const CACHED_INPUT_TOKENS = SLOT.get(USAGE_ATTR.cachedInputTokens)!;
const REASONING_TOKENS = SLOT.get(USAGE_ATTR.reasoningTokens)!;
const COST_USD = SLOT.get(USAGE_ATTR.costUsd)!;
const OUTCOME = SLOT.get(USAGE_ATTR.outcome)!;
const USAGE_EXACT = SLOT.get(USAGE_ATTR.usageExact)!;
const LEDGER_ID = SLOT.get(USAGE_ATTR.ledgerId)!;
const EVENT_NAME = SLOT.get("event.name")!;
const SERVICE_NAME = SLOT.get("service.name")!;
const REQUIRED_SLOTS: readonly number[] = REQUIRED.map((key) => SLOT.get(key)!);

/** Attributes by slot (undefined: absent), and the first key given twice with different values. */
interface AttributeIndex {
  values: (OtlpAttributeValue | undefined)[];
  conflicting: string | undefined;
}

function readAttributes(list: readonly OtlpKeyValue[], slots: ReadonlyMap<string, number>): AttributeIndex {
  const values = new Array<OtlpAttributeValue | undefined>(SLOT.size);
  let conflicting: string | undefined;
  for (let i = 0; i < list.length; i++) {
    const { key, value } = list[i]!;
    const slot = slots.get(key);
    if (slot === undefined) continue;
    const seen = values[slot];
    if (seen === undefined) values[slot] = value;
    else if (!sameValue(seen, value)) conflicting ??= key;
  }
  return { values, conflicting };
}

function sameValue(a: OtlpAttributeValue, b: OtlpAttributeValue): boolean {
  return a === b || (typeof a === "object" && typeof b === "object" && JSON.stringify(a) === JSON.stringify(b));
}

type Reject = (reason: UsageRejectReason, example: string, group?: string) => void;

function refuseInvalid(reject: Reject, attribute: string, problem: string): undefined {
  reject("invalid_record", `${attribute} ${problem}`, `invalid_record ${attribute}`);
  return undefined;
}

/** The usage record a log record is, or undefined after telling `reject` why it is not one. */
function toUsageRecord(logRecord: OtlpLogRecord, resource: AttributeIndex, principal: Principal, limits: IngestLimits, reject: Reject): UsageRecord | undefined {
  const attrs = readAttributes(logRecord.attributes, RECORD_SLOTS);
  const v = attrs.values;
  if (logRecord.eventName !== USAGE_EVENT_NAME && v[EVENT_NAME] !== USAGE_EVENT_NAME) {
    const name = logRecord.eventName || (typeof v[EVENT_NAME] === "string" ? v[EVENT_NAME] : "");
    reject("not_usage", `a log record named ${JSON.stringify(name.slice(0, 64))} is not a usage record (${USAGE_EVENT_NAME}); /v1/logs stores usage records only`);
    return undefined;
  }
  if (logRecord.attributes.length + (logRecord.skippedAttributes ?? 0) > limits.maxAttributesPerSpan) {
    reject("too_many_attributes", `a log record has more than ${limits.maxAttributesPerSpan} attributes`);
    return undefined;
  }

  const recordTenant = v[TENANT];
  const resourceTenant = resource.values[TENANT];
  if (attrs.conflicting === ATTR.tenantId || resource.conflicting === ATTR.tenantId || (recordTenant !== undefined && resourceTenant !== undefined && recordTenant !== resourceTenant)) {
    reject("tenant_conflict", `a log record names two different tenants in ${ATTR.tenantId} (on the record twice, or on the record and its resource)`);
    return undefined;
  }
  const claimed = recordTenant ?? resourceTenant;
  if (claimed !== undefined && typeof claimed !== "string") {
    reject("invalid_tenant", `${ATTR.tenantId} must be a string`);
    return undefined;
  }
  const tenant = resolveTenant(principal, claimed, reject, "log record");
  if (tenant === null) return undefined;

  if (attrs.conflicting !== undefined) return refuseInvalid(reject, attrs.conflicting, "is given twice with different values");
  for (let i = 0; i < REQUIRED_SLOTS.length; i++) {
    const value = v[REQUIRED_SLOTS[i]!];
    if (value === undefined || value === null) return refuseInvalid(reject, REQUIRED[i]!, "is missing");
  }

  const checked = checkUsageRecord({
    id: v[ID],
    tenant,
    agentType: v[AGENT_TYPE] ?? "",
    model: v[MODEL],
    responseModel: v[RESPONSE_MODEL] ?? "",
    provider: v[PROVIDER],
    inputTokens: integer(v[INPUT_TOKENS]),
    outputTokens: integer(v[OUTPUT_TOKENS]),
    cachedInputTokens: integer(v[CACHED_INPUT_TOKENS] ?? 0),
    reasoningTokens: integer(v[REASONING_TOKENS] ?? 0),
    costUsd: double(v[COST_USD]),
    outcome: v[OUTCOME],
    usageExact: v[USAGE_EXACT] ?? true,
    timeMs: timeMsOf(logRecord.timeUnixNano),
    traceId: logRecord.traceId,
    spanId: logRecord.spanId,
    ledgerId: v[LEDGER_ID] ?? "",
  });
  if (!checked.ok) return refuseInvalid(reject, WIRE_NAME[checked.field] ?? checked.field, checked.message.slice(checked.field.length + 1));
  return checked.record;
}

/**
 * The row of a validated record, built field by field: the schema's output objects are slow to read
 * (a spread of one made every later pass over the rows, spool, dedup and encoding, several times
 * slower), and a literal gives every row one shape.
 */
function usageRow(r: UsageRecord, serviceName: string, retentionDays: number): UsageRecordRow {
  return {
    id: r.id,
    tenant: r.tenant,
    agentType: r.agentType,
    model: r.model,
    responseModel: r.responseModel,
    provider: r.provider,
    inputTokens: r.inputTokens,
    outputTokens: r.outputTokens,
    cachedInputTokens: r.cachedInputTokens,
    reasoningTokens: r.reasoningTokens,
    costUsd: r.costUsd,
    outcome: r.outcome,
    usageExact: r.usageExact,
    timeMs: r.timeMs,
    traceId: r.traceId,
    spanId: r.spanId,
    ledgerId: r.ledgerId,
    serviceName,
    retentionDays,
  };
}

/**
 * An int attribute as a number. Decoders give an int64 beyond 2^53 as its decimal text; read as a
 * number it is refused as too large rather than as a string. Other strings stay strings (refused).
 */
function integer(v: OtlpAttributeValue | undefined): unknown {
  return typeof v === "string" && /^-?\d{16,}$/.test(v) ? Number(v) : v;
}

/** A double attribute as a number: OTLP/JSON writes non-finite doubles as strings (then refused as not finite). */
function double(v: OtlpAttributeValue | undefined): unknown {
  return v === "NaN" || v === "Infinity" || v === "-Infinity" ? Number(v) : v;
}

/** Whole milliseconds of a decimal nanosecond time (exact: no detour through a double of the nanoseconds). */
function timeMsOf(unixNano: string): number {
  return unixNano.length <= 6 ? 0 : Number(unixNano.slice(0, -6));
}
