import type { SendOptions } from "./agent.js";
import { AgentId, TopicId } from "./ids.js";
import type { Subscription } from "./subscription.js";
import { InvalidArgumentError } from "../errors.js";

// The checks every runtime (single-process and distributed) applies to what callers pass to send,
// publish and subscribe, so both refuse the same input with the same error and message.

/** Accepts an AgentId or a plain { type, key } (as worker-hosted agents pass), validated; InvalidArgumentError otherwise. */
export function toAgentId(v: unknown): AgentId {
  if (v instanceof AgentId) return v;
  const o = v as { type?: unknown; key?: unknown } | null;
  if (o === null || typeof o !== "object" || typeof o.type !== "string" || typeof o.key !== "string") {
    throw new InvalidArgumentError("send target must be an AgentId (or { type, key })");
  }
  return new AgentId(o.type, o.key);
}

/** Accepts a TopicId or a plain { type, source }, validated; InvalidArgumentError otherwise. */
export function toTopicId(v: unknown): TopicId {
  if (v instanceof TopicId) return v;
  const o = v as { type?: unknown; source?: unknown } | null;
  if (o === null || typeof o !== "object" || typeof o.type !== "string" || typeof o.source !== "string") {
    throw new InvalidArgumentError("publish target must be a TopicId (or { type, source })");
  }
  return new TopicId(o.type, o.source);
}

/** The value when it is already an AgentId, else null (never throws: for naming a refused target in a span). */
export function toAgentIdOrNull(v: unknown): AgentId | null {
  return v instanceof AgentId ? v : null;
}

/** Throws InvalidArgumentError unless `s` has an id, matches(topic) and mapToAgent(topic). */
export function checkSubscription(s: Subscription): void {
  if (s === null || typeof s !== "object" || typeof s.matches !== "function" || typeof s.mapToAgent !== "function" || typeof s.id !== "string") {
    throw new InvalidArgumentError("a subscription needs an id, matches(topic) and mapToAgent(topic); use typeSubscription() or prefixSubscription()");
  }
}

/** The problem with a send's options (not an object, a bad timeoutMs or signal), or null when they are valid. */
export function badSendOptions(options: SendOptions): InvalidArgumentError | null {
  if (options === null || typeof options !== "object") return new InvalidArgumentError("send options must be an object");
  const { timeoutMs, signal } = options;
  if (timeoutMs !== undefined && (typeof timeoutMs !== "number" || !(timeoutMs > 0) || timeoutMs > 2_147_483_647)) {
    return new InvalidArgumentError(`timeoutMs must be a positive number of milliseconds; got ${String(timeoutMs)}`);
  }
  if (signal !== undefined && !(signal instanceof AbortSignal)) return new InvalidArgumentError("signal must be an AbortSignal");
  return null;
}

/** Validates a send's options (InvalidArgumentError as badSendOptions) and returns its timeout: its own, else `defaultTimeoutMs`. */
export function checkSendOptions(options: SendOptions | undefined, defaultTimeoutMs: number): number {
  if (options === undefined) return defaultTimeoutMs;
  const bad = badSendOptions(options);
  if (bad !== null) throw bad;
  return options.timeoutMs ?? defaultTimeoutMs;
}

/** Names a send or publish target in an error message ("agent type/key", "topic type/source"). */
export function describe(target: AgentId | TopicId): string {
  return target instanceof AgentId ? `agent ${target.toString()}` : `topic ${target.toString()}`;
}
