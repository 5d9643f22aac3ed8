import { AgentId, type TopicId } from "./ids.js";
import { InvalidArgumentError } from "../errors.js";

/**
 * Maps a topic to the agent that receives a published message. A subscription belongs to exactly
 * one scope (the whole runtime, applied per tenant, or one tenant) and never spans tenants: the
 * agent it maps to is always looked up in the publisher's tenant.
 */
export interface Subscription {
  /** A stable id, used to unsubscribe. */
  readonly id: string;
  /** True when the topic is delivered through this subscription. */
  matches(topic: TopicId): boolean;
  /** The agent that receives the message. Only called when `matches` is true. */
  mapToAgent(topic: TopicId): AgentId;
}

let nextId = 0;

/** Topic type `topicType` is delivered to agent type `agentType`, with key = topic source. */
export function typeSubscription(topicType: string, agentType: string): Subscription {
  checkNames(topicType, agentType);
  const id = `type:${topicType}->${agentType}#${nextId++}`;
  return {
    id,
    matches: (topic) => topic.type === topicType,
    mapToAgent: (topic) => new AgentId(agentType, topic.source),
  };
}

/** Topic types starting with `prefix` are delivered to agent type `agentType`, with key = topic source. */
export function prefixSubscription(prefix: string, agentType: string): Subscription {
  checkNames(prefix, agentType);
  const id = `prefix:${prefix}->${agentType}#${nextId++}`;
  return {
    id,
    matches: (topic) => topic.type.startsWith(prefix),
    mapToAgent: (topic) => new AgentId(agentType, topic.source),
  };
}

function checkNames(topic: string, agentType: string): void {
  if (typeof topic !== "string" || topic.length === 0) throw new InvalidArgumentError("subscription topic type or prefix must be a non-empty string");
  // Validates the agent type eagerly so a bad subscription fails where it is made.
  new AgentId(agentType, "_");
}
