import type { ClickHouseGateway } from "../store/clickhouse-gateway.js";

/**
 * Calls refused for budget (usage records with outcome budget_rejected) stored since `sinceMs`, per
 * tenant, of the given tenants (or all). Copies of a re-sent record may count twice: callers ask only
 * whether there was any.
 */
export async function budgetRejectionsSince(gateway: ClickHouseGateway, sinceMs: number, tenantIds?: readonly string[]): Promise<Map<string, number>> {
  const filter = tenantIds ? "AND tenant_id IN {tenants:Array(String)}" : "";
  const rows = await gateway.query<{ tenant_id: string; refused: number | string }>(
    `SELECT tenant_id, count() AS refused FROM usage_records
     WHERE outcome = 'budget_rejected' AND time >= fromUnixTimestamp64Milli({sinceMs:Int64}, 'UTC') ${filter}
     GROUP BY tenant_id`,
    { sinceMs, ...(tenantIds ? { tenants: [...tenantIds] } : {}) },
  );
  return new Map(rows.map((r) => [r.tenant_id, Number(r.refused)]));
}
