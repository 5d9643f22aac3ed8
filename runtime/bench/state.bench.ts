// Agent state throughput: save + load cycles per second through EncryptedStateStore (JSON, HMAC
// location, AES-256-GCM) on the file backend (fsync on, the default) and on the local PostgreSQL
// server. 8 cycles in flight, each on its own agent. Prints one JSON line on stdout.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AgentId } from "../src/agents/ids.js";
import type { TenantId } from "@troupe/contract";
import type { BlobStore } from "../src/state/blob-store.js";
import { EncryptedStateStore } from "../src/state/encrypted-state-store.js";
import { FileBlobStore } from "../src/state/file-blob-store.js";
import { MasterKeyring } from "../src/state/master-keyring.js";
import { PostgresBlobStore } from "../src/state/postgres-blob-store.js";
import { closedLoop, dropPostgresSchema } from "./bench-support.js";

const DURATION_MS = Number(process.argv[2] ?? 4_000);
const CONCURRENCY = 8;
const PG_URL = "postgres://postgres@127.0.0.1:5432/test";
const keys = MasterKeyring.single(Buffer.alloc(32, 42));
// A realistic small agent state: a conversation of a dozen messages (~3 KB of JSON).
const state = {
  messages: Array.from({ length: 12 }, (_, i) => ({ role: i % 2 ? "assistant" : "user", content: `message ${i} `.repeat(20) })),
  summary: "earlier: the user asked for a research plan",
  step: 3,
};

async function measure(name: string, blobs: BlobStore): Promise<number> {
  const store = new EncryptedStateStore({ blobs, keys });
  const tenants = ["acme", "globex", "initech"] as TenantId[];
  const { count, perS } = await closedLoop(CONCURRENCY, DURATION_MS, async (worker, i) => {
    const tenant = tenants[(worker + i) % tenants.length]!;
    const agent = new AgentId("writer", `w${worker}-${i % 64}`);
    await store.save(tenant, agent, { ...state, step: i });
    const back = (await store.load(tenant, agent)) as { step: number };
    if (back.step !== i) throw new Error(`${name}: loaded step ${back.step}, saved ${i}`);
  });
  process.stderr.write(`state.bench: ${name} ${count} save+load cycles, ${perS.toFixed(0)}/s\n`);
  return Math.round(perS);
}

const dir = await mkdtemp(join(tmpdir(), "troupe-state-bench-"));
const file = new FileBlobStore(dir);
const fileRate = await measure("file", file);
await file.close();
await rm(dir, { recursive: true, force: true });

const schema = `troupe_state_bench_${process.pid}`;
const postgres = new PostgresBlobStore({ connectionString: PG_URL, schema, table: "blobs", maxConnections: CONCURRENCY });
let postgresRate: number;
try {
  postgresRate = await measure("postgres", postgres);
} finally {
  await postgres.close();
  await dropPostgresSchema(PG_URL, schema);
}
console.log(JSON.stringify({ state_save_load_per_s_file: fileRate, state_save_load_per_s_postgres: postgresRate }));
