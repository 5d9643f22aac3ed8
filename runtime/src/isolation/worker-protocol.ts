/**
 * The messages between WorkerThreadTurnHost (main thread) and its workers. Defined once, used by
 * both sides. What a worker sends is validated on arrival: agent code runs in the worker and could
 * post anything on its port.
 */
import { z } from "zod";
import type { AgentModuleSpec } from "./hosted-agent.js";
import type { SerializedError } from "./remote-error.js";

/** Data a worker starts with. */
export interface WorkerBootData {
  /** tsx's ESM register API, when installed: the worker registers it before importing a `.ts` agent module. */
  tsxApiUrl?: string;
}

export type ToWorker =
  | {
      t: "turn";
      id: number;
      tenant: string;
      agentType: string;
      agentKey: string;
      /** Where to load the agent type from (the same for every turn of a type). */
      spec: Required<AgentModuleSpec>;
      message: unknown;
      deliveryId: string;
      hopCount: number;
      traceparent?: string;
      hasState: boolean;
      state?: unknown;
    }
  | { t: "abort"; id: number }
  | { t: "deactivate"; id: number; tenant: string; agentType: string; agentKey: string }
  | { t: "outbound-result"; id: number; ok: true; value: unknown }
  | { t: "outbound-result"; id: number; ok: false; error: SerializedError };

const serializedErrorSchema = z.object({
  name: z.string().max(256),
  message: z.string().max(64 * 1024),
  code: z.string().max(256).optional(),
  stack: z.string().max(256 * 1024).optional(),
});

const idSchema = z.number().int().nonnegative();
const resultSchema = (t: "turn-result" | "deactivate-result") =>
  z.discriminatedUnion("ok", [
    z.object({ t: z.literal(t), id: idSchema, ok: z.literal(true), value: z.unknown() }),
    z.object({ t: z.literal(t), id: idSchema, ok: z.literal(false), error: serializedErrorSchema }),
  ]);

/** Messages a worker may send; anything else is counted as a protocol violation and ignored. */
export const fromWorkerSchema = z.union([
  resultSchema("turn-result"),
  resultSchema("deactivate-result"),
  z.object({
    t: z.literal("outbound"),
    id: idSchema,
    turnId: idSchema,
    kind: z.enum(["send", "publish"]),
    to: z.union([
      z.object({ type: z.string(), key: z.string() }).strict(),
      z.object({ topicType: z.string(), topicSource: z.string() }).strict(),
    ]),
    message: z.unknown(),
    timeoutMs: z.number().positive().optional(),
  }),
]);

export type FromWorker = z.infer<typeof fromWorkerSchema>;
