import { describe, expect, it } from "vitest";
import { AgentId } from "../agents/ids.js";
import { InvalidArgumentError, StateIntegrityError } from "../errors.js";
import type { TenantId } from "@troupe/contract";
import type { BlobStore } from "./blob-store.js";
import { EncryptedStateStore } from "./encrypted-state-store.js";
import { MasterKeyring, parseMasterKey } from "./master-keyring.js";

class MemoryBlobs implements BlobStore {
  readonly map = new Map<string, Uint8Array>();
  async get(key: string) {
    return this.map.get(key);
  }
  async put(key: string, value: Uint8Array) {
    this.map.set(key, value);
  }
  async delete(key: string) {
    this.map.delete(key);
  }
  async close() {}
}

const t = (s: string) => s as TenantId;
const KEY = Buffer.alloc(32, 5).toString("base64");

describe("EncryptedStateStore", () => {
  it("stores only ciphertext at an opaque location", async () => {
    const blobs = new MemoryBlobs();
    const store = new EncryptedStateStore({ blobs, keys: MasterKeyring.single(KEY) });
    await store.save(t("acme"), new AgentId("planner", "plan-1"), { note: "plaintext-marker" });
    const [location, blob] = [...blobs.map][0]!;
    expect(location).toMatch(/^[0-9a-f]{64}$/);
    expect(location).not.toContain("acme");
    expect(Buffer.from(blob!).toString("latin1")).not.toContain("plaintext-marker");
  });

  it("saving undefined deletes; non-JSON state is refused clearly", async () => {
    const blobs = new MemoryBlobs();
    const store = new EncryptedStateStore({ blobs, keys: MasterKeyring.single(KEY) });
    const agent = new AgentId("a", "k");
    await store.save(t("x"), agent, 1);
    await store.save(t("x"), agent, undefined);
    expect(blobs.map.size).toBe(0);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    await expect(store.save(t("x"), agent, cyclic)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(store.save(t("x"), agent, () => 1)).rejects.toThrow(/not JSON-serializable/);
  });

  it("fails with StateIntegrityError when the master key changed without rotation", async () => {
    const blobs = new MemoryBlobs();
    const agent = new AgentId("a", "k");
    await new EncryptedStateStore({ blobs, keys: MasterKeyring.single(KEY) }).save(t("x"), agent, { a: 1 });
    // Same version number, different key: the location differs, so nothing is found...
    const other = new EncryptedStateStore({ blobs, keys: MasterKeyring.single(Buffer.alloc(32, 6)) });
    expect(await other.load(t("x"), agent)).toBeUndefined();
    // ...and a blob placed at its location anyway does not decrypt.
    await blobs.put(other.locationOf("x", agent), [...blobs.map.values()][0]!);
    await expect(other.load(t("x"), agent)).rejects.toBeInstanceOf(StateIntegrityError);
  });
});

describe("master keys", () => {
  it("accepts 32 bytes as hex or base64 and explains anything else", () => {
    expect(parseMasterKey("ab".repeat(32)).length).toBe(32);
    expect(parseMasterKey(Buffer.alloc(32, 1).toString("base64")).length).toBe(32);
    expect(parseMasterKey(Buffer.alloc(32, 1).toString("base64url")).length).toBe(32);
    expect(() => parseMasterKey("short")).toThrow(/64 hex characters or 44 base64 characters/);
    expect(() => parseMasterKey(Buffer.alloc(16).toString("base64"))).toThrow(InvalidArgumentError);
    expect(() => new MasterKeyring([])).toThrow(/at least one master key/);
    expect(() => new MasterKeyring([{ version: 1, key: KEY }, { version: 1, key: KEY }])).toThrow(/configured twice/);
    expect(() => new MasterKeyring([{ version: 0, key: KEY }])).toThrow(/version/);
    expect(new MasterKeyring([{ version: 1, key: KEY }, { version: 3, key: KEY }]).currentVersion).toBe(3);
  });
});
