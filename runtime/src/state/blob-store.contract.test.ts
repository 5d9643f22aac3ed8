import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AgentId } from "../agents/ids.js";
import { StateIntegrityError } from "../errors.js";
import { postgresTestUrl } from "../postgres/postgres-test-url.test-helper.js";
import type { TenantId } from "@troupe/contract";
import type { BlobStore } from "./blob-store.js";
import { EncryptedStateStore } from "./encrypted-state-store.js";
import { FileBlobStore } from "./file-blob-store.js";
import { MasterKeyring } from "./master-keyring.js";
import { PostgresBlobStore } from "./postgres-blob-store.js";

// One contract, every backend: the file system (default) and a real PostgreSQL server (the machine's,
// or the embedded one the test setup starts).
const PG_URL = postgresTestUrl(process.env);
const runId = `${process.pid}_${Date.now().toString(36)}`;
const schema = `troupe_state_test_${runId}`;

interface Backend {
  name: string;
  create(): Promise<BlobStore>;
  cleanup(): Promise<void>;
}

const dirs: string[] = [];
const backends: Backend[] = [
  {
    name: "FileBlobStore",
    async create() {
      const dir = await mkdtemp(join(tmpdir(), "troupe-state-"));
      dirs.push(dir);
      return new FileBlobStore(dir);
    },
    async cleanup() {
      await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
    },
  },
  {
    name: "PostgresBlobStore",
    async create() {
      return new PostgresBlobStore({ connectionString: PG_URL, schema, table: `blobs_${Math.random().toString(36).slice(2, 10)}`, maxConnections: 4 });
    },
    async cleanup() {
      const client = new pg.Client({ connectionString: PG_URL });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await client.end();
    },
  },
];

const tenant = (t: string) => t as TenantId;
const KEY_A = Buffer.alloc(32, 1).toString("base64");
const KEY_B = Buffer.alloc(32, 2).toString("hex");

describe.each(backends)("$name contract", (backend) => {
  let store: BlobStore;
  beforeAll(async () => {
    store = await backend.create();
  });
  afterAll(async () => {
    await store.close();
    await backend.cleanup();
  });

  it("returns undefined for a missing key, the exact bytes after a put, the newest after overwrite", async () => {
    expect(await store.get("missing")).toBeUndefined();
    const bytes = new Uint8Array([0, 1, 2, 255, 0, 10, 13]);
    await store.put("k1", bytes);
    expect(Buffer.from((await store.get("k1"))!)).toEqual(Buffer.from(bytes));
    await store.put("k1", new Uint8Array([9]));
    expect(Buffer.from((await store.get("k1"))!)).toEqual(Buffer.from([9]));
  });

  it("deletes, and deleting a missing key is a no-op", async () => {
    await store.put("k2", new Uint8Array([1]));
    await store.delete("k2");
    expect(await store.get("k2")).toBeUndefined();
    await expect(store.delete("k2")).resolves.toBeUndefined();
  });

  it("concurrent puts to one key leave one whole value, never a mix", async () => {
    const values = Array.from({ length: 20 }, (_, i) => new Uint8Array(64 * 1024).fill(i));
    await Promise.all(values.map((v) => store.put("race", v)));
    const got = Buffer.from((await store.get("race"))!);
    expect(got.length).toBe(64 * 1024);
    expect(got.every((b) => b === got[0])).toBe(true);
  });

  it("rejects keys that are not opaque tokens (no paths, no SQL)", async () => {
    for (const bad of ["../etc/passwd", "a/b", "", "x'; drop table y; --", "k".repeat(129)]) {
      await expect(store.put(bad, new Uint8Array([1]))).rejects.toThrow(TypeError);
    }
  });

  it("EncryptedStateStore round-trips state and keeps tenants apart", async () => {
    const state = new EncryptedStateStore({ blobs: store, keys: MasterKeyring.single(KEY_A) });
    const agent = new AgentId("planner", "p/1");
    await state.save(tenant("acme"), agent, { steps: ["a", "b"], n: 1, unicode: "héllo ☃" });
    expect(await state.load(tenant("acme"), agent)).toEqual({ steps: ["a", "b"], n: 1, unicode: "héllo ☃" });
    expect(await state.load(tenant("other"), agent)).toBeUndefined();
    await state.delete(tenant("acme"), agent);
    expect(await state.load(tenant("acme"), agent)).toBeUndefined();
  });

  it("a blob copied under another tenant's or agent's key fails to decrypt", async () => {
    const state = new EncryptedStateStore({ blobs: store, keys: MasterKeyring.single(KEY_A) });
    const agent = new AgentId("writer", "doc");
    await state.save(tenant("victim"), agent, { secret: "victim data" });
    const blob = (await store.get(state.locationOf("victim", agent)))!;
    await store.put(state.locationOf("attacker", agent), blob);
    await expect(state.load(tenant("attacker"), agent)).rejects.toBeInstanceOf(StateIntegrityError);
    const other = new AgentId("writer", "doc2");
    await store.put(state.locationOf("victim", other), blob);
    await expect(state.load(tenant("victim"), other)).rejects.toThrow(/another tenant or agent/);
  });

  it("rotation: state sealed under an old key loads and is re-encrypted under the new one", async () => {
    const agent = new AgentId("researcher", "r1");
    const old = new EncryptedStateStore({ blobs: store, keys: new MasterKeyring([{ version: 1, key: KEY_A }]) });
    await old.save(tenant("acme"), agent, { v: "old" });
    const oldLocation = old.locationOf("acme", agent);
    const rotated = new EncryptedStateStore({ blobs: store, keys: new MasterKeyring([{ version: 1, key: KEY_A }, { version: 2, key: KEY_B }]) });
    expect(await rotated.load(tenant("acme"), agent)).toEqual({ v: "old" });
    expect(await store.get(oldLocation)).toBeUndefined();
    const onlyNew = new EncryptedStateStore({ blobs: store, keys: new MasterKeyring([{ version: 2, key: KEY_B }]) });
    expect(await onlyNew.load(tenant("acme"), agent)).toEqual({ v: "old" });
  });
});

describe("FileBlobStore specifics", () => {
  it("leaves no temporary files behind", async () => {
    const dir = await mkdtemp(join(tmpdir(), "troupe-state-"));
    try {
      const store = new FileBlobStore(dir);
      await Promise.all(Array.from({ length: 10 }, (_, i) => store.put(`key${i}`, new Uint8Array([i]))));
      const files = (await Promise.all((await readdir(dir)).map((d) => readdir(join(dir, d))))).flat();
      expect(files.filter((f) => f.endsWith(".tmp"))).toEqual([]);
      expect(files.length).toBe(10);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
