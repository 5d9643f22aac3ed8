import { CollectorError } from "../errors.js";
import type { ClickHouseGateway, QueryParams } from "../store/clickhouse-gateway.js";
import { clickHouseDateTimeToIso } from "../store/clickhouse-time.js";
import type { AttributeFilter, TraceDetailResponse, TraceSearchResponse, TraceSpan, TraceSummary, traceSearchQuery } from "@troupe/contract/query-api";
import type { z } from "zod";
import { tenantTraceIds } from "./linked-traces.js";
import { IS_LLM_SPAN_SQL, isLlmOperation } from "./llm-spans.js";
import { RANGE_SQL, rangeParams, type TimeRange } from "./request-params.js";
import { FINAL_SETTINGS_SQL, num, round } from "./span-sql.js";
import { decodeTraceCursor, encodeTraceCursor } from "./trace-cursor.js";
import { isInProgress, rootlessTraces } from "./trace-roots.js";
import { linkedTraceIds, SPAN_VIEW_COLUMNS_SQL, toTraceSpan, type SpanViewRow } from "./trace-span-view.js";

/**
 * Filters of a trace search, validated: the contract's search parameters as parsed, with the range
 * resolved, the page size defaulted and every `attr` parsed into a filter.
 */
export type TraceSearchFilters = Omit<z.output<typeof traceSearchQuery>, "tenant" | "from" | "to" | "attr" | "format" | "limit"> & {
  range: TimeRange;
  /** Traces with, for each filter, a span whose attribute has exactly that text (ANDed). */
  attributes?: readonly AttributeFilter[];
  limit: number;
};

/** The most spans returned for one trace. */
export const MAX_TRACE_SPANS = 10_000;

interface SummaryRow {
  trace_id: string;
  root_name: string;
  root_service: string;
  start_text: string;
  start_ns: string | number;
  duration_ms: number;
  span_count: number | string;
  error_count: number | string;
  agent_types: string[];
  has_root: number | string;
  input_tokens: number | string;
  output_tokens: number | string;
  cost_usd: number;
}

/**
 * Searches one tenant's traces among spans started in the range, newest first, with cursor
 * pagination. The tenant and every filter value are bound parameters; the SQL text only varies by
 * which fixed fragments are present. A trace is summarised from its spans within the range.
 */
export async function searchTraces(gateway: ClickHouseGateway, tenantId: string, f: TraceSearchFilters): Promise<TraceSearchResponse> {
  const params: Record<string, QueryParams[string]> = { tenant: tenantId, ...rangeParams(f.range), limit: f.limit + 1 };
  const having: string[] = [];
  if (f.agentType !== undefined) {
    having.push("countIf(agent_type = {agentType:String}) > 0");
    params.agentType = f.agentType;
  }
  if (f.operation !== undefined) {
    having.push("countIf(operation = {operation:String}) > 0");
    params.operation = f.operation;
  }
  if (f.status === "error") having.push("error_count > 0");
  if (f.status === "ok") having.push("error_count = 0");
  if (f.model !== undefined) {
    having.push("countIf(model = {model:String}) > 0");
    params.model = f.model;
  }
  // Keys and values are bound parameters (the key as a Map subscript), never spliced into the text.
  (f.attributes ?? []).forEach((a, i) => {
    having.push(`countIf(attributes[{attrKey${i}:String}] = {attrValue${i}:String}) > 0`);
    params[`attrKey${i}`] = a.key;
    params[`attrValue${i}`] = a.value;
  });
  if (f.minDurationMs !== undefined) {
    having.push("duration_ms >= {minDurationMs:Float64}");
    params.minDurationMs = f.minDurationMs;
  }
  if (f.maxDurationMs !== undefined) {
    having.push("duration_ms <= {maxDurationMs:Float64}");
    params.maxDurationMs = f.maxDurationMs;
  }
  if (f.q !== undefined) {
    // A literal, case-insensitive substring match: no pattern syntax to escape.
    having.push("countIf(positionCaseInsensitiveUTF8(name, {q:String}) > 0) > 0");
    params.q = f.q;
  }
  if (f.cursor !== undefined) {
    const c = decodeTraceCursor(f.cursor);
    having.push("(min(start_time), trace_id) < (fromUnixTimestamp64Nano(toInt64({cursorNs:String}), 'UTC'), {cursorTrace:String})");
    params.cursorNs = c.startNs;
    params.cursorTrace = c.traceId;
  }
  const sql = `
    SELECT
      trace_id,
      if(countIf(parent_span_id = '') > 0, argMinIf(name, start_time, parent_span_id = ''), argMin(name, start_time)) AS root_name,
      if(countIf(parent_span_id = '') > 0, argMinIf(service_name, start_time, parent_span_id = ''), argMin(service_name, start_time)) AS root_service,
      toString(min(start_time)) AS start_text,
      toString(toUnixTimestamp64Nano(min(start_time))) AS start_ns,
      (max(toUnixTimestamp64Nano(start_time) + toInt64(duration_ns)) - toUnixTimestamp64Nano(min(start_time))) / 1e6 AS duration_ms,
      count() AS span_count,
      countIf(status_code = 2) AS error_count,
      arraySort(groupUniqArrayIf(agent_type, agent_type != '')) AS agent_types,
      countIf(parent_span_id = '') > 0 AS has_root,
      sumIf(input_tokens, ${IS_LLM_SPAN_SQL}) AS input_tokens,
      sumIf(output_tokens, ${IS_LLM_SPAN_SQL}) AS output_tokens,
      sumIf(cost_usd, ${IS_LLM_SPAN_SQL}) AS cost_usd
    FROM spans FINAL
    WHERE tenant_id = {tenant:String} AND ${RANGE_SQL}
    GROUP BY trace_id
    ${having.length > 0 ? `HAVING ${having.join(" AND ")}` : ""}
    ORDER BY min(start_time) DESC, trace_id DESC
    LIMIT {limit:UInt32}
    ${FINAL_SETTINGS_SQL}`;
  const rows = await gateway.query<SummaryRow>(sql, params);
  const page = rows.slice(0, f.limit);
  const last = page[page.length - 1];
  const rootless = await rootlessTraces(gateway, tenantId, f.range, page.filter((r) => num(r.has_root) === 0).map((r) => r.trace_id));
  const traces: TraceSummary[] = page.map((r) => {
    const summary: TraceSummary = {
      traceId: r.trace_id,
      rootName: r.root_name,
      serviceName: r.root_service,
      startTime: clickHouseDateTimeToIso(r.start_text),
      durationMs: round(num(r.duration_ms)),
      spanCount: num(r.span_count),
      errorCount: num(r.error_count),
      agentTypes: r.agent_types,
      inputTokens: num(r.input_tokens),
      outputTokens: num(r.output_tokens),
      costUsd: round(num(r.cost_usd), 9),
      inProgress: rootless.get(r.trace_id)?.inProgress === true,
    };
    const found = rootless.get(r.trace_id);
    if (found && !found.inProgress && found.root) {
      // The root started before the range: name it, and time the trace from it.
      const endNs = BigInt(r.start_ns) + BigInt(Math.round(num(r.duration_ms) * 1e6));
      const lastEnd = endNs > found.root.endNs ? endNs : found.root.endNs;
      Object.assign(summary, { rootName: found.root.name, serviceName: found.root.serviceName, startTime: found.root.startTime, durationMs: round(Number(lastEnd - found.root.startNs) / 1e6) });
    }
    return summary;
  });
  return {
    tenantId,
    traces,
    nextCursor: rows.length > f.limit && last ? encodeTraceCursor({ startNs: String(last.start_ns), traceId: last.trace_id }) : null,
  };
}

/**
 * One trace of one tenant as a span tree (flat, depth-first), each span as it was sent (typed
 * attributes, scope, events, links). Throws not_found when the tenant has no span of that trace —
 * whether or not another tenant has one. A link is `sameTenant` when the tenant has spans of the
 * linked trace: one tenant-scoped lookup for all the trace's links.
 */
export async function getTrace(gateway: ClickHouseGateway, tenantId: string, traceId: string): Promise<TraceDetailResponse> {
  const rows = await gateway.query<SpanViewRow>(
    `SELECT ${SPAN_VIEW_COLUMNS_SQL}
     FROM spans FINAL
     WHERE tenant_id = {tenant:String} AND trace_id = {traceId:String}
     ORDER BY start_time, span_id
     LIMIT {limit:UInt32}
     ${FINAL_SETTINGS_SQL}`,
    { tenant: tenantId, traceId, limit: MAX_TRACE_SPANS },
  );
  if (rows.length === 0) throw new CollectorError("not_found", "trace not found");
  const linked = new Set(rows.flatMap((r) => (r.links === "" ? [] : linkedTraceIds(r))));
  linked.delete(traceId);
  const tenantTraces = linked.size > 0 ? await tenantTraceIds(gateway, tenantId, linked) : new Set<string>();
  tenantTraces.add(traceId);
  const spans = orderAsTree(rows.map((r) => toTraceSpan(r, tenantTraces)));
  const startNs = rows.reduce((m, r) => (BigInt(r.start_ns) < m ? BigInt(r.start_ns) : m), BigInt(rows[0]!.start_ns));
  const endNs = rows.reduce((m, r) => {
    const end = BigInt(r.start_ns) + BigInt(r.duration_ns);
    return end > m ? end : m;
  }, startNs);
  const first = rows.find((r) => BigInt(r.start_ns) === startNs)!;
  const llm = spans.filter((s) => isLlmOperation(s.operation));
  return {
    tenantId,
    traceId,
    startTime: clickHouseDateTimeToIso(first.start_text),
    durationMs: round(Number(endNs - startNs) / 1e6),
    spanCount: spans.length,
    errorCount: spans.filter((s) => s.statusCode === 2).length,
    inProgress: isInProgress(spans),
    llmCalls: llm.length,
    inputTokens: llm.reduce((n, s) => n + s.inputTokens, 0),
    outputTokens: llm.reduce((n, s) => n + s.outputTokens, 0),
    costUsd: round(llm.reduce((n, s) => n + s.costUsd, 0), 9),
    spans,
  };
}

/**
 * Depth-first order, parents before children, siblings by start time (the input order). Spans whose
 * parent is absent are roots. Cycles (malformed input) cannot loop: each span is placed once.
 */
export function orderAsTree(spans: TraceSpan[]): TraceSpan[] {
  const ids = new Set(spans.map((s) => s.spanId));
  const children = new Map<string, TraceSpan[]>();
  const roots: TraceSpan[] = [];
  for (const s of spans) {
    if (s.parentSpanId !== "" && s.parentSpanId !== s.spanId && ids.has(s.parentSpanId)) {
      const list = children.get(s.parentSpanId) ?? [];
      list.push(s);
      children.set(s.parentSpanId, list);
    } else roots.push(s);
  }
  const out: TraceSpan[] = [];
  const placed = new Set<string>();
  const stack: { span: TraceSpan; depth: number }[] = roots.reverse().map((span) => ({ span, depth: 0 }));
  const drain = () => {
    while (stack.length > 0) {
      const { span, depth } = stack.pop()!;
      if (placed.has(span.spanId)) continue;
      placed.add(span.spanId);
      out.push({ ...span, depth });
      const kids = children.get(span.spanId) ?? [];
      for (let i = kids.length - 1; i >= 0; i--) stack.push({ span: kids[i]!, depth: depth + 1 });
    }
  };
  drain();
  // Spans only reachable through a cycle: place them as roots.
  for (const s of spans) {
    if (!placed.has(s.spanId)) {
      stack.push({ span: s, depth: 0 });
      drain();
    }
  }
  return out;
}
