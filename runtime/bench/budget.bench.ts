// LLM budget bookkeeping: reserve + settle pairs per second (what every LLM call costs its ledger)
// on each BudgetLedger: process memory, PostgreSQL (the local server) and JetStream KV (the local
// nats-server). 8 pairs in flight over 3 tenants, each with a daily token limit it never reaches.
// Prints one JSON line on stdout.
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { KvBudgetLedger, budgetBucketName } from "../src/distributed/kv-budget-ledger.js";
import type { BudgetLedger } from "../src/llm/budget-ledger.js";
import { InMemoryBudgetLedger } from "../src/llm/in-memory-budget-ledger.js";
import { PostgresBudgetLedger } from "../src/llm/postgres-budget-ledger.js";
import { closedLoop, dropPostgresSchema } from "./bench-support.js";

const DURATION_MS = Number(process.argv[2] ?? 3_000);
const CONCURRENCY = 8;
const PG_URL = "postgres://postgres@127.0.0.1:5432/test";
const tenants = ["acme", "globex", "initech"];
const limits = { tokensPerDay: Number.MAX_SAFE_INTEGER, costUsdPerDay: 1e12 };

async function measure(name: string, ledger: BudgetLedger): Promise<number> {
  const { count, perS } = await closedLoop(CONCURRENCY, DURATION_MS, async (worker, i) => {
    const r = await ledger.reserve(tenants[(worker + i) % tenants.length]!, { tokens: 600, costUsd: 0.0004 }, limits);
    await ledger.settle(r, { tokens: 450, costUsd: 0.0003 });
  });
  process.stderr.write(`budget.bench: ${name} ${count} reserve+settle pairs, ${perS.toFixed(0)}/s\n`);
  return Math.round(perS);
}

const figures: Record<string, number> = {};
figures["budget_reserve_settle_per_s_memory"] = await measure("memory", new InMemoryBudgetLedger());

const schema = `troupe_budget_bench_${process.pid}`;
const postgres = new PostgresBudgetLedger({ connectionString: PG_URL, schema, maxConnections: CONCURRENCY });
try {
  figures["budget_reserve_settle_per_s_postgres"] = await measure("postgres", postgres);
} finally {
  await postgres.close();
  await dropPostgresSchema(PG_URL, schema);
}

const namespace = `budget-bench-${process.pid}`;
const nc = await connect({ servers: "127.0.0.1:4222" });
try {
  figures["budget_reserve_settle_per_s_kv"] = await measure("kv", await KvBudgetLedger.open(nc, namespace));
} finally {
  await (await jetstreamManager(nc)).streams.delete(`KV_${budgetBucketName(namespace)}`).catch(() => false);
  await nc.close();
}
console.log(JSON.stringify(figures));
