import { jetstreamManager, type ConsumerInfo, type JetStreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { InvalidArgumentError, TroupeError } from "../errors.js";
import { openLeaseBucket, partitionsIn } from "./distributed-runtime.js";
import { readLeases } from "./partition-leases.js";
import { Subjects, parseNamespace } from "./subjects.js";

/** One partition of a namespace as the broker sees it now. */
export interface PartitionStatus {
  partition: number;
  /** The worker holding its lease, or null while none does (it then waits for one). */
  holder: string | null;
  /**
   * Messages stored and not yet delivered to its holder. While the partition has no consumer (no
   * worker has held it since the last hand-off), nothing of it is delivered: every stored message waits.
   */
  waiting: number;
  /** Messages delivered to its holder and not yet acknowledged (turns running or buffered). */
  inFlight: number | null;
  /** Messages of it delivered more than once under the current consumer (a worker died or stalled). */
  redelivered: number | null;
}

/** A snapshot of one namespace of a Troupe cluster: workers, partition placement and queues. */
export interface ClusterStatus {
  namespace: string;
  stream: string;
  storage: "file" | "memory";
  partitions: number;
  /** Messages in the stream: stored and not yet acknowledged by a worker. */
  messages: number;
  /**
   * Workers with a membership entry or a partition lease (a worker that died keeps both until the
   * lease TTL passes), each with the partitions it holds.
   */
  workers: Array<{ id: string; partitions: number[] }>;
  partitionStatus: PartitionStatus[];
}

/**
 * Reads the state of a namespace from the broker, for operators (`troupe cluster`): the live
 * workers, which one holds each partition, and each partition's waiting, in-flight and redelivered
 * messages. Read-only: it creates nothing, and tenant names never appear (subjects carry hashes).
 * `broker` is an open connection (left open) or the servers to connect to (connected and closed
 * here; an unreachable broker is a TroupeError BROKER_UNAVAILABLE). Throws InvalidArgumentError
 * when the namespace has no stream on the server.
 */
export async function inspectCluster(broker: NatsConnection | { servers: string | string[] }, namespace: string): Promise<ClusterStatus> {
  const s = new Subjects(parseNamespace(namespace));
  if (!("servers" in broker)) return inspect(broker, s);
  const servers = typeof broker.servers === "string" ? [broker.servers] : broker.servers;
  let nc: NatsConnection;
  try {
    nc = await connect({ servers, timeout: 5_000, reconnect: false, name: "troupe cluster status" });
  } catch (err) {
    throw new TroupeError("BROKER_UNAVAILABLE", `cannot reach NATS at ${servers.join(", ")}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  try {
    return await inspect(nc, s);
  } finally {
    await nc.close();
  }
}

async function inspect(nc: NatsConnection, s: Subjects): Promise<ClusterStatus> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(s.streamName).catch(() => null);
  const count = partitionsIn(info?.config.description);
  if (info === null || count === undefined) {
    throw new InvalidArgumentError(`no Troupe namespace "${s.namespace}" on this server (no stream ${s.streamName}); a worker creates it when it starts`);
  }
  // No lease bucket: no worker has finished starting, so no one is live and nothing is held.
  const leases = await openLeaseBucket(nc, s.namespace).catch(() => null);
  const { workers, owners } = leases === null ? { workers: [], owners: new Map<number, string>() } : await readLeases(leases);
  const consumers = await Promise.all(
    Array.from({ length: count }, (_, p) => jsm.consumers.info(s.streamName, `p${p}`).catch((): ConsumerInfo | null => null)),
  );
  const stored = consumers.includes(null) ? await storedPerPartition(jsm, s, count) : [];
  const partitionStatus = consumers.map((c, p) => ({
    partition: p,
    holder: owners.get(p) ?? null,
    waiting: c?.num_pending ?? stored[p] ?? 0,
    inFlight: c?.num_ack_pending ?? null,
    redelivered: c?.num_redelivered ?? null,
  }));
  const holders = new Set([...workers, ...owners.values()]);
  return {
    namespace: s.namespace,
    stream: s.streamName,
    storage: info.config.storage === "memory" ? "memory" : "file",
    partitions: count,
    messages: info.state.messages,
    workers: [...holders].sort().map((id) => ({ id, partitions: partitionStatus.filter((p) => p.holder === id).map((p) => p.partition) })),
    partitionStatus,
  };
}

/**
 * Messages stored per partition, from the stream's per-subject counts (subjects carry the partition;
 * work-queue retention removes a message once acknowledged). Read only when a partition has no
 * consumer to say how many of its messages wait: the list grows with partitions × tenants.
 */
async function storedPerPartition(jsm: JetStreamManager, s: Subjects, count: number): Promise<number[]> {
  const info = await jsm.streams.info(s.streamName, { subjects_filter: s.allMessages });
  const stored = new Array<number>(count).fill(0);
  for (const [subject, n] of Object.entries(info.state.subjects ?? {})) {
    const parsed = s.parseMessage(subject);
    if (parsed !== null && parsed.partition < count) stored[parsed.partition]! += n;
  }
  return stored;
}
