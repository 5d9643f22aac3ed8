import type { ClickHouseGateway } from "../store/clickhouse-gateway.js";
import type { SamplingInForce } from "./api-types.js";
import { RANGE_SQL, rangeParams, type TimeRange } from "./request-params.js";
import { num } from "./span-sql.js";

/** The attribute a kept trace's root span carries: the sampling ratio its tenant was kept at. */
export const SAMPLING_RATIO_ATTRIBUTE = "troupe.sampling.ratio";

/** Most distinct ratios reported for one range (a ratio changes only when an operator edits it). */
const MAX_RATIOS = 20;

/**
 * The trace sampling ratios in force for one tenant over the range: the distinct
 * `troupe.sampling.ratio` values of root spans (no parent) started in it, a root span without the
 * attribute (or with an unreadable one) counting as 1. No root span at all reads as unsampled.
 * Reads without FINAL: a re-sent copy of a span carries the same ratio, and DISTINCT keeps one.
 */
export async function samplingInForce(gateway: ClickHouseGateway, tenantId: string, range: TimeRange): Promise<SamplingInForce> {
  const rows = await gateway.query<{ ratio: number | string }>(
    `SELECT DISTINCT if(isFinite(r) AND r > 0 AND r < 1, r, 1) AS ratio
     FROM (
       SELECT toFloat64OrZero(attributes['${SAMPLING_RATIO_ATTRIBUTE}']) AS r
       FROM spans
       WHERE tenant_id = {tenant:String} AND ${RANGE_SQL} AND parent_span_id = ''
     )
     ORDER BY ratio
     LIMIT ${MAX_RATIOS}`,
    { tenant: tenantId, ...rangeParams(range) },
  );
  const ratios = rows.map((r) => num(r.ratio));
  if (ratios.length === 0) return { ratios: [1], sampled: false };
  return { ratios, sampled: ratios[0]! < 1 };
}
