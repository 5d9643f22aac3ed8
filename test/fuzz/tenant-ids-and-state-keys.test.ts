// Fuzzing the ids every tenant boundary rests on: tenant ids at ingress, agent ids, and the storage
// locations of encrypted agent state (distinct identities never share a location; a blob never
// opens for another identity).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  AgentId,
  EncryptedStateStore,
  InvalidArgumentError,
  MAX_TENANT_ID_LENGTH,
  MasterKeyring,
  StateIntegrityError,
  isTenantId,
  parseTenantId,
  type BlobStore,
  type TenantId,
} from "@troupe/runtime";

/** A BlobStore in a Map (the state layer's guarantees do not depend on the backend). */
class MapBlobStore implements BlobStore {
  readonly blobs = new Map<string, Uint8Array>();
  async get(key: string) {
    return this.blobs.get(key);
  }
  async put(key: string, value: Uint8Array) {
    this.blobs.set(key, value);
  }
  async delete(key: string) {
    this.blobs.delete(key);
  }
  async close() {}
}

const hostileString = fc.oneof(
  fc.string({ unit: "binary", maxLength: 80 }),
  fc.string({ unit: "grapheme", maxLength: 80 }),
  fc.stringMatching(/^[a-z0-9][a-z0-9_-]{0,70}$/),
  fc.constantFrom("", "acme", "ACME", "acme\u0000", "../acme", "acme/", "__proto__", "constructor", "\u0430cme", "a".repeat(63), "a".repeat(64), "-acme", "_acme", "acme\n"),
);

describe("fuzz: tenant ids", () => {
  it("parseTenantId accepts exactly what isTenantId accepts, returns its input unchanged, and throws only InvalidArgumentError", () => {
    fc.assert(
      fc.property(fc.oneof(hostileString, fc.anything()), (value) => {
        let parsed: TenantId | undefined;
        try {
          parsed = parseTenantId(value);
        } catch (err) {
          expect(err).toBeInstanceOf(InvalidArgumentError);
          expect((err as InvalidArgumentError).code).toBe("INVALID_ARGUMENT");
          expect((err as Error).message.length).toBeLessThan(300);
          expect(isTenantId(value)).toBe(false);
          return;
        }
        expect(parsed).toBe(value);
        expect(isTenantId(value)).toBe(true);
        expect(parsed.length).toBeLessThanOrEqual(MAX_TENANT_ID_LENGTH);
        expect(parsed).toMatch(/^[a-z0-9][a-z0-9_-]*$/);
      }),
      { numRuns: 20_000 },
    );
  });

  it("AgentId accepts or refuses with InvalidArgumentError, never anything else", () => {
    fc.assert(
      fc.property(fc.oneof(hostileString, fc.anything()), fc.oneof(hostileString, fc.anything()), (type, key) => {
        try {
          const id = new AgentId(type as string, key as string);
          expect(id.type).toBe(type);
          expect(id.key).toBe(key);
        } catch (err) {
          expect(err).toBeInstanceOf(InvalidArgumentError);
        }
      }),
      { numRuns: 10_000 },
    );
  });
});

describe("fuzz: encrypted state keys", () => {
  const keys = new MasterKeyring([
    { version: 1, key: "1".repeat(64) },
    { version: 2, key: "2".repeat(64) },
  ]);

  it("distinct (tenant, agent type, agent key) identities never share a storage location", () => {
    const blobs = new MapBlobStore();
    const store = new EncryptedStateStore({ blobs, keys });
    const identity = fc.tuple(hostileString, hostileString, hostileString);
    fc.assert(
      fc.property(fc.uniqueArray(identity, { minLength: 2, maxLength: 60, selector: (t) => JSON.stringify(t) }), (ids) => {
        const locations = ids.map(([tenant, type, key]) => store.locationOf(tenant, { type, key }));
        expect(new Set(locations).size).toBe(ids.length);
        for (const l of locations) expect(l).toMatch(/^[0-9a-f]{64}$/);
      }),
      { numRuns: 2_000 },
    );
  });

  it("a state saved for one identity loads for it alone; moved to another identity's location it fails, never returns the data", async () => {
    const blobs = new MapBlobStore();
    const store = new EncryptedStateStore({ blobs, keys });
    const identity = fc.tuple(hostileString, hostileString, hostileString);
    await fc.assert(
      fc.asyncProperty(identity, identity, fc.jsonValue(), async (a, b, state) => {
        fc.pre(JSON.stringify(a) !== JSON.stringify(b));
        const [ta, tya, ka] = a;
        const [tb, tyb, kb] = b;
        const idA = { type: tya, key: ka } as AgentId;
        const idB = { type: tyb, key: kb } as AgentId;
        const marker = { secret: `of-${JSON.stringify(a)}`, state };
        await store.save(ta as TenantId, idA, marker);
        expect(await store.load(ta as TenantId, idA)).toEqual(JSON.parse(JSON.stringify(marker)));
        // B has nothing of its own, and A's blob under B's location does not open.
        await store.delete(tb as TenantId, idB);
        expect(await store.load(tb as TenantId, idB)).toBeUndefined();
        await blobs.put(store.locationOf(tb, idB), (await blobs.get(store.locationOf(ta, idA)))!);
        const err = await store.load(tb as TenantId, idB).then(
          (v) => v,
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(StateIntegrityError);
        await store.delete(ta as TenantId, idA);
        await store.delete(tb as TenantId, idB);
      }),
      { numRuns: 1_500 },
    );
  });
});
