import type { UsageOutcome, UsageRecord } from "@troupe/contract";
import { CollectorError } from "../errors.js";
import { RETRIES_REACH_VIEWS, type ClickHouseGateway, type InsertOptions } from "./clickhouse-gateway.js";
import { USAGE_BLOCK_COLUMNS, USAGE_BLOCK_FORMAT, encodeUsageBlock } from "./usage-block.js";
import type { UsageRecordRow } from "./usage-record-row.js";
import type { UsageKey, UsageStore } from "./usage-store.js";

const DAY_MS = 86_400_000;
const USAGE_INSERT_COLUMN_NAMES = USAGE_BLOCK_COLUMNS.map(([name]) => name);
/** A batch holds no two rows with the same key (the writer sees to it): the replacing merge at insert would only cost time. */
const USAGE_INSERT_SETTINGS: InsertOptions["settings"] = { optimize_on_insert: 0, ...RETRIES_REACH_VIEWS };

/**
 * Ids per lookup query. The ids travel as one query parameter: a server takes parameters in the
 * URL (1 MiB at most by default), chDB in memory (where one query reads the days once).
 */
const LOOKUP_IDS_PER_QUERY = { server: 5_000, chdb: 100_000 } as const;

// Ids are bound as one comma-separated String: ClickHouse binds a String parameter several times
// faster than an Array(String) of the same ids, and a lookup can carry 50,000 of them. Record ids
// are UUIDs (usageRecordSchema), which never contain a comma. The split goes through a subquery so
// that IN builds a hash set: over the bare array expression it compared every row with every id.
const LOOKUP_SQL = `
  SELECT tenant_id, record_id, toString(toUnixTimestamp64Milli(time)) AS time_ms, agent_type, provider, model, response_model,
    outcome, toString(input_tokens) AS input_tokens, toString(output_tokens) AS output_tokens,
    toString(cached_input_tokens) AS cached_input_tokens, toString(reasoning_tokens) AS reasoning_tokens, cost_usd, usage_exact, trace_id, span_id, ledger_id
  FROM usage_records
  WHERE tenant_id IN {tenants:Array(String)}
    AND toStartOfDay(time) IN {days:Array(DateTime('UTC'))}
    AND record_id IN (SELECT arrayJoin(splitByChar(',', {ids:String})))`;

interface StoredRow {
  tenant_id: string;
  record_id: string;
  time_ms: string;
  agent_type: string;
  provider: string;
  model: string;
  response_model: string;
  outcome: string;
  input_tokens: string;
  output_tokens: string;
  cached_input_tokens: string;
  reasoning_tokens: string;
  cost_usd: number;
  usage_exact: boolean;
  trace_id: string;
  span_id: string;
  ledger_id: string;
}

/**
 * The UsageStore on ClickHouse (chDB or a server, through the gateway). Rows travel as Native blocks
 * (encoded once, read by the engine without parsing text); the dedup token is the insert
 * deduplication token; lookups read only the keys' tenants and days (the table's sort key) and
 * pass every value as a bound parameter. It does not close the shared gateway.
 */
export function createClickHouseUsageStore(gateway: ClickHouseGateway): UsageStore {
  const idsPerQuery = LOOKUP_IDS_PER_QUERY[gateway.engine];
  return {
    async findStored(keys: readonly UsageKey[]): Promise<UsageRecord[]> {
      const found: UsageRecord[] = [];
      for (let start = 0; start < keys.length; start += idsPerQuery) {
        const chunk = keys.slice(start, start + idsPerQuery);
        const tenants = new Set<string>();
        const days = new Set<number>();
        const ids: string[] = [];
        for (const k of chunk) {
          if (k.id.includes(",")) throw new CollectorError("internal", "a usage record id contains a comma");
          tenants.add(k.tenant);
          const day = Math.floor(k.timeMs / DAY_MS) * 86_400;
          days.add(day - 86_400).add(day).add(day + 86_400);
          ids.push(k.id);
        }
        const rows = await gateway.query<StoredRow>(LOOKUP_SQL, {
          tenants: [...tenants],
          days: [...days].filter((d) => d >= 0),
          ids: ids.join(","),
        });
        for (const r of rows) found.push(recordOf(r));
      }
      return found;
    },

    async insertUsage(rows: readonly UsageRecordRow[], dedupToken: string, blocks?: readonly Buffer[]): Promise<void> {
      if (rows.length === 0) return;
      await gateway.insertFormatted(
        "usage_records",
        { format: USAGE_BLOCK_FORMAT, columns: USAGE_INSERT_COLUMN_NAMES, payload: blocks ?? encodeUsageBlock(rows) },
        { dedupToken, settings: USAGE_INSERT_SETTINGS },
      );
    },

    async ping(): Promise<void> {
      await gateway.query("SELECT 1 AS ok");
    },
  };
}

function recordOf(r: StoredRow): UsageRecord {
  return {
    id: r.record_id,
    tenant: r.tenant_id,
    agentType: r.agent_type,
    model: r.model,
    responseModel: r.response_model,
    provider: r.provider,
    inputTokens: Number(r.input_tokens),
    outputTokens: Number(r.output_tokens),
    cachedInputTokens: Number(r.cached_input_tokens),
    reasoningTokens: Number(r.reasoning_tokens),
    costUsd: Number(r.cost_usd),
    outcome: r.outcome as UsageOutcome,
    usageExact: Boolean(r.usage_exact),
    timeMs: Number(r.time_ms),
    traceId: r.trace_id,
    spanId: r.span_id,
    ledgerId: r.ledger_id,
  };
}
