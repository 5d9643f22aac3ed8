import { jetstream, jetstreamManager, type ConsumerInfo } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_ATTEMPT_RANGES, PartitionAttempts } from "./partition-attempts.js";

const bucket = `troupe_attempts-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6).toString(36)}`;
let nc: NatsConnection;
let attempts: PartitionAttempts;

const consumer = (ackFloor: number, delivered: number): Pick<ConsumerInfo, "delivered" | "ack_floor"> => ({
  ack_floor: { consumer_seq: 0, stream_seq: ackFloor, last_active: 0 },
  delivered: { consumer_seq: 0, stream_seq: delivered, last_active: 0 },
});

beforeAll(async () => {
  nc = await connect({ servers: "127.0.0.1:4222" });
  attempts = new PartitionAttempts(await new Kvm(jetstream(nc)).create(bucket, { history: 1 }));
});

afterAll(async () => {
  await (await jetstreamManager(nc)).streams.delete(`KV_${bucket}`).catch(() => false);
  await nc.close();
});

describe("PartitionAttempts", () => {
  it("counts one delivery per unclean take-over for each message the previous consumer left unacknowledged", async () => {
    expect((await attempts.takeOver(0, null)).of(5)).toBe(0);
    // The first holder delivered up to 10 with everything to 4 acknowledged, and died.
    await attempts.takeOver(0, consumer(4, 10));
    // The second delivered up to 12 (5..10 again, then 11, 12) with 6 acknowledged, and died.
    const prior = await attempts.takeOver(0, consumer(6, 12));
    expect([4, 7, 8, 10, 11, 12, 13].map((s) => prior.of(s))).toEqual([0, 2, 2, 2, 1, 1, 0]);
    // A clean hand-off (the consumer was deleted) adds nothing; another partition is separate.
    expect((await attempts.takeOver(0, null)).of(7)).toBe(2);
    expect((await attempts.takeOver(1, null)).of(7)).toBe(0);
  });

  it("drops ranges below the previous consumer's ack floor, and keeps a bounded number", async () => {
    await attempts.takeOver(2, consumer(0, 10));
    const pruned = await attempts.takeOver(2, consumer(10, 20));
    expect(pruned.ranges).toEqual([[10, 20]]);
    let last = pruned;
    for (let i = 0; i < MAX_ATTEMPT_RANGES + 5; i++) last = await attempts.takeOver(2, consumer(10, 30 + i));
    expect(last.ranges).toHaveLength(MAX_ATTEMPT_RANGES);
    expect(last.of(25)).toBe(MAX_ATTEMPT_RANGES);
  });
});
