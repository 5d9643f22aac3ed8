import { AckPolicy, DeliverPolicy, DiscardPolicy, RetentionPolicy, StorageType, jetstream, jetstreamManager, type ConsumerConfig, type JetStreamManager } from "@nats-io/jetstream";
import { Kvm, type KV } from "@nats-io/kv";
import { nanos, type NatsConnection } from "@nats-io/transport-node";
import { InvalidArgumentError } from "../errors.js";
import type { ParsedDistributedOptions } from "./distributed-runtime-options.js";
import { rateBucketName } from "./kv-rate-limiter.js";
import { Subjects, parseNamespace } from "./subjects.js";

// A namespace's JetStream resources: its message stream (which records the partition count), the
// durable consumer of each partition, and the KV buckets its workers share.

/**
 * Creates the namespace's stream if missing (another worker creating it at the same time is fine)
 * and returns its partition count: `o.partitions`, else the stream's, else 16. InvalidArgumentError
 * when the stream records another count: every process of a namespace must use the same.
 */
export async function ensureStream(jsm: JetStreamManager, s: Subjects, o: ParsedDistributedOptions): Promise<number> {
  let info;
  try {
    info = await jsm.streams.info(s.streamName);
  } catch {
    info = null;
  }
  const partitions = o.partitions ?? partitionsIn(info?.config.description) ?? 16;
  const description = `troupe namespace ${s.namespace}; partitions=${partitions}`;
  if (info === null) {
    try {
      await jsm.streams.add({
        name: s.streamName,
        description,
        subjects: [s.allMessages],
        retention: RetentionPolicy.Workqueue,
        storage: o.storage === "memory" ? StorageType.Memory : StorageType.File,
        max_msgs_per_subject: o.maxQueuedPerTenantPartition,
        discard: DiscardPolicy.New,
        discard_new_per_subject: true,
        duplicate_window: nanos(120_000),
      });
    } catch (err) {
      // Another worker created it at the same time: fine when it matches (checked below).
      info = await jsm.streams.info(s.streamName).catch(() => {
        throw err;
      });
    }
  }
  if (info !== null && info.config.description !== description) {
    throw new InvalidArgumentError(`namespace "${s.namespace}" runs with a different partition count (stream says: ${info.config.description ?? "nothing"}); every process must use the same partitions`);
  }
  return partitions;
}

/** The partition count recorded in the namespace's stream (InvalidArgumentError when it cannot be read). */
export async function readPartitions(nc: NatsConnection, s: Subjects): Promise<number> {
  const info = await (await jetstreamManager(nc)).streams.info(s.streamName).catch((err: unknown) => {
    throw new InvalidArgumentError(`cannot read the partition count of namespace "${s.namespace}" (start a worker first, or set partitions): ${String(err)}`);
  });
  const n = partitionsIn(info.config.description);
  if (n === undefined) throw new InvalidArgumentError(`stream ${s.streamName} is not a Troupe namespace stream`);
  return n;
}

/** The durable consumer of partition `p`: explicit acks, `ackWaitMs`, at most `maxInFlightPerPartition` unacknowledged. */
export function consumerConfig(s: Subjects, o: ParsedDistributedOptions, p: number): Partial<ConsumerConfig> & { durable_name: string } {
  return {
    durable_name: `p${p}`,
    filter_subject: s.partition(p),
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(o.ackWaitMs),
    max_ack_pending: o.maxInFlightPerPartition,
    // One more than the limit: the delivery past it is the one that terminates the message and
    // answers its caller (the broker alone would stop delivering and leave the caller to time out).
    max_deliver: o.maxDeliver + 1,
  };
}

/** Deletes a namespace's stream and KV buckets (leases, attempts, in-flight shares, budgets, rates) (tests and teardown); missing ones are ignored. */
export async function deleteDistributedNamespace(nc: NatsConnection, namespace: string): Promise<void> {
  const s = new Subjects(parseNamespace(namespace));
  const jsm = await jetstreamManager(nc);
  await jsm.streams.delete(s.streamName).catch(() => false);
  await jsm.streams.delete(`KV_${s.leaseBucket}`).catch(() => false);
  await jsm.streams.delete(`KV_troupe_${s.namespace}_budgets`).catch(() => false);
  await jsm.streams.delete(`KV_${rateBucketName(s.namespace)}`).catch(() => false);
  await jsm.streams.delete(`KV_${s.attemptsBucket}`).catch(() => false);
  await jsm.streams.delete(`KV_${s.inFlightBucket}`).catch(() => false);
}

/** The lease bucket of a namespace, for tools that inspect placement (`readLeases`). */
export async function openLeaseBucket(nc: NatsConnection, namespace: string): Promise<KV> {
  const s = new Subjects(parseNamespace(namespace));
  return new Kvm(jetstream(nc)).open(s.leaseBucket);
}

/** The partition count a namespace's stream records in its description. */
export function partitionsIn(description: string | undefined): number | undefined {
  const m = /; partitions=(\d+)$/.exec(description ?? "");
  return m === null ? undefined : Number(m[1]);
}
