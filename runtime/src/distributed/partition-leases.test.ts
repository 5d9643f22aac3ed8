import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { connect } from "@nats-io/transport-node";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { PartitionLeases, placePartitions, rendezvousOwner } from "./partition-leases.js";

describe("placePartitions", () => {
  it("gives every worker floor or ceil of its share, deterministically whatever the member order", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 128 }), fc.uniqueArray(fc.stringMatching(/^[a-z0-9-]{1,12}$/), { minLength: 1, maxLength: 12 }), (partitions, members) => {
        const plan = placePartitions(partitions, members);
        expect(plan).toHaveLength(partitions);
        const load = new Map<string, number>();
        for (const o of plan) {
          expect(members).toContain(o);
          load.set(o, (load.get(o) ?? 0) + 1);
        }
        const base = Math.floor(partitions / members.length);
        for (const m of members) expect([base, base + 1]).toContain(load.get(m) ?? 0);
        expect(placePartitions(partitions, [...members].reverse())).toEqual(plan);
        // rendezvousOwner places every partition for each answer: a few partitions check it agrees.
        for (const p of new Set([0, partitions >> 1, partitions - 1])) expect(rendezvousOwner(p, members, partitions)).toBe(plan[p]);
      }),
      { numRuns: 200 },
    );
  });

  it("moves few partitions beyond those the joining worker gains", () => {
    const before = placePartitions(64, ["a", "b", "c"]);
    const after = placePartitions(64, ["a", "b", "c", "d"]);
    const gained = after.filter((o) => o === "d").length;
    expect(gained).toBe(16);
    const moved = after.filter((o, p) => o !== before[p]).length;
    // Plain modulo placement would move about three quarters (48); bounded rendezvous moves little more than it must.
    expect(moved).toBeLessThanOrEqual(gained + 10);
    expect(placePartitions(8, [])).toEqual([]);
  });
});

describe("PartitionLeases fencing", () => {
  it("considers a holding fenced once the TTL has passed without a renewal, before its renewal loop runs again", async () => {
    const nc = await connect({ servers: "127.0.0.1:4222" });
    const bucket = `troupe_fence-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6).toString(36)}`;
    try {
      const kv = await new Kvm(jetstream(nc)).create(bucket, { ttl: 1000, history: 1 });
      const events: string[] = [];
      const tokens = new Map<number, number>();
      const leases = new PartitionLeases({
        kv,
        workerId: "solo",
        partitions: 2,
        leaseTtlMs: 1000,
        owner: { acquired: (p, token) => void tokens.set(p, token), release: async () => undefined, lost: (p) => void events.push(`lost ${p}`) },
      });
      await leases.start();
      expect([...tokens.keys()].sort()).toEqual([0, 1]);
      expect(leases.holds(0, tokens.get(0)!)).toBe(true);
      expect(leases.holds(0, tokens.get(0)! + 1)).toBe(false);
      // A blocked event loop: no renewal can run.
      const end = performance.now() + 1000;
      while (performance.now() < end);
      expect(leases.holds(0, tokens.get(0)!)).toBe(false);
      expect(leases.fencingToken(1)).toBeUndefined();
      leases.fenceExpired();
      expect(events.sort()).toEqual(["lost 0", "lost 1"]);
      expect(leases.heldPartitions()).toEqual([]);
      leases.abandon();
    } finally {
      await (await jetstreamManager(nc)).streams.delete(`KV_${bucket}`).catch(() => false);
      await nc.close();
    }
  });
});
