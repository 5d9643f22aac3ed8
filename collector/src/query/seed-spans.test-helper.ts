import { randomBytes } from "node:crypto";
import type { AttributeTypes } from "../store/attribute-types.js";
import { plainSpanFields, type SpanRow } from "../store/span-row.js";

/** Options of one synthetic agent turn (tests only). */
export interface TurnSpec {
  tenantId: string;
  agentType: string;
  startMs: number;
  durationMs: number;
  outcome?: string;
  model?: string;
  inputTokens?: number;
  outputTokens?: number;
  costUsd?: number;
  /** Name of the root span; default `process <agentType>`. */
  name?: string;
  queueWaitMs?: number;
  handlerWallMs?: number;
  llmError?: boolean;
  /** Omit the LLM call (e.g. a rejected turn). */
  noLlm?: boolean;
}

/** A random lowercase hex id of `bytes` bytes. */
export function hexId(bytes: number): string {
  return randomBytes(bytes).toString("hex");
}

/**
 * Attribute text and types of a span's values as the OpenTelemetry JS SDK exports them: numbers
 * as `int` when integral and `double` otherwise, booleans as `bool`, strings untyped.
 */
function sdkAttributes(values: Record<string, string | number | boolean>): Pick<SpanRow, "attributes" | "attributeTypes"> {
  const attributes: Record<string, string> = {};
  const attributeTypes: AttributeTypes = {};
  for (const [key, value] of Object.entries(values)) {
    attributes[key] = String(value);
    if (typeof value === "boolean") attributeTypes[key] = "bool";
    else if (typeof value === "number") attributeTypes[key] = Number.isInteger(value) ? "int" : "double";
  }
  return { attributes, attributeTypes };
}

function nanos(ms: number): string {
  return (BigInt(Math.round(ms * 1000)) * 1000n).toString();
}

/** One trace as the runtime emits it: a turn span and, unless `noLlm`, a child chat span. */
export function turnTrace(spec: TurnSpec): { traceId: string; rows: SpanRow[] } {
  const traceId = hexId(16);
  const rootId = hexId(8);
  const outcome = spec.outcome ?? "ok";
  const rows: SpanRow[] = [
    {
      tenantId: spec.tenantId,
      traceId,
      spanId: rootId,
      parentSpanId: "",
      name: spec.name ?? `process ${spec.agentType}`,
      kind: 5,
      startTimeUnixNano: nanos(spec.startMs),
      durationNs: spec.durationMs * 1e6,
      statusCode: outcome === "ok" ? 1 : 2,
      serviceName: "svc",
      resourceAttributes: { "service.name": "svc" },
      ...plainSpanFields(),
      ...sdkAttributes({
        "troupe.tenant.id": spec.tenantId,
        "troupe.agent.type": spec.agentType,
        "troupe.turn.outcome": outcome,
        "troupe.queue.wait_ms": spec.queueWaitMs ?? 1,
        "troupe.handler.wall_ms": spec.handlerWallMs ?? spec.durationMs,
        "messaging.operation.name": "process",
      }),
    },
  ];
  if (!spec.noLlm) {
    rows.push({
      tenantId: spec.tenantId,
      traceId,
      spanId: hexId(8),
      parentSpanId: rootId,
      name: `chat ${spec.model ?? "gpt-4o"}`,
      kind: 3,
      startTimeUnixNano: nanos(spec.startMs + 1),
      durationNs: Math.max(1, spec.durationMs - 2) * 1e6,
      statusCode: spec.llmError ? 2 : 0,
      serviceName: "svc",
      resourceAttributes: { "service.name": "svc" },
      ...plainSpanFields(),
      ...sdkAttributes({
        "troupe.tenant.id": spec.tenantId,
        "troupe.agent.type": spec.agentType,
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": spec.model ?? "gpt-4o",
        "gen_ai.usage.input_tokens": spec.inputTokens ?? 100,
        "gen_ai.usage.output_tokens": spec.outputTokens ?? 20,
        "troupe.llm.cost_usd": spec.costUsd ?? 0.001,
      }),
    });
  }
  return { traceId, rows };
}
