import type { ClickHouseGateway } from "../store/clickhouse-gateway.js";

/**
 * Trace ids per lookup query. The ids travel as one Array(String) parameter, which a server takes
 * in the URL (1 MiB at most by default): 1,000 ids are about 36 KB.
 */
const TRACE_IDS_PER_QUERY = 1_000;

const TRACE_ID = /^[0-9a-f]{32}$/;

/**
 * Which of `traceIds` the tenant has spans of. Every query is scoped to the tenant, so the answer
 * says nothing of other tenants: another tenant's trace is absent exactly like a trace that does not
 * exist. Ids that are not 32 lowercase hex characters are never looked up (and never present).
 */
export async function tenantTraceIds(gateway: ClickHouseGateway, tenantId: string, traceIds: Iterable<string>): Promise<Set<string>> {
  const wanted = [...new Set(traceIds)].filter((id) => TRACE_ID.test(id));
  const found = new Set<string>();
  for (let i = 0; i < wanted.length; i += TRACE_IDS_PER_QUERY) {
    const rows = await gateway.query<{ trace_id: string }>(
      "SELECT DISTINCT trace_id FROM spans WHERE tenant_id = {tenant:String} AND trace_id IN {ids:Array(String)}",
      { tenant: tenantId, ids: wanted.slice(i, i + TRACE_IDS_PER_QUERY) },
    );
    for (const r of rows) found.add(r.trace_id);
  }
  return found;
}
