import { ATTR } from "@troupe/contract";
import type { ClickHouseGateway } from "../store/clickhouse-gateway.js";
import { clickHouseDateTimeToIso } from "../store/clickhouse-time.js";
import type { ConversationSummary } from "@troupe/contract/query-api";
import { IS_LLM_SPAN_SQL } from "./llm-spans.js";
import { RANGE_SQL, rangeParams, type TimeRange } from "./request-params.js";
import { FINAL_SETTINGS_SQL, num, round } from "./span-sql.js";

interface ConversationRow {
  conversation_id: string;
  trace_count: number | string;
  first_text: string;
  last_text: string;
  agent_types: string[];
  llm_calls: number | string;
  input_tokens: number | string;
  output_tokens: number | string;
  cost_usd: number;
  error_count: number | string;
}

/**
 * One tenant's conversations with spans started in the range, most recently active first: spans
 * grouped by their `gen_ai.conversation.id` (only `conversationId`'s when given). Tenant, range,
 * id and limit are bound parameters. At most `limit` conversations; `truncated` says there were more.
 */
export async function listConversations(
  gateway: ClickHouseGateway,
  tenantId: string,
  range: TimeRange,
  limit: number,
  conversationId?: string,
): Promise<{ conversations: ConversationSummary[]; truncated: boolean }> {
  const rows = await gateway.query<ConversationRow>(
    `SELECT
       attributes[{conversationKey:String}] AS conversation_id,
       uniqExact(trace_id) AS trace_count,
       toString(min(start_time)) AS first_text,
       toString(fromUnixTimestamp64Nano(max(toUnixTimestamp64Nano(start_time) + toInt64(duration_ns)), 'UTC')) AS last_text,
       arraySort(groupUniqArrayIf(agent_type, agent_type != '')) AS agent_types,
       countIf(${IS_LLM_SPAN_SQL}) AS llm_calls,
       sumIf(input_tokens, ${IS_LLM_SPAN_SQL}) AS input_tokens,
       sumIf(output_tokens, ${IS_LLM_SPAN_SQL}) AS output_tokens,
       sumIf(cost_usd, ${IS_LLM_SPAN_SQL}) AS cost_usd,
       countIf(status_code = 2) AS error_count
     FROM spans FINAL
     WHERE tenant_id = {tenant:String} AND ${RANGE_SQL} AND ${conversationId === undefined ? "conversation_id != ''" : "conversation_id = {conversationId:String}"}
     GROUP BY conversation_id
     ORDER BY max(toUnixTimestamp64Nano(start_time) + toInt64(duration_ns)) DESC, conversation_id DESC
     LIMIT {limit:UInt32}
     ${FINAL_SETTINGS_SQL}`,
    { tenant: tenantId, conversationKey: ATTR.genAiConversationId, ...rangeParams(range), limit: limit + 1, ...(conversationId === undefined ? {} : { conversationId }) },
  );
  return {
    truncated: rows.length > limit,
    conversations: rows.slice(0, limit).map((r) => ({
      conversationId: r.conversation_id,
      traceCount: num(r.trace_count),
      firstTime: clickHouseDateTimeToIso(r.first_text),
      lastTime: clickHouseDateTimeToIso(r.last_text),
      agentTypes: r.agent_types,
      llmCalls: num(r.llm_calls),
      inputTokens: num(r.input_tokens),
      outputTokens: num(r.output_tokens),
      costUsd: round(num(r.cost_usd), 9),
      errorCount: num(r.error_count),
    })),
  };
}
