/**
 * The usage-record contract shared by the runtime (which emits records) and the collector (which
 * stores and reports them). One record per LLM call attempt, whatever the trace's sampling, so that
 * billing never depends on which traces were kept. Records travel as OTLP log records on
 * `POST /v1/logs`, one log record per usage record:
 * - `event_name` (LogRecord field 12) is USAGE_EVENT_NAME; exporters that cannot set it may send the
 *   attribute `event.name` with the same value instead;
 * - `time_unix_nano` is when the call started;
 * - `trace_id` / `span_id` are the call's `chat` span when it was traced (empty otherwise);
 * - every other field is an attribute named in USAGE_ATTR, with the OTLP type given there;
 * - there is no body: a usage record is metadata only, never a prompt or a completion (the
 *   OpenTelemetry JS JSON encoder writes an empty AnyValue, `"body": {}`, which means none).
 */
import { z } from "zod";
import { ATTR } from "./telemetry-attributes.js";
import { isTenantId } from "./tenant-id.js";

/** The OTLP log record event name of a usage record. */
export const USAGE_EVENT_NAME = "troupe.llm.usage";

/** How an LLM call attempt ended. */
export const USAGE_OUTCOMES = ["ok", "error", "budget_rejected", "rate_limited", "timeout"] as const;
/** One of USAGE_OUTCOMES. */
export type UsageOutcome = (typeof USAGE_OUTCOMES)[number];

/** Attribute names of a usage log record, with their OTLP value type. */
export const USAGE_ATTR = {
  /** string: the record's stable id (a UUID), the same across export retries and re-sends. */
  id: "troupe.usage.id",
  /** string */
  tenantId: ATTR.tenantId,
  /** string; may be absent when the caller named no agent. */
  agentType: ATTR.agentType,
  /** string: the requested model (what prices are written against). */
  model: ATTR.genAiRequestModel,
  /** string; may be absent (the call failed before an answer). */
  responseModel: ATTR.genAiResponseModel,
  /** string: `gen_ai.provider.name`. */
  provider: ATTR.genAiProvider,
  /** int */
  inputTokens: ATTR.genAiInputTokens,
  /** int */
  outputTokens: ATTR.genAiOutputTokens,
  /** int; absent when the provider reported none (read as 0). Part of inputTokens, not in addition. */
  cachedInputTokens: "gen_ai.usage.cache_read.input_tokens",
  /** int; absent when the provider reported none (read as 0). Part of outputTokens, not in addition. */
  reasoningTokens: "troupe.llm.reasoning_tokens",
  /**
   * double: what the call was charged, in US dollars. The OpenTelemetry JS encoders send a whole
   * amount (0 for every refused or failed call) as an int, so a receiver reads either type.
   */
  costUsd: ATTR.llmCostUsd,
  /** string: one of USAGE_OUTCOMES. */
  outcome: "troupe.llm.outcome",
  /** bool; absent means true: false when the provider reported no usage and the estimate was charged. */
  usageExact: "troupe.llm.usage_exact",
  /**
   * string; absent means "": the id of the budget ledger that charged the call (BudgetLedger.id). A
   * runtime reading its tenants' usage so far leaves out its own ledger's records, which that ledger
   * already counts, and adds everyone else's (other processes, and its own earlier incarnations).
   */
  ledgerId: "troupe.budget.ledger_id",
} as const;

/** A usage record as the runtime builds it and the collector stores it. */
export interface UsageRecord {
  /** Stable id (UUID, lower case). */
  readonly id: string;
  readonly tenant: string;
  /** The calling agent type; "" when the caller named none. */
  readonly agentType: string;
  readonly model: string;
  /** The model the provider answered with; "" when there was no answer. */
  readonly responseModel: string;
  readonly provider: string;
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly cachedInputTokens: number;
  readonly reasoningTokens: number;
  readonly costUsd: number;
  readonly outcome: UsageOutcome;
  /** False when the provider reported no usage and the reservation's estimate was charged. */
  readonly usageExact: boolean;
  /** When the call started, in milliseconds since the epoch (fractions allowed). */
  readonly timeMs: number;
  /** The call's span when it was traced (32 and 16 lower-case hex digits), else "". */
  readonly traceId: string;
  readonly spanId: string;
  /** The budget ledger that charged the call (BudgetLedger.id); "" when unknown. */
  readonly ledgerId: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const tokens = z.number({ error: "must be a number" }).int("must be a whole number").min(0, "must not be negative").max(Number.MAX_SAFE_INTEGER, "is too large");
const label = z.string().max(256, "must be at most 256 characters");

/**
 * The rules every stored usage record meets; a record that breaks one is refused and the error
 * names the field (`issues[0].path`). Times are checked by the receiver, which knows its clock.
 */
export const usageRecordSchema = z.object({
  id: z.string({ error: "is missing" }).transform((s) => s.toLowerCase()).refine((s) => UUID.test(s), "must be a UUID"),
  tenant: z.string({ error: "is missing" }).refine(isTenantId, "is not a valid tenant id"),
  agentType: label,
  model: label.min(1, "is missing"),
  responseModel: label,
  provider: label.min(1, "is missing"),
  inputTokens: tokens,
  outputTokens: tokens,
  cachedInputTokens: tokens,
  reasoningTokens: tokens,
  costUsd: z.number({ error: "must be a finite number" }).min(0, "must not be negative"),
  outcome: z.enum(USAGE_OUTCOMES, { error: `must be one of ${USAGE_OUTCOMES.join(", ")}` }),
  usageExact: z.boolean(),
  timeMs: z.number({ error: "must be a finite time" }).positive("must be after 1970"),
  traceId: z.string().regex(/^(|[0-9a-f]{32})$/, "must be 32 hex digits or empty"),
  spanId: z.string().regex(/^(|[0-9a-f]{16})$/, "must be 16 hex digits or empty"),
  ledgerId: label,
});

/**
 * Checks a record against usageRecordSchema: the record (id in lower case, unknown fields left
 * out), or the first problem with its field named. A valid record is checked by a hand-written
 * predicate that accepts exactly what the schema accepts (a property test holds the two together)
 * at a tenth of its cost; the schema itself runs only to name what is wrong.
 */
export function checkUsageRecord(input: unknown): { ok: true; record: UsageRecord } | { ok: false; field: string; message: string } {
  const fast = validUsageRecord(input);
  if (fast !== undefined) return { ok: true, record: fast };
  const parsed = usageRecordSchema.safeParse(input);
  if (parsed.success) return { ok: true, record: parsed.data };
  const issue = parsed.error.issues[0]!;
  const field = issue.path.join(".") || "(record)";
  return { ok: false, field, message: `${field} ${issue.message}` };
}

const OUTCOMES: ReadonlySet<unknown> = new Set(USAGE_OUTCOMES);
const TRACE_ID = /^[0-9a-f]{32}$/;
const SPAN_ID = /^[0-9a-f]{16}$/;

const isTokens = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const isLabel = (v: unknown): v is string => typeof v === "string" && v.length <= 256;

/** The record when `input` meets every rule of usageRecordSchema, else undefined (see checkUsageRecord). */
function validUsageRecord(input: unknown): UsageRecord | undefined {
  if (typeof input !== "object" || input === null) return undefined;
  const r = input as Record<string, unknown>;
  const { id, tenant, agentType, model, responseModel, provider, inputTokens, outputTokens, cachedInputTokens, reasoningTokens, costUsd, outcome, usageExact, timeMs, traceId, spanId, ledgerId } = r;
  if (typeof id !== "string") return undefined;
  const lowerId = id.toLowerCase();
  if (!UUID.test(lowerId) || !isTenantId(tenant)) return undefined;
  if (!isLabel(agentType) || !isLabel(model) || model.length === 0 || !isLabel(responseModel) || !isLabel(provider) || provider.length === 0) return undefined;
  if (!isTokens(inputTokens) || !isTokens(outputTokens) || !isTokens(cachedInputTokens) || !isTokens(reasoningTokens)) return undefined;
  if (typeof costUsd !== "number" || !Number.isFinite(costUsd) || costUsd < 0) return undefined;
  if (!OUTCOMES.has(outcome) || typeof usageExact !== "boolean") return undefined;
  if (typeof timeMs !== "number" || !Number.isFinite(timeMs) || timeMs <= 0) return undefined;
  if (typeof traceId !== "string" || (traceId !== "" && !TRACE_ID.test(traceId))) return undefined;
  if (typeof spanId !== "string" || (spanId !== "" && !SPAN_ID.test(spanId))) return undefined;
  if (!isLabel(ledgerId)) return undefined;
  return { id: lowerId, tenant, agentType, model, responseModel, provider, inputTokens, outputTokens, cachedInputTokens, reasoningTokens, costUsd, outcome: outcome as UsageOutcome, usageExact, timeMs, traceId, spanId, ledgerId };
}
