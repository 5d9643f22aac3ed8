import type { ClickHouseGateway } from "../store/clickhouse-gateway.js";
import { clickHouseDateTimeToIso } from "../store/clickhouse-time.js";
import { num } from "./span-sql.js";

/**
 * OTLP span flags bits 8 and 9: the sender knew whether the parent was remote, and it was. A span
 * with a remote parent is where this service's part of a trace begins.
 */
const REMOTE_PARENT_FLAGS = 0x300;

/** How far before a range a root is looked for when a trace has spans in the range but not its root. */
export const ROOT_LOOKBACK_MS = 24 * 3600_000;

/**
 * Whether a trace is still in progress, from its spans: it has no root (a span without a parent)
 * and some span's parent is missing although that parent is local (not remote). Spans are exported
 * when they end and a parent ends after its children, so a missing local parent is one still
 * running. A trace continued from a service that does not send here (every missing parent remote)
 * is complete.
 */
export function isInProgress(spans: readonly { spanId: string; parentSpanId: string; flags: number }[]): boolean {
  const ids = new Set(spans.map((s) => s.spanId));
  if (spans.some((s) => s.parentSpanId === "")) return false;
  return spans.some((s) => !ids.has(s.parentSpanId) && (s.flags & REMOTE_PARENT_FLAGS) !== REMOTE_PARENT_FLAGS);
}

/** The root of a trace that started before the searched range. */
export interface EarlierRoot {
  name: string;
  serviceName: string;
  startTime: string;
  startNs: bigint;
  endNs: bigint;
}

/** What a trace without a root in the searched range turned out to be. */
export type RootlessTrace = { inProgress: true } | { inProgress: false; root: EarlierRoot | null };

interface RootRow {
  trace_id: string;
  has_root: number | string;
  parents_present: number | string;
  root_name: string;
  root_service: string;
  root_start_text: string;
  root_start_ns: string;
  root_duration_ns: string | number;
}

/**
 * Decides, for traces that have spans in the range but no root there, which are in progress (the
 * rule of `isInProgress`), reading the tenant's spans of those traces from ROOT_LOOKBACK_MS before
 * the range to its end: a root found before the range is returned, so the list names the real root.
 * One tenant-scoped query on the sort key's (tenant, hour) prefix; ids are a bound array parameter.
 */
export async function rootlessTraces(
  gateway: ClickHouseGateway,
  tenantId: string,
  range: { fromMs: number; toMs: number },
  traceIds: readonly string[],
): Promise<Map<string, RootlessTrace>> {
  const out = new Map<string, RootlessTrace>();
  if (traceIds.length === 0) return out;
  const rows = await gateway.query<RootRow>(
    `SELECT
       trace_id,
       countIf(parent_span_id = '') > 0 AS has_root,
       hasAll(groupArray(span_id), groupArrayIf(parent_span_id, parent_span_id != '' AND bitAnd(flags, ${REMOTE_PARENT_FLAGS}) != ${REMOTE_PARENT_FLAGS})) AS parents_present,
       argMinIf(name, start_time, parent_span_id = '') AS root_name,
       argMinIf(service_name, start_time, parent_span_id = '') AS root_service,
       toString(minIf(start_time, parent_span_id = '')) AS root_start_text,
       toString(toUnixTimestamp64Nano(minIf(start_time, parent_span_id = ''))) AS root_start_ns,
       argMinIf(duration_ns, start_time, parent_span_id = '') AS root_duration_ns
     FROM spans
     WHERE tenant_id = {tenant:String} AND trace_id IN {ids:Array(String)}
       AND start_time >= fromUnixTimestamp64Milli({lookbackFromMs:Int64}, 'UTC') AND start_time < fromUnixTimestamp64Milli({toMs:Int64}, 'UTC')
     GROUP BY trace_id`,
    { tenant: tenantId, ids: [...traceIds], lookbackFromMs: Math.max(0, range.fromMs - ROOT_LOOKBACK_MS), toMs: range.toMs },
  );
  for (const r of rows) {
    if (num(r.has_root) > 0) {
      const startNs = BigInt(r.root_start_ns);
      out.set(r.trace_id, {
        inProgress: false,
        root: { name: r.root_name, serviceName: r.root_service, startTime: clickHouseDateTimeToIso(r.root_start_text), startNs, endNs: startNs + BigInt(r.root_duration_ns) },
      });
    } else out.set(r.trace_id, num(r.parents_present) > 0 ? { inProgress: false, root: null } : { inProgress: true });
  }
  return out;
}
