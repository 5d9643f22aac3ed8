import { InvalidArgumentError } from "../errors.js";

const TYPE_PATTERN = /^[A-Za-z][A-Za-z0-9_.-]{0,127}$/;
const MAX_KEY_LENGTH = 512;

function checkType(kind: string, value: unknown): string {
  if (typeof value !== "string" || !TYPE_PATTERN.test(value)) {
    throw new InvalidArgumentError(
      `${kind} must start with a letter and contain only letters, digits, "_", "." or "-" (1-128 characters); got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

function checkKey(kind: string, value: unknown): string {
  if (typeof value !== "string" || value.length === 0 || value.length > MAX_KEY_LENGTH) {
    throw new InvalidArgumentError(`${kind} must be a non-empty string of at most ${MAX_KEY_LENGTH} characters; got ${JSON.stringify(value)?.slice(0, 80)}`);
  }
  return value;
}

/**
 * The address of one agent inside a tenant: its registered type and an instance key. The tenant is
 * never part of an AgentId; it travels beside it as a separate principal.
 */
export class AgentId {
  readonly type: string;
  readonly key: string;

  constructor(type: string, key: string) {
    this.type = checkType("agent type", type);
    this.key = checkKey("agent key", key);
  }

  /** Two ids are equal when type and key are equal. */
  equals(other: AgentId): boolean {
    return this.type === other.type && this.key === other.key;
  }

  toString(): string {
    return `${this.type}/${this.key}`;
  }
}

/** A topic to publish to: its type (what subscriptions match) and its source (the key agents get). */
export class TopicId {
  readonly type: string;
  readonly source: string;

  constructor(type: string, source: string) {
    this.type = checkType("topic type", type);
    this.source = checkKey("topic source", source);
  }

  toString(): string {
    return `${this.type}/${this.source}`;
  }
}
