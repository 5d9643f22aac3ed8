import { z } from "zod";
import {
  AbortedError,
  BudgetExceededError,
  BudgetLedgerUnavailableError,
  CrossTenantError,
  HandlerError,
  InvalidArgumentError,
  LlmProviderError,
  LoopDetectedError,
  MessageDroppedError,
  PoisonMessageError,
  QueueFullError,
  RateLimitedError,
  RuntimeStoppedError,
  StateIntegrityError,
  TimeoutError,
  TroupeError,
  UnknownAgentTypeError,
  WorkerCrashedError,
  WorkerTierFullError,
} from "../errors.js";

/** Header names of a Troupe message on NATS (besides W3C `traceparent`, `tracestate`, `baggage`). */
export const HEADER = {
  tenant: "Troupe-Tenant",
  /** How the message travels (`encodeRoute`): its hop count, its caller's deadline and where its reply goes. */
  route: "Troupe-Route",
  /** On a dead letter: the deliveries it had. */
  attempts: "Troupe-Attempts",
  /** On a dead letter: its stream sequence (the delivery id's number). */
  sequence: "Troupe-Sequence",
} as const;

/** How a message travels, besides its tenant. */
export interface Route {
  /** Handler-to-handler hops so far (0 from an ingress). */
  hop: number;
  /** When its caller stops waiting (ms since the epoch); absent on a publish. */
  deadline: number | undefined;
  /** Where the worker sends the reply to a call (a subject naming the caller and the call); absent on a publish. */
  replyTo: string | undefined;
}

/** The `Troupe-Route` header value: `<hop> <deadline or -> <reply subject or ->` (one header, not three: each costs the client library a validation pass). */
export function encodeRoute(route: Route): string {
  return `${route.hop} ${route.deadline ?? "-"} ${route.replyTo ?? "-"}`;
}

const ROUTE = /^(\d{1,9}) (-|\d{1,16}) (\S{1,512})$/;

/** Parses a `Troupe-Route` header value; null when it is not one (the reply subject is checked by the worker). */
export function parseRoute(value: string): Route | null {
  const m = ROUTE.exec(value);
  if (m === null) return null;
  return { hop: Number(m[1]), deadline: m[2] === "-" ? undefined : Number(m[2]), replyTo: m[3] === "-" ? undefined : m[3] };
}

const idSchema = z.object({ t: z.string(), k: z.string() });

/**
 * The body of a message to one agent (JSON). The agent's type and key travel in the body, never in a
 * subject; the tenant travels in a header and is checked against the subject's tenant token.
 */
export const MessageBodySchema = z.object({
  /** Recipient type and key. */
  t: z.string(),
  k: z.string(),
  /** The payload (absent when it was undefined: JSON drops it). */
  m: z.unknown().optional(),
  /** Sender agent, when a handler sent it. */
  s: idSchema.optional(),
  /** Topic type and source, when it was published. */
  p: z.object({ t: z.string(), s: z.string() }).optional(),
});
export type MessageBody = z.infer<typeof MessageBodySchema>;

const wireErrorSchema = z.object({
  code: z.string(),
  name: z.string(),
  message: z.string(),
  tenant: z.string().optional(),
  agent: z.string().optional(),
  limit: z.number().optional(),
  retryAfterMs: z.number().optional(),
  cause: z.object({ name: z.string(), message: z.string() }).optional(),
});
type WireError = z.infer<typeof wireErrorSchema>;

/** A reply to one call (JSON): the handler's result or a typed error. */
export const ReplyBodySchema = z.union([z.object({ ok: z.literal(true), v: z.unknown().optional() }), z.object({ ok: z.literal(false), e: wireErrorSchema })]);
export type ReplyBody = z.infer<typeof ReplyBodySchema>;

/** An error as it travels in a reply: code, name and message survive, and the fields typed errors carry. */
export function toWireError(error: unknown): WireError {
  if (!(error instanceof Error)) return { code: "HANDLER_ERROR", name: "HandlerError", message: String(error) };
  const code = error instanceof TroupeError ? error.code : "INTERNAL";
  const out: WireError = { code, name: error.name, message: error.message };
  const e = error as unknown as Record<string, unknown>;
  if (typeof e.tenant === "string") out.tenant = e.tenant;
  if (typeof e.agent === "string") out.agent = e.agent;
  if (typeof e.maxQueuedMessages === "number") out.limit = e.maxQueuedMessages;
  if (typeof e.maxTenants === "number") out.limit = e.maxTenants;
  if (typeof e.attempts === "number") out.limit = e.attempts;
  if (typeof e.retryAfterMs === "number") out.retryAfterMs = e.retryAfterMs;
  if (error.cause instanceof Error) out.cause = { name: error.cause.name, message: error.cause.message };
  return out;
}

/** Rebuilds the typed error of a reply, so a remote failure reads like a local one (same class and code). */
export function fromWireError(e: WireError): TroupeError {
  let err: TroupeError;
  switch (e.code) {
    case "TIMEOUT":
      err = new TimeoutError(e.message);
      break;
    case "ABORTED":
      err = new AbortedError(e.message);
      break;
    case "INVALID_ARGUMENT":
      err = new InvalidArgumentError(e.message);
      break;
    case "UNKNOWN_AGENT_TYPE":
      err = new UnknownAgentTypeError(/"([^"]*)"/.exec(e.message)?.[1] ?? "");
      break;
    case "CROSS_TENANT":
      err = new CrossTenantError(e.message);
      break;
    case "QUEUE_FULL":
      err = new QueueFullError(e.tenant ?? "", e.limit ?? 0);
      break;
    case "RATE_LIMITED":
      err = new RateLimitedError(e.tenant ?? "", e.message, e.retryAfterMs);
      break;
    case "HANDLER_ERROR": {
      const cause = new Error(e.cause?.message ?? e.message);
      cause.name = e.cause?.name ?? "Error";
      err = new HandlerError(e.agent ?? "", cause);
      break;
    }
    case "LOOP_DETECTED":
      err = new LoopDetectedError(0, 0);
      break;
    case "RUNTIME_STOPPED":
      err = new RuntimeStoppedError(e.message);
      break;
    case "MESSAGE_DROPPED":
      err = new MessageDroppedError(e.message);
      break;
    case "WORKER_CRASHED":
      err = new WorkerCrashedError(e.message);
      break;
    case "WORKER_TIER_FULL":
      err = new WorkerTierFullError(e.tenant ?? "", e.limit ?? 0);
      break;
    case "BUDGET_EXCEEDED":
      err = new BudgetExceededError(e.tenant ?? "", e.message);
      break;
    case "BUDGET_LEDGER_UNAVAILABLE":
      err = new BudgetLedgerUnavailableError(e.tenant ?? "", e.message);
      break;
    case "LLM_PROVIDER_ERROR":
      err = new LlmProviderError(e.message);
      break;
    case "STATE_INTEGRITY":
      err = new StateIntegrityError(e.message);
      break;
    case "POISON_MESSAGE":
      err = new PoisonMessageError(e.agent ?? "", e.limit ?? 0);
      break;
    default:
      err = new TroupeError(e.code, e.message);
  }
  err.message = e.message;
  return err;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** JSON bytes of a value; InvalidArgumentError when it cannot be serialized (cycles, BigInt). */
export function encodeJson(value: unknown, what: string): Uint8Array {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (err) {
    throw new InvalidArgumentError(`${what} must be JSON-serializable to cross workers: ${err instanceof Error ? err.message : String(err)}`);
  }
  return encoder.encode(text ?? "null");
}

/**
 * Parses a message body (the shape of MessageBodySchema); null when the bytes are not one. Checked
 * by hand: it runs for every message a worker takes, and must agree with the schema.
 */
export function decodeMessageBody(bytes: Uint8Array): MessageBody | null {
  const raw = parseJson(bytes) as Record<string, unknown> | undefined;
  if (raw === null || typeof raw !== "object" || Array.isArray(raw) || typeof raw.t !== "string" || typeof raw.k !== "string") return null;
  const body: MessageBody = { t: raw.t, k: raw.k, m: raw.m };
  if (raw.s !== undefined) {
    const sender = raw.s as Record<string, unknown> | null;
    if (sender === null || typeof sender !== "object" || typeof sender.t !== "string" || typeof sender.k !== "string") return null;
    body.s = { t: sender.t, k: sender.k };
  }
  if (raw.p !== undefined) {
    const topic = raw.p as Record<string, unknown> | null;
    if (topic === null || typeof topic !== "object" || typeof topic.t !== "string" || typeof topic.s !== "string") return null;
    body.p = { t: topic.t, s: topic.s };
  }
  return body;
}

/** Parses a reply body (the shape of ReplyBodySchema); null when the bytes are not one. A success is checked by hand (every call), an error by the schema. */
export function decodeReplyBody(bytes: Uint8Array): ReplyBody | null {
  const raw = parseJson(bytes) as Record<string, unknown> | undefined;
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) return null;
  if (raw.ok === true) return raw.v === undefined ? { ok: true } : { ok: true, v: raw.v };
  const parsed = ReplyBodySchema.safeParse(raw);
  return parsed.success ? parsed.data : null;
}

function parseJson(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(decoder.decode(bytes));
  } catch {
    return undefined;
  }
}

/** The broker's answer to a message published onto a stream (the parts read here: its refusal). */
export const brokerAckSchema = z.object({
  stream: z.string().optional(),
  seq: z.number().optional(),
  error: z.object({ code: z.number().optional(), description: z.string().optional() }).optional(),
});

const ERROR_KEY = encoder.encode('"error"');

/** True when JSON bytes contain the key "error" (a broker refusal): a stored message's answer is not parsed at all. */
export function mentionsError(bytes: Uint8Array): boolean {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).indexOf(ERROR_KEY) >= 0;
}

/** Parses JSON bytes against a schema; null when they are not valid. */
export function decodeJson<T>(bytes: Uint8Array, schema: z.ZodType<T>): T | null {
  let raw: unknown;
  try {
    raw = JSON.parse(decoder.decode(bytes));
  } catch {
    return null;
  }
  const parsed = schema.safeParse(raw);
  return parsed.success ? parsed.data : null;
}
