import { createHash } from "node:crypto";
import { InvalidArgumentError } from "../errors.js";
import type { TenantId } from "@troupe/contract";

const NAMESPACE_PATTERN = /^[a-z0-9][a-z0-9_-]{0,31}$/;

/**
 * Validates a deployment namespace: it names the stream, the KV buckets and the first subject
 * tokens, so processes with the same namespace form one cluster. Lowercase letters, digits, "_" and
 * "-", 1-32 characters.
 */
export function parseNamespace(value: unknown): string {
  if (typeof value !== "string" || !NAMESPACE_PATTERN.test(value)) {
    throw new InvalidArgumentError(
      `namespace must be 1-32 lowercase letters, digits, "_" or "-", starting with a letter or digit; got ${JSON.stringify(value)?.slice(0, 80)}`,
    );
  }
  return value;
}

/**
 * The subject token of a tenant: a hash, so no raw tenant text ever appears in a subject, and a
 * tenant's subjects can be granted to it (and only it) by broker permissions.
 */
export function tenantToken(namespace: string, tenant: TenantId): string {
  return createHash("sha256").update(`troupe-tenant\0${namespace}\0${tenant}`).digest("hex").slice(0, 20);
}

/** The partition an agent lives on: a hash of (tenant, type, key), stable for a fixed partition count. */
export function partitionOf(tenant: TenantId, type: string, key: string, partitions: number): number {
  const h = createHash("sha256").update(tenant).update("\0").update(type).update("\0").update(key).digest();
  return h.readUInt32BE(0) % partitions;
}

/**
 * The subjects of one namespace:
 * - `troupe.<ns>.m.<partition>.<tenant token>`: messages to agents (the JetStream stream's subjects);
 * - `troupe.<ns>.r.<tenant token>.<caller id>.<call>`: the reply to one call (core NATS), and
 *   `….<call>.a` the broker's acknowledgement that it stored the call's message;
 * - `troupe.<ns>.i.<tenant token>.>`: the inbox prefix of a tenant-scoped client (JetStream acks);
 * - `troupe.<ns>.d.<partition>.<tenant token>`: dead letters, messages given up after too many
 *   deliveries (core NATS: seen only by whoever subscribes when it happens).
 */
export class Subjects {
  /** The JetStream stream holding every message of the namespace. */
  readonly streamName: string;

  constructor(readonly namespace: string) {
    this.streamName = `TROUPE_${namespace.replace(/-/g, "_").toUpperCase()}`;
  }

  /** The KV bucket of partition leases and worker membership. */
  get leaseBucket(): string {
    return `troupe_${this.namespace}_leases`;
  }

  /** The KV bucket of deliveries made under earlier holdings of each partition (PartitionAttempts). */
  get attemptsBucket(): string {
    return `troupe_${this.namespace}_attempts`;
  }

  /** The KV bucket of the workers' shares of each tenant's cluster-wide in-flight quota (InFlightShares). */
  get inFlightBucket(): string {
    return `troupe_${this.namespace}_inflight`;
  }

  /** The stream's subject filter. */
  get allMessages(): string {
    return `troupe.${this.namespace}.m.>`;
  }

  message(partition: number, tenantTok: string): string {
    return `troupe.${this.namespace}.m.${partition}.${tenantTok}`;
  }

  /** The filter of one partition's consumer (every tenant of that partition). */
  partition(partition: number): string {
    return `troupe.${this.namespace}.m.${partition}.*`;
  }

  /** Where a message given up after too many deliveries is announced (headers and body as it was sent). */
  deadLetter(partition: number, tenantTok: string): string {
    return `troupe.${this.namespace}.d.${partition}.${tenantTok}`;
  }

  /** Where the reply to one call goes; the broker's acknowledgement of its message goes to `<this>.a`. */
  callReply(tenantTok: string, callerId: string, call: string): string {
    return `troupe.${this.namespace}.r.${tenantTok}.${callerId}.${call}`;
  }

  /** Every reply (and acknowledgement) to one caller of one tenant. */
  replies(tenantTok: string, callerId: string): string {
    return `troupe.${this.namespace}.r.${tenantTok}.${callerId}.>`;
  }

  /** Every reply (and acknowledgement) to one caller, whatever the tenant (a multi-tenant caller). */
  repliesTo(callerId: string): string {
    return `troupe.${this.namespace}.r.*.${callerId}.>`;
  }

  /** Parses a reply subject into its tenant token, call and whether it is the broker's acknowledgement; null when it is not one. */
  parseReply(subject: string): { tenantTok: string; call: string; brokerAck: boolean } | null {
    const parts = subject.split(".");
    if (parts.length < 6 || parts.length > 7 || parts[0] !== "troupe" || parts[1] !== this.namespace || parts[2] !== "r") return null;
    if (parts.length === 7 && parts[6] !== "a") return null;
    return { tenantTok: parts[3]!, call: parts[5]!, brokerAck: parts.length === 7 };
  }

  inboxPrefix(tenantTok: string): string {
    return `troupe.${this.namespace}.i.${tenantTok}`;
  }

  /** Parses a message subject into its partition and tenant token; null when it is not one. */
  parseMessage(subject: string): { partition: number; tenantTok: string } | null {
    const parts = subject.split(".");
    if (parts.length !== 5 || parts[0] !== "troupe" || parts[1] !== this.namespace || parts[2] !== "m") return null;
    const partition = Number(parts[3]);
    if (!Number.isInteger(partition) || partition < 0) return null;
    return { partition, tenantTok: parts[4]! };
  }
}

/** NATS permissions for one user (the shape of a nats-server `authorization.users[].permissions`). */
export interface NatsPermissions {
  publish: { allow: string[] };
  subscribe: { allow: string[] };
}

/**
 * The broker permissions of a client that acts for one tenant only (an ingress of that tenant): it
 * may publish messages to that tenant's agents on any partition and receive that tenant's replies,
 * and nothing else; the broker refuses any other tenant's subjects. The client must connect with
 * `inboxPrefix` = `Subjects.inboxPrefix(token)` (DistributedRuntime does when `tenants` has one entry).
 */
export function tenantPermissions(namespace: string, tenant: TenantId): NatsPermissions {
  const s = new Subjects(parseNamespace(namespace));
  const tok = tenantToken(s.namespace, tenant);
  return {
    publish: { allow: [`troupe.${s.namespace}.m.*.${tok}`] },
    subscribe: { allow: [`troupe.${s.namespace}.r.${tok}.>`, `${s.inboxPrefix(tok)}.>`] },
  };
}
