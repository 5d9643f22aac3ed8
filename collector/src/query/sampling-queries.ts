import type { ClickHouseGateway } from "../store/clickhouse-gateway.js";
import type { SamplingInForce } from "@troupe/contract/query-api";
import { RollupPlan } from "../rollups/rollup-plan.js";
import { SPAN_ROLLUP } from "../rollups/span-rollup.js";
import type { TimeRange } from "./request-params.js";
import { num } from "./span-sql.js";

/** The attribute a kept trace's root span carries: the sampling ratio its tenant was kept at (span rollups read it too). */
export const SAMPLING_RATIO_ATTRIBUTE = "troupe.sampling.ratio";

/** Most distinct ratios reported for one range (a ratio changes only when an operator edits it). */
const MAX_RATIOS = 20;

/**
 * The trace sampling ratios in force for one tenant over the range: the distinct
 * `troupe.sampling.ratio` values of root spans (no parent) started in it, a root span without the
 * attribute (or with an unreadable one) counting as 1. No root span at all reads as unsampled.
 * Read through span rollups (their `root_ratio`); `plan` reuses a span plan of the same tenant and
 * range made with hours.
 */
export async function samplingInForce(gateway: ClickHouseGateway, tenantId: string, range: TimeRange, plan?: RollupPlan): Promise<SamplingInForce> {
  const spans = plan ?? (await RollupPlan.make(gateway, SPAN_ROLLUP, { tenantId }, range, { hours: true }));
  const rollup = spans.rows(["root_ratio"], { hours: true });
  const rows = await gateway.query<{ ratio: number | string }>(
    `SELECT DISTINCT r.root_ratio AS ratio
     FROM ${rollup.sql}
     WHERE r.root_ratio > 0
     ORDER BY ratio
     LIMIT ${MAX_RATIOS}
     ${SPAN_ROLLUP.finalSettingsSql}`,
    rollup.params,
  );
  return samplingOf(rows.map((r) => num(r.ratio)));
}

/** The sampling in force, given the distinct ratios of the root spans of a range (none: unsampled). */
export function samplingOf(rootRatios: readonly number[]): SamplingInForce {
  const ratios = [...new Set(rootRatios)].sort((a, b) => a - b).slice(0, MAX_RATIOS);
  if (ratios.length === 0) return { ratios: [1], sampled: false };
  return { ratios, sampled: ratios[0]! < 1 };
}
