import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Kvm, type KV } from "@nats-io/kv";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TenantId } from "../tenancy/tenant-id.js";
import { InFlightShares, split } from "./in-flight-shares.js";

const bucket = `troupe_shares-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6).toString(36)}`;
let nc: NatsConnection;
let kv: KV;
const acme = "acme" as TenantId;

beforeAll(async () => {
  nc = await connect({ servers: "127.0.0.1:4222" });
  kv = await new Kvm(jetstream(nc)).create(bucket, { history: 1 });
});

afterAll(async () => {
  await (await jetstreamManager(nc)).streams.delete(`KV_${bucket}`).catch(() => false);
  await nc.close();
});

const until = async (check: () => boolean, ms = 5000): Promise<void> => {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error("condition not reached");
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe("split", () => {
  it("sums to the quota, gives floor or ceil of the share, and rotates who gets the extra", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 50 }), fc.uniqueArray(fc.stringMatching(/^[a-z0-9]{1,6}$/), { minLength: 1, maxLength: 8 }), fc.nat(), (q, workers, now) => {
        const s = split(q, workers, now, 1000);
        expect([...s.values()].reduce((a, b) => a + b, 0)).toBe(q);
        for (const v of s.values()) expect([Math.floor(q / workers.length), Math.ceil(q / workers.length)]).toContain(v);
        expect(split(q, [...workers].reverse(), now, 1000)).toEqual(s);
      }),
    );
    const over = [0, 1000, 2000].map((t) => split(1, ["a", "b", "c"], t, 1000));
    expect(over.map((s) => [...s].find(([, v]) => v === 1)![0])).toEqual(["a", "b", "c"]);
  });
});

describe("InFlightShares", () => {
  it("keeps the caps of workers sharing one KV entry within the quota while demand moves between them", async () => {
    const workers = ["w1", "w2", "w3"];
    const caps = new Map<string, number>();
    const running = new Map<string, number>();
    let worst = 0;
    const shares = workers.map(
      (w) =>
        new InFlightShares({
          kv,
          workerId: w,
          keyOf: () => "t.acme",
          liveWorkers: () => workers,
          staleAfterMs: 1000,
          quotaOf: () => 4,
          runningOf: () => running.get(w) ?? 0,
          cap: (_t, cap) => {
            caps.set(w, cap);
            worst = Math.max(worst, [...caps.values()].reduce((a, b) => a + b, 0));
          },
          onError: (e) => {
            throw e;
          },
          idleReleaseMs: 50,
          rotateMs: 200,
          retryMs: 50,
        }),
    );
    await Promise.all(shares.map((s) => s.start()));
    shares[0]!.taken(acme);
    await until(() => caps.get("w1") === 4);
    // The others want a share: w1 gives up 3 of 4 (2 + 1 + 1, rotating) without ever overlapping.
    shares[1]!.taken(acme);
    shares[2]!.taken(acme);
    await until(() => [1, 2].every((i) => (caps.get(workers[i]!) ?? 0) >= 1));
    // Rotation: the extra turn moves between workers over a few periods.
    const holders = new Set<string>();
    const end = Date.now() + 900;
    while (Date.now() < end) {
      for (const [w, c] of caps) if (c === 2) holders.add(w);
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(holders.size).toBeGreaterThanOrEqual(2);
    // w1 and w2 finish: w3 gets the whole quota.
    shares[0]!.settled(acme);
    shares[1]!.settled(acme);
    await until(() => caps.get("w3") === 4);
    expect(worst).toBeLessThanOrEqual(4);
    await Promise.all(shares.map((s) => s.stop()));
    expect(await kv.get("t.acme").then((e) => (e === null || e.operation !== "PUT" ? {} : e.json()))).toEqual({});
  });

  it("drops the share of a worker that left the membership and went stale", async () => {
    const caps = new Map<string, number>();
    const options = (w: string, live: string[]) => ({
      kv,
      workerId: w,
      keyOf: () => "t.stale",
      liveWorkers: () => live,
      staleAfterMs: 200,
      quotaOf: () => 2,
      runningOf: () => 0,
      cap: (_t: TenantId, cap: number) => void caps.set(w, cap),
      onError: () => undefined,
      retryMs: 50,
    });
    const dead = new InFlightShares(options("dead", ["dead"]));
    dead.taken(acme);
    await until(() => caps.get("dead") === 2);
    // "dead" stops renewing anything (as if killed); "alive" does not see it among the live workers.
    const alive = new InFlightShares(options("alive", ["alive"]));
    alive.taken(acme);
    expect(caps.get("alive")).toBe(0);
    await until(() => caps.get("alive") === 2, 3000);
    await alive.stop();
  });
});
