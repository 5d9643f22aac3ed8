// `troupe report` as billing runs it: the real CLI process against a real collector (chDB) on
// loopback. Its figures are the usage API's, summed from usage records (one per LLM call attempt,
// refused ones included), in every format; LLM usage that only spans carry is never billed.
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadCollectorConfig, plainSpanFields, startCollector, type RunningCollector, type UsageResponse } from "@troupe/collector";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { seedUsageRecords } from "./support/usage-records.js";
import { runTroupe, type CliResult } from "./support/collector-process.js";

const ADMIN_KEY = `trp_admin_${randomBytes(18).toString("base64url")}`;
// A whole UTC day five days ago (within the 30 days records are kept).
const DAY = Date.now() - (Date.now() % 86_400_000) - 5 * 86_400_000;
const FROM = new Date(DAY).toISOString();
const TO = new Date(DAY + 86_400_000).toISOString();
const RANGE = ["--from", FROM.slice(0, 10), "--to", TO.slice(0, 10)];
let dir: string;
let collector: RunningCollector;

function troupe(args: string[]): Promise<CliResult> {
  return runTroupe(args, dir, { TROUPE_COLLECTOR_URL: collector.url, TROUPE_ADMIN_KEY: ADMIN_KEY, TROUPE_DATA_DIR: join(dir, "data") });
}

async function api(path: string): Promise<Response> {
  return fetch(`${collector.url}${path}`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "troupe-report-"));
  collector = await startCollector({ ...loadCollectorConfig({ TROUPE_DATA_DIR: join(dir, "data"), TROUPE_ADMIN_KEY: ADMIN_KEY }), port: 0, host: "127.0.0.1" });
  await collector.registry.createTenant({ id: "acme" });
  const at = (hour: number) => DAY + hour * 3_600_000;
  await seedUsageRecords(collector.gateway, [
    { tenant: "acme", timeMs: at(9), agentType: "planner", model: "gpt-4o", inputTokens: 1000, outputTokens: 100, costUsd: 0.0125 },
    { tenant: "acme", timeMs: at(10), agentType: "planner", model: "gpt-4o", inputTokens: 2000, outputTokens: 200, costUsd: 0.025 },
    { tenant: "acme", timeMs: at(11), agentType: "writer", model: "gpt-4o-mini", inputTokens: 500, outputTokens: 50, costUsd: 0.0001 },
    { tenant: "acme", timeMs: at(12), agentType: "writer", model: "gpt-4o-mini", outcome: "budget_rejected" },
    { tenant: "acme", timeMs: at(13), agentType: "writer", model: "gpt-4o-mini", outcome: "rate_limited" },
    { tenant: "acme", timeMs: at(14), agentType: "writer", model: "gpt-4o-mini", outcome: "error" },
    { tenant: "acme", timeMs: at(30), agentType: "writer", model: "gpt-4o-mini", inputTokens: 9, outputTokens: 9, costUsd: 9 }, // the next day
  ]);
  // An LLM call span with usage attributes and no usage record: shown in its trace, never billed.
  await collector.store.insertSpans([{
    tenantId: "acme", traceId: randomBytes(16).toString("hex"), spanId: randomBytes(8).toString("hex"), parentSpanId: "", name: "chat gpt-4o", kind: 3,
    startTimeUnixNano: String(BigInt(at(15)) * 1_000_000n), durationNs: 1e6, statusCode: 1, serviceName: "svc",
    attributes: { "troupe.tenant.id": "acme", "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": "77777", "troupe.llm.cost_usd": "7" },
    resourceAttributes: { "service.name": "svc" },
    ...plainSpanFields(),
  }], "span-only");
}, 60_000);

afterAll(async () => {
  await collector?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("troupe report", () => {
  it("prints the usage API's JSON: every attempt counted, refused ones apart, span-only usage not billed", async () => {
    const json = await troupe(["report", "--tenant", "acme", ...RANGE, "--group-by", "model", "--format", "json"]);
    expect(json.status, json.stderr).toBe(0);
    const report = JSON.parse(json.stdout) as UsageResponse;
    const fromApi = (await (await api(`/api/v1/usage?tenant=acme&from=${FROM}&to=${TO}&groupBy=model`)).json()) as UsageResponse;
    expect(report).toEqual(fromApi);
    expect(report.totals).toMatchObject({ calls: 6, inputTokens: 3500, outputTokens: 350, budgetRejections: 1, rateLimited: 1, errors: 1, timeouts: 0 });
    expect(report.totals.costUsd).toBeCloseTo(0.0376, 9);
    expect(report.rows.map((r) => [r.group, r.calls])).toEqual([["gpt-4o", 2], ["gpt-4o-mini", 4]]);
  });

  it("prints the usage API's CSV byte for byte", async () => {
    const csv = await troupe(["report", "--tenant", "acme", ...RANGE, "--group-by", "agent", "--format", "csv"]);
    expect(csv.status, csv.stderr).toBe(0);
    const fromApi = await (await api(`/api/v1/usage?tenant=acme&from=${FROM}&to=${TO}&groupBy=agent&format=csv`)).text();
    expect(csv.stdout).toBe(fromApi);
    expect(csv.stdout.split("\r\n")[0]).toBe("group,calls,inputTokens,outputTokens,costUsd,errors,budgetRejections,rateLimited,timeouts,cachedInputTokens,reasoningTokens");
    expect(csv.stdout).toContain("\r\nwriter,4,500,50,0.0001,1,1,1,0,0,0\r\n");
  });

  it("prints a table with the refused attempts apart and says what CALLS counts", async () => {
    const table = await troupe(["report", "--tenant", "acme", ...RANGE, "--group-by", "day", "--format", "table"]);
    expect(table.status, table.stderr).toBe(0);
    const lines = table.stdout.split("\n");
    expect(lines[2]).toMatch(/^DAY\s+CALLS\s+INPUT TOKENS\s+OUTPUT TOKENS\s+COST USD\s+BUDGET REJECTIONS\s+RATE LIMITED\s+ERRORS\s+TIMEOUTS$/);
    expect(lines.find((l) => l.startsWith("TOTAL"))).toMatch(/^TOTAL\s+6\s+3500\s+350\s+0\.037600\s+1\s+1\s+1\s+0$/);
    expect(table.stdout).toContain("CALLS counts every LLM call attempt, budget-rejected and rate-limited ones included");
  });
});
