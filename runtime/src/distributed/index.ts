// @troupe/runtime/distributed: the runtime across processes over NATS JetStream — the runtime
// itself, ledgers and rate limits shared by its workers, per-tenant broker permissions, cluster
// status — and the placement functions that cluster tools and tests use to predict it.

/** A runtime whose agents are partitioned across worker processes over NATS JetStream. */
export { DistributedRuntime, deleteDistributedNamespace } from "./distributed-runtime.js";
export type { DistributedRuntimeOptions, DistributedStats } from "./distributed-runtime.js";

/** Budgets and rate limits shared by every worker of a namespace, kept in JetStream KV. */
export { KvBudgetLedger, budgetBucketName } from "./kv-budget-ledger.js";
export type { KvBudgetLedgerOptions } from "./kv-budget-ledger.js";
export { KvRateLimiter, rateBucketName } from "./kv-rate-limiter.js";
export type { RateLimit, KvRateLimiterOptions, KvRateLimiterStats } from "./kv-rate-limiter.js";

/** Broker permissions that confine a tenant-scoped NATS user to its own tenant's subjects. */
export { tenantPermissions, tenantToken } from "./subjects.js";
export type { NatsPermissions } from "./subjects.js";

/** Who serves what: the live workers and partition holders of a namespace. */
export { inspectCluster } from "./cluster-status.js";
export type { ClusterStatus, PartitionStatus } from "./cluster-status.js";

/**
 * Placement: the partition of an agent, the worker that should own a partition, and the leases as
 * stored. For cluster tooling and tests that check where work lands; not needed to run a cluster.
 */
export { partitionOf } from "./subjects.js";
export { openLeaseBucket } from "./distributed-runtime.js";
export { readLeases, rendezvousOwner, placePartitions } from "./partition-leases.js";
