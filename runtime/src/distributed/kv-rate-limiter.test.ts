import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Kvm, type KV } from "@nats-io/kv";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InvalidArgumentError, RateLimitedError } from "../errors.js";
import type { TenantId } from "@troupe/contract";
import { KvRateLimiter, rateBucketName } from "./kv-rate-limiter.js";

const ns = `rates-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6).toString(36)}`;
const conns: NatsConnection[] = [];
const t = (s: string): TenantId => s as TenantId;

/** Takes one token and reports the outcome (admitted, or the refusal). */
async function attempt(l: KvRateLimiter, tenant: TenantId, limit: { messagesPerSecond: number; burst: number }): Promise<true | RateLimitedError> {
  try {
    await l.take(tenant, limit);
    return true;
  } catch (err) {
    if (err instanceof RateLimitedError) return err;
    throw err;
  }
}

beforeAll(async () => {
  for (let i = 0; i < 3; i++) conns.push(await connect({ servers: "127.0.0.1:4222" }));
});

afterAll(async () => {
  await (await jetstreamManager(conns[0]!)).streams.delete(`KV_${rateBucketName(ns)}`).catch(() => false);
  for (const c of conns) await c.close();
});

describe("KvRateLimiter", () => {
  it("holds a tenant's burst across several connections taking at once", async () => {
    const limiters = await Promise.all(conns.map((c) => KvRateLimiter.open(c, ns)));
    const limit = { messagesPerSecond: 10, burst: 20 };
    const t0 = Date.now();
    const outcomes = await Promise.all(Array.from({ length: 90 }, (_, i) => attempt(limiters[i % 3]!, t("acme"), limit)));
    const elapsedS = (Date.now() - t0) / 1000;
    const admitted = outcomes.filter((o) => o === true).length;
    expect(admitted).toBeGreaterThanOrEqual(limit.burst);
    // burst + rate × (elapsed + leaseMs): the bound the limiter documents.
    expect(admitted).toBeLessThanOrEqual(limit.burst + Math.ceil(limit.messagesPerSecond * (elapsedS + 0.1)));
    const refusals = outcomes.filter((o): o is RateLimitedError => o !== true);
    expect(refusals.length).toBe(90 - admitted);
    for (const r of refusals) {
      expect(r.tenant).toBe("acme");
      expect(r.retryAfterMs).toBeGreaterThan(0);
      expect(r.retryAfterMs).toBeLessThanOrEqual(1000 / limit.messagesPerSecond + 50);
    }
    // Another tenant has its own bucket.
    expect(await attempt(limiters[0]!, t("globex"), limit)).toBe(true);
  });

  it("refills at the configured rate, and refuses locally while the bucket is known empty", async () => {
    const l = await KvRateLimiter.open(conns[0]!, ns);
    const limit = { messagesPerSecond: 20, burst: 5 };
    for (let i = 0; i < 5; i++) expect(await attempt(l, t("initech"), limit)).toBe(true);
    const refused = await attempt(l, t("initech"), limit);
    expect(refused).toBeInstanceOf(RateLimitedError);
    const refills = l.stats().refills;
    // Within retryAfterMs no token can exist: refused without a KV round trip.
    expect(await attempt(l, t("initech"), limit)).toBeInstanceOf(RateLimitedError);
    expect(l.stats().refills).toBe(refills);
    await new Promise((r) => setTimeout(r, (refused as RateLimitedError).retryAfterMs! + 20));
    expect(await attempt(l, t("initech"), limit)).toBe(true);
  });

  it("takes tokens in batches, so most messages need no KV round trip", async () => {
    const l = await KvRateLimiter.open(conns[1]!, ns, { leaseMs: 100 });
    const limit = { messagesPerSecond: 2000, burst: 2000 };
    let admitted = 0;
    let atOnce = 0;
    for (let i = 0; i < 400; i++) {
      const p = l.take(t("hooli"), limit);
      if (p === undefined) atOnce++;
      await p;
      admitted++;
    }
    expect(admitted).toBe(400);
    // 200 tokens per round trip (2000/s × 100 ms): a handful of refills, not one per message.
    expect(l.stats().refills).toBeLessThanOrEqual(10);
    expect(atOnce).toBeGreaterThanOrEqual(390);
  });

  it("counts a batch's lease from when its tokens were taken, not from when a slow answer arrived", async () => {
    // The broker takes 80 ms to confirm each write; tokens are leased for 100 ms.
    const kv = await new Kvm(jetstream(conns[0]!)).create(rateBucketName(ns), { history: 1, ttl: 3_600_000 });
    const slow = new Proxy(kv, {
      get(target, prop) {
        const v = Reflect.get(target, prop, target) as unknown;
        if (typeof v !== "function") return v;
        if (prop !== "update" && prop !== "create") return v.bind(target);
        return async (...args: unknown[]) => {
          const result = await (v as (...a: unknown[]) => Promise<unknown>).apply(target, args);
          await new Promise((r) => setTimeout(r, 80));
          return result;
        };
      },
    }) as KV;
    const l = new KvRateLimiter(slow, ns, { leaseMs: 100 });
    const limit = { messagesPerSecond: 100, burst: 10 };
    await l.take(t("stark"), limit); // one admitted, nine held
    await new Promise((r) => setTimeout(r, 50));
    // 130 ms after they were taken, the nine are past their lease: the next send goes to the broker.
    const next = l.take(t("stark"), limit);
    expect(next).toBeInstanceOf(Promise);
    await next?.catch(() => undefined);
    expect(l.stats().expiredTokens).toBe(9);
  });

  it("bounds the sends waiting for a refill", async () => {
    const l = await KvRateLimiter.open(conns[2]!, ns, { maxWaitersPerTenant: 3 });
    const limit = { messagesPerSecond: 1000, burst: 1000 };
    const outcomes = await Promise.all(Array.from({ length: 5 }, () => attempt(l, t("umbrella"), limit)));
    expect(outcomes.filter((o) => o === true)).toHaveLength(3);
    expect(l.stats().waitersFull).toBe(2);
  });

  it("refuses a bad limit or bad options with InvalidArgumentError", async () => {
    const l = await KvRateLimiter.open(conns[0]!, ns);
    expect(() => l.take(t("acme"), { messagesPerSecond: 0, burst: 1 })).toThrow(InvalidArgumentError);
    expect(() => l.take(t("acme"), { messagesPerSecond: 5, burst: Number.POSITIVE_INFINITY })).toThrow(InvalidArgumentError);
    await expect(KvRateLimiter.open(conns[0]!, ns, { leaseMs: -1 })).rejects.toBeInstanceOf(InvalidArgumentError);
  });
});
