import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Kvm, type KV } from "@nats-io/kv";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TenantId } from "@troupe/contract";
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

  it("never lets a worker's cap exceed its recorded share, even when its write loses a race", async () => {
    // Quota 6. "m" joins beside "z" (holding 5): target 3, room 1, so it records 1. Then "n" joins and
    // "z" gives back 2: m's target falls to 2 with room for it, and m writes 2 — but "n" takes the
    // room first, so that write fails. m may never have run more than the 1 turn it had recorded.
    const key = "t.race";
    let recorded = 0;
    const violations: string[] = [];
    let raceOnce = false;
    const racing = new Proxy(kv, {
      get(target, prop) {
        const v = Reflect.get(target, prop, target) as unknown;
        if (prop !== "update" && prop !== "create") return typeof v === "function" ? v.bind(target) : v;
        return async (k: string, value: string, ...rest: unknown[]) => {
          if (prop === "update" && raceOnce) {
            raceOnce = false;
            await put({ z: 3, m: 1, n: 2 });
          }
          const revision = await (v as (...a: unknown[]) => Promise<number>).call(target, k, value, ...rest);
          recorded = (JSON.parse(value) as Record<string, { g: number }>).m?.g ?? 0;
          return revision;
        };
      },
    });
    const put = async (g: Record<string, number>): Promise<void> => {
      await kv.put(key, JSON.stringify(Object.fromEntries(Object.entries(g).map(([w, n]) => [w, { g: n, at: Date.now() }]))));
      recorded = g.m ?? 0;
    };
    await put({ z: 5 });
    const m = new InFlightShares({
      kv: racing,
      workerId: "m",
      keyOf: () => key,
      liveWorkers: () => ["m", "n", "z"],
      staleAfterMs: 60_000,
      quotaOf: () => 6,
      runningOf: () => 0,
      cap: (_t, cap) => {
        if (cap > recorded) violations.push(`cap ${cap} with ${recorded} recorded`);
      },
      onError: (e) => violations.push(String(e)),
      retryMs: 60_000,
    });
    await m.start();
    m.taken(acme);
    await until(() => m.shareOf(acme) === 1);
    raceOnce = true;
    await put({ z: 3, m: 1, n: 0 });
    await until(() => !raceOnce);
    await new Promise((r) => setTimeout(r, 200));
    expect(violations).toEqual([]);
    expect(m.shareOf(acme)).toBe(1);
    await m.stop();
  });

  it("keeps the turns running cluster-wide within the quota under random demand, and each worker within its recorded share", async () => {
    // Three workers over one KV entry, each with a simulated runtime: messages arrive and turns end at
    // random; a turn starts whenever the worker's cap leaves room (as the tenant lane does). The KV
    // entry's latest value (by revision) is what each worker has recorded.
    const seed = Date.now() % 1_000_000;
    let rng = seed;
    const random = (): number => (rng = (rng * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648;
    const quota = 5;
    const key = "t.random";
    const ids = ["w1", "w2", "w3"];
    const sim = new Map(ids.map((w) => [w, { held: 0, running: 0, cap: 0 }]));
    let recorded: Record<string, number> = {};
    let lastRevision = 0;
    const problems: string[] = [];
    const check = (): void => {
      const total = [...sim.values()].reduce((a, w) => a + w.running, 0);
      if (total > quota) problems.push(`${total} turns running with quota ${quota} (seed ${seed})`);
      for (const [w, v] of sim) if (v.running > (recorded[w] ?? 0)) problems.push(`${w} runs ${v.running} with ${recorded[w] ?? 0} recorded (seed ${seed})`);
    };
    const start = (w: string): void => {
      const v = sim.get(w)!;
      while (v.running < v.cap && v.running < v.held) v.running++;
      check();
    };
    const tracked = (): KV =>
      new Proxy(kv, {
        get(target, prop) {
          const v = Reflect.get(target, prop, target) as unknown;
          if (prop !== "update" && prop !== "create" && prop !== "delete") return typeof v === "function" ? v.bind(target) : v;
          return async (k: string, ...rest: unknown[]) => {
            const result = (await (v as (...a: unknown[]) => Promise<unknown>).call(target, k, ...rest)) as number | undefined;
            const entry = await kv.get(k);
            if (entry !== null && entry.revision > lastRevision) {
              lastRevision = entry.revision;
              recorded = entry.operation === "PUT" ? Object.fromEntries(Object.entries(entry.json<Record<string, { g: number }>>()).map(([id, x]) => [id, x.g])) : {};
            }
            return result;
          };
        },
      });
    const workers = ids.map(
      (w) =>
        new InFlightShares({
          kv: tracked(),
          workerId: w,
          keyOf: () => key,
          liveWorkers: () => ids,
          staleAfterMs: 60_000,
          quotaOf: () => quota,
          runningOf: () => sim.get(w)!.running,
          cap: (_t, cap) => {
            sim.get(w)!.cap = cap;
            start(w);
          },
          onError: (e) => problems.push(String(e)),
          idleReleaseMs: 30,
          rotateMs: 100,
          retryMs: 20,
        }),
    );
    await Promise.all(workers.map((x) => x.start()));
    const end = Date.now() + 2500;
    let turns = 0;
    while (Date.now() < end) {
      const i = Math.floor(random() * ids.length);
      const v = sim.get(ids[i]!)!;
      if (random() < 0.55 && v.held < 8) {
        v.held++;
        workers[i]!.taken(acme);
        start(ids[i]!);
      } else if (v.running > 0) {
        v.running--;
        v.held--;
        turns++;
        workers[i]!.settled(acme);
        start(ids[i]!);
      }
      await new Promise((r) => setTimeout(r, random() * 4));
    }
    expect(problems).toEqual([]);
    expect(turns).toBeGreaterThan(100);
    await Promise.all(workers.map((x) => x.stop()));
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
