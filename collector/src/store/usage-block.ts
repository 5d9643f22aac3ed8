import { clampRetentionDays } from "./span-block.js";
import { LowCardinalityColumn, NativeFormatError, NativeWriter, decodeNativeBlocks } from "./native-block.js";
import type { UsageRecordRow } from "./usage-record-row.js";

/** The ClickHouse input format of usage blocks. */
export const USAGE_BLOCK_FORMAT = "Native";

/** The usage_records columns a usage block holds, with their exact table types (migrations 0004 and 0005). */
export const USAGE_BLOCK_COLUMNS: readonly (readonly [name: string, type: string])[] = [
  ["tenant_id", "LowCardinality(String)"],
  ["time", "DateTime64(3, 'UTC')"],
  ["record_id", "String"],
  ["agent_type", "LowCardinality(String)"],
  ["provider", "LowCardinality(String)"],
  ["model", "LowCardinality(String)"],
  ["response_model", "LowCardinality(String)"],
  ["outcome", "LowCardinality(String)"],
  ["input_tokens", "UInt64"],
  ["output_tokens", "UInt64"],
  ["cached_input_tokens", "UInt64"],
  ["reasoning_tokens", "UInt64"],
  ["cost_usd", "Float64"],
  ["usage_exact", "Bool"],
  ["trace_id", "String"],
  ["span_id", "String"],
  ["service_name", "LowCardinality(String)"],
  ["retention_days", "UInt16"],
  ["ledger_id", "LowCardinality(String)"],
];

/**
 * Encodes usage rows as one ClickHouse Native block for `usage_records`. Guarantees: the bytes
 * insert as they are into the table on both engines (the column types are the table's, so nothing
 * is converted or parsed as text), strings are carried exactly as UTF-8, times are whole
 * milliseconds (the column's precision; a fraction is truncated), token counts are the rows' whole
 * numbers and costs the rows' doubles bit for bit.
 */
export function encodeUsageBlock(rows: readonly UsageRecordRow[]): Buffer {
  const n = rows.length;
  const tenant = new LowCardinalityColumn();
  const agentType = new LowCardinalityColumn();
  const provider = new LowCardinalityColumn();
  const model = new LowCardinalityColumn();
  const responseModel = new LowCardinalityColumn();
  const outcome = new LowCardinalityColumn();
  const serviceName = new LowCardinalityColumn();
  const ledgerId = new LowCardinalityColumn();
  const time = new NativeWriter(n * 8 + 16);
  const id = new NativeWriter(n * 37 + 16);
  const inputTokens = new NativeWriter(n * 8 + 16);
  const outputTokens = new NativeWriter(n * 8 + 16);
  const cachedInputTokens = new NativeWriter(n * 8 + 16);
  const reasoningTokens = new NativeWriter(n * 8 + 16);
  const costUsd = new NativeWriter(n * 8 + 16);
  const usageExact = new NativeWriter(n + 16);
  const traceId = new NativeWriter(n * 33 + 16);
  const spanId = new NativeWriter(n * 17 + 16);
  const retentionDays = new NativeWriter(n * 2 + 16);
  // One pass, every column of a row at once (rows are read once, each field at a monomorphic site).
  for (let i = 0; i < n; i++) {
    const r = rows[i]!;
    tenant.add(r.tenant);
    const ms = Math.floor(r.timeMs);
    time.uint32Pair(ms % 0x1_0000_0000, Math.floor(ms / 0x1_0000_0000));
    id.string(r.id);
    agentType.add(r.agentType);
    provider.add(r.provider);
    model.add(r.model);
    responseModel.add(r.responseModel);
    outcome.add(r.outcome);
    inputTokens.uint64(r.inputTokens);
    outputTokens.uint64(r.outputTokens);
    cachedInputTokens.uint64(r.cachedInputTokens);
    reasoningTokens.uint64(r.reasoningTokens);
    costUsd.float64(r.costUsd);
    usageExact.uint8(r.usageExact ? 1 : 0);
    traceId.string(r.traceId);
    spanId.string(r.spanId);
    serviceName.add(r.serviceName);
    retentionDays.uint16(clampRetentionDays(r.retentionDays));
    // Rows spooled by a collector from before ledger ids carry none: replayed, they store "" (unknown).
    ledgerId.add(r.ledgerId ?? "");
  }
  // In USAGE_BLOCK_COLUMNS order.
  const columns: (LowCardinalityColumn | NativeWriter)[] = [
    tenant, time, id, agentType, provider, model, responseModel, outcome, inputTokens, outputTokens, cachedInputTokens,
    reasoningTokens, costUsd, usageExact, traceId, spanId, serviceName, retentionDays, ledgerId,
  ];
  let bytes = 64 * USAGE_BLOCK_COLUMNS.length;
  for (const c of columns) bytes += c instanceof LowCardinalityColumn ? c.maxDataBytes() : c.length;
  const out = new NativeWriter(bytes);
  out.varUInt(USAGE_BLOCK_COLUMNS.length);
  out.varUInt(n);
  columns.forEach((column, i) => {
    out.column(...USAGE_BLOCK_COLUMNS[i]!);
    if (column instanceof LowCardinalityColumn) {
      out.lowCardinalityPrefix();
      column.writeData(out);
    } else out.bytes(column.view());
  });
  return out.finish();
}

/**
 * The rows of one or more usage blocks, as `encodeUsageBlock` was given them (times in whole
 * milliseconds and retention within the column's range, as the encoder writes them). Throws
 * NativeFormatError on bytes that are not usage blocks.
 */
export function decodeUsageBlocks(payload: Buffer): UsageRecordRow[] {
  const rows: UsageRecordRow[] = [];
  for (const block of decodeNativeBlocks(payload)) {
    const [tenant, time, id, agentType, provider, model, responseModel, outcome, inputTokens, outputTokens, cachedInputTokens, reasoningTokens, costUsd, usageExact, traceId, spanId, serviceName, retentionDays, ledgerId] =
      USAGE_BLOCK_COLUMNS.map(([name, type], i) => {
        const column = block.columns[i];
        if (column?.name !== name || column.type !== type) throw new NativeFormatError(`a usage block without column ${name} ${type} in place ${i + 1}`);
        return column.values;
      }) as [string[], bigint[], string[], string[], string[], string[], string[], UsageRecordRow["outcome"][], bigint[], bigint[], bigint[], bigint[], number[], boolean[], string[], string[], string[], number[], string[]];
    for (let i = 0; i < block.rowCount; i++) {
      rows.push({
        id: id[i]!,
        tenant: tenant[i]!,
        agentType: agentType[i]!,
        model: model[i]!,
        responseModel: responseModel[i]!,
        provider: provider[i]!,
        inputTokens: Number(inputTokens[i]),
        outputTokens: Number(outputTokens[i]),
        cachedInputTokens: Number(cachedInputTokens[i]),
        reasoningTokens: Number(reasoningTokens[i]),
        costUsd: costUsd[i]!,
        outcome: outcome[i]!,
        usageExact: usageExact[i]!,
        timeMs: Number(time[i]),
        traceId: traceId[i]!,
        spanId: spanId[i]!,
        ledgerId: ledgerId[i]!,
        serviceName: serviceName[i]!,
        retentionDays: retentionDays[i]!,
      });
    }
  }
  return rows;
}
