import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { AgentId } from "../agents/ids.js";
import { RuntimeStoppedError } from "../errors.js";
import type { TenantId } from "@troupe/contract";
import type { RuntimeTracing } from "../tracing/runtime-tracing.js";
import type { InFlightShares } from "./in-flight-shares.js";
import type { PartitionAttempts } from "./partition-attempts.js";
import type { PartitionLeases } from "./partition-leases.js";
import type { RoutedAgents } from "./routed-agent.js";
import { partitionOf, tenantToken, type Subjects } from "./subjects.js";

/**
 * What the parts of one DistributedRuntime share: the namespace's subjects, the tenant tokens and
 * partitions of agents (remembered for those seen lately), and what start() opens — the connection,
 * JetStream, tracing and, when serving, the leases, attempt counts and in-flight shares. Written only
 * by the DistributedRuntime's start() and stop(); null (or 0) before start.
 */
export class ClusterSession {
  running = false;
  nc: NatsConnection | null = null;
  js: JetStreamClient | null = null;
  jsm: JetStreamManager | null = null;
  tracing: RuntimeTracing | null = null;
  partitions = 0;
  routed: RoutedAgents | null = null;
  leases: PartitionLeases | null = null;
  attempts: PartitionAttempts | null = null;
  shares: InFlightShares | null = null;
  readonly #tokens = new Map<TenantId, string>();
  readonly #partitionCache = new Map<string, number>();

  constructor(readonly subjects: Subjects) {}

  /** RuntimeStoppedError unless started. */
  checkRunning(): void {
    if (!this.running) throw new RuntimeStoppedError("the distributed runtime is not started; call start() first");
  }

  /** The partition of an agent (`partitionOf`, a SHA-256 per call, remembered for the agents seen lately). */
  partitionFor(tenant: TenantId, to: AgentId): number {
    const key = `${tenant}\u0000${to.type}\u0000${to.key}`;
    let p = this.#partitionCache.get(key);
    if (p === undefined) {
      p = partitionOf(tenant, to.type, to.key, this.partitions);
      if (this.#partitionCache.size >= 100_000) this.#partitionCache.clear();
      this.#partitionCache.set(key, p);
    }
    return p;
  }

  /** The tenant's token in subjects (a hash: subjects never carry tenant text). */
  token(tenant: TenantId): string {
    let t = this.#tokens.get(tenant);
    if (t === undefined) {
      t = tenantToken(this.subjects.namespace, tenant);
      if (this.#tokens.size >= 100_000) this.#tokens.clear();
      this.#tokens.set(tenant, t);
    }
    return t;
  }
}
