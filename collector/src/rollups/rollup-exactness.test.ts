import type { UsageOutcome } from "@troupe/contract";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { agentSummaries } from "../query/agent-queries.js";
import { overview } from "../query/overview-queries.js";
import type { TimeRange } from "../query/request-params.js";
import { budgetUsage, tenantActivity } from "../query/tenant-activity-queries.js";
import { usageByAgent, usageReport } from "../query/usage-queries.js";
import type { ClickHouseGateway } from "../store/clickhouse-gateway.js";
import { createClickHouseSpanStore } from "../store/clickhouse-span-store.js";
import type { SpanStore } from "../store/span-store.js";
import { openTempChdb } from "../store/temp-chdb.test-helper.js";
import { rawActivityFigures, rawAgentFigures, rawBudgetFigures, rawSpanFigures, rawUsageFigures } from "./raw-figures.test-helper.js";
import { RollupPlan } from "./rollup-plan.js";
import { RollupSealer } from "./rollup-sealer.js";
import { batchRows, type TurnGen } from "./rollup-workload.test-helper.js";
import { SPAN_ROLLUP } from "./span-rollup.js";
import { USAGE_ROLLUP } from "./usage-rollup.js";

// Rollup figures equal the raw tables' figures (read with FINAL) for random workloads: batches
// replayed with their deduplication token, spans and usage records re-sent in new batches, late rows
// landing in buckets already sealed, sealing at random moments — and whatever range is asked,
// aligned to hours, to minutes, or to no boundary at all.

const HOUR = 3_600_000;
const MIN = 60_000;
const TENANTS = 3;
const HOURS = 4;

/** What is done with the batches, in order. */
type Op =
  | { op: "insert"; turns: TurnGen[] }
  | { op: "replay"; which: number }
  | { op: "resend"; which: number; keep: boolean[] }
  | { op: "seal" };

/** Turns over `hours` hours (the last of which may be the current one) of `tenants` tenants. */
function turnArb(tenants: number, hours: number): fc.Arbitrary<TurnGen> {
  return fc.record({
    tenant: fc.integer({ min: 0, max: tenants - 1 }),
    agent: fc.constantFrom("planner", "coder", "critic", ""),
    hour: fc.integer({ min: 0, max: hours - 1 }),
    minute: fc.oneof(fc.constantFrom(0, 59), fc.integer({ min: 0, max: 59 })),
    ms: fc.oneof(fc.constantFrom(0, 59_999), fc.integer({ min: 0, max: 59_999 })),
    durationUs: fc.oneof(fc.integer({ min: 0, max: 2_000 }), fc.integer({ min: 0, max: 5_000_000 }), fc.integer({ min: 0, max: 900_000_000 })),
    outcome: fc.constantFrom("ok", "ok", "error", "timeout", "quota_rejected", "budget_rejected"),
    llm: fc.boolean(),
    llmError: fc.boolean(),
    model: fc.constantFrom("gpt-4o", "small"),
    inputTokens: fc.integer({ min: 0, max: 5_000 }),
    outputTokens: fc.integer({ min: 0, max: 500 }),
    costMicros: fc.integer({ min: 0, max: 100_000 }),
    ratio: fc.constantFrom(null, null, "0.5", "0.01", "7", "x"),
    refusedSend: fc.constantFrom(null, null, null, "quota_rejected", "rate_limited"),
    queueWaitUs: fc.integer({ min: 0, max: 3_000_000 }),
    handlerUs: fc.integer({ min: 0, max: 5_000_000 }),
    ledger: fc.constantFrom("", "ledger-a", "ledger-b"),
    usageOutcome: fc.constantFrom<UsageOutcome>("ok", "ok", "error", "timeout", "rate_limited", "budget_rejected"),
  });
}

/** Sequences of operations that start with an insert. */
function opsArb(tenants: number, hours: number): fc.Arbitrary<Op[]> {
  const insert = fc.record({ op: fc.constant("insert" as const), turns: fc.array(turnArb(tenants, hours), { minLength: 1, maxLength: 12 }) });
  const op: fc.Arbitrary<Op> = fc.oneof(
    { weight: 3, arbitrary: insert },
    { weight: 1, arbitrary: fc.record({ op: fc.constant("replay" as const), which: fc.nat() }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant("resend" as const), which: fc.nat(), keep: fc.array(fc.boolean(), { maxLength: 40 }) }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant("seal" as const) }) },
  );
  return fc.tuple(insert, fc.array(op, { maxLength: 10 })).map(([first, rest]) => [first, ...rest]);
}

let gateway: ClickHouseGateway;
let dispose: () => Promise<void>;
let store: SpanStore;
let sealer: RollupSealer;
const sealErrors: unknown[] = [];
let run = 0;
let batchCount = 0;

beforeAll(async () => {
  ({ gateway, dispose } = await openTempChdb());
  store = createClickHouseSpanStore(gateway);
  sealer = new RollupSealer({ gateway, onError: (err) => sealErrors.push(err) });
});
afterAll(async () => {
  await sealer.close();
  await dispose();
});

/** Applies the operations: every insert is a batch of spans and one of usage records. */
async function apply(ops: readonly Op[], tenantIds: readonly string[], baseMs: number): Promise<void> {
  const batches: { id: string; rows: ReturnType<typeof batchRows> }[] = [];
  for (const op of ops) {
    if (op.op === "insert") {
      const rows = batchRows(op.turns, tenantIds, baseMs);
      // Each batch its own token (a token names one batch; a replay sends that batch again).
      const id = `${tenantIds[0]}-b${++batchCount}`;
      batches.push({ id, rows });
      await store.insertSpans(rows.spans, id);
      if (rows.usage.length > 0) await gateway.insert("usage_records", rows.usage, { dedupToken: id });
    } else if (op.op === "replay") {
      const b = batches[op.which % batches.length]!;
      await store.insertSpans(b.rows.spans, b.id);
      if (b.rows.usage.length > 0) await gateway.insert("usage_records", b.rows.usage, { dedupToken: b.id });
    } else if (op.op === "resend") {
      const b = batches[op.which % batches.length]!;
      const spans = b.rows.spans.filter((_, i) => op.keep[i % Math.max(1, op.keep.length)] ?? true);
      const usage = b.rows.usage.filter((_, i) => op.keep[i % Math.max(1, op.keep.length)] ?? true);
      const id = `${b.id}-resent-${Math.random().toString(36).slice(2)}`;
      if (spans.length > 0) await store.insertSpans(spans, id);
      if (usage.length > 0) await gateway.insert("usage_records", usage, { dedupToken: id });
    } else {
      await sealer.sealAll(0);
    }
  }
}

/** Numbers compared to 1e-9 relative (float sums add in another order), everything else exactly. */
function close(actual: unknown, expected: unknown, path = "$"): void {
  if (typeof expected === "number" && typeof actual === "number") {
    expect(Math.abs(actual - expected), `${path}: ${actual} vs ${expected}`).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(expected)) + 1e-6);
  } else if (Array.isArray(expected)) {
    expect(Array.isArray(actual), path).toBe(true);
    expect((actual as unknown[]).length, `${path}.length`).toBe(expected.length);
    expected.forEach((e, i) => close((actual as unknown[])[i], e, `${path}[${i}]`));
  } else if (expected && typeof expected === "object") {
    for (const [k, v] of Object.entries(expected)) close((actual as Record<string, unknown>)[k], v, `${path}.${k}`);
  } else expect(actual, path).toEqual(expected);
}

/** Every rollup-backed figure of the tenants over the range, checked against the raw tables. */
async function checkFigures(tenantIds: readonly string[], range: TimeRange): Promise<void> {
  for (const tenantId of tenantIds) {
    const [ov, raw, agents, rawAgents, usageAgents, rawUsageAgents, byHour, rawByHour, byModel, rawByModel] = await Promise.all([
      overview(gateway, tenantId, range),
      rawSpanFigures(gateway, tenantId, range),
      agentSummaries(gateway, tenantId, range),
      rawAgentFigures(gateway, tenantId, range),
      usageByAgent(gateway, tenantId, range),
      rawUsageFigures(gateway, [tenantId], range, "agent_type"),
      usageReport(gateway, tenantId, range, "hour"),
      rawUsageFigures(gateway, [tenantId], range, "toStartOfHour(time)"),
      usageReport(gateway, tenantId, range, "model"),
      rawUsageFigures(gateway, [tenantId], range, "model"),
    ]);
    const usage = [...rawUsageAgents.values()];
    const sum = (k: "calls" | "inputTokens" | "outputTokens" | "costUsd" | "budgetRejections" | "rateLimited") => usage.reduce((s, u) => s + u[k], 0);
    close(ov.totals, {
      ...raw.totals,
      llmCalls: sum("calls"),
      inputTokens: sum("inputTokens"),
      outputTokens: sum("outputTokens"),
      costUsd: sum("costUsd"),
      budgetRejections: sum("budgetRejections"),
      rateLimited: sum("rateLimited"),
    });
    close(
      ov.series.filter((p) => p.spans > 0).map((p) => ({ timeMs: Date.parse(p.time), spans: p.spans, errors: p.errors })),
      raw.series,
    );
    close(ov.series.reduce((s, p) => s + p.llmCalls, 0), sum("calls"));
    close(ov.topAgents.map(({ costUsd: _cost, ...a }) => a), raw.topAgents);
    close(ov.sampling.ratios, raw.ratios.length > 0 ? raw.ratios : [1]);
    close(
      agents.filter((a) => a.turns > 0).map((a) => ({ agentType: a.agentType, turns: a.turns, errors: a.errors, timeouts: a.timeouts, quotaRejections: a.quotaRejections, rateLimited: a.rateLimited, p50Ms: a.p50Ms, p95Ms: a.p95Ms, p99Ms: a.p99Ms, queueWaitAvgMs: a.queueWaitAvgMs, queueWaitP95Ms: a.queueWaitP95Ms, handlerWallMsTotal: a.handlerWallMsTotal })),
      rawAgents.filter((a) => a.turns > 0),
    );
    close(Object.fromEntries(usageAgents), Object.fromEntries(rawUsageAgents));
    close(Object.fromEntries(byHour.rows.map(({ group, ...f }) => [group, f])), Object.fromEntries([...rawByHour].map(([g, f]) => [new Date(`${g.replace(" ", "T")}Z`).toISOString(), f])));
    close(Object.fromEntries(byModel.rows.map(({ group, ...f }) => [group, f])), Object.fromEntries(rawByModel));
  }
  const [activity, rawActivity, rawUsage] = await Promise.all([
    tenantActivity(gateway, range, tenantIds),
    rawActivityFigures(gateway, tenantIds, range),
    rawUsageFigures(gateway, tenantIds, range, "tenant_id"),
  ]);
  for (const tenantId of tenantIds) {
    const a = activity.get(tenantId);
    const spans = rawActivity.get(tenantId);
    const usage = rawUsage.get(tenantId);
    if (!spans && !usage) {
      expect(a, tenantId).toBeUndefined();
      continue;
    }
    close(a, { ...(spans ?? { spans: 0, spanErrors: 0, turns: 0, queueWaitMsTotal: 0, handlerWallMsTotal: 0 }), ...(usage ?? {}) });
  }
}

describe("rollup figures equal the raw tables' figures", () => {
  it("for random workloads with replayed batches, re-sent spans and records, and late rows after sealing", { timeout: 600_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(
        opsArb(TENANTS, HOURS),
        fc.boolean(),
        fc.record({ fromMs: fc.integer({ min: 0, max: 2 * HOUR }), toMs: fc.integer({ min: 0, max: 2 * HOUR }) }),
        fc.boolean(),
        async (ops, sealAtEnd, cut, daysAgo) => {
          const tenantIds = Array.from({ length: TENANTS }, (_, i) => `p${++run}t${i}`);
          // The last of the hours is the current one: it is never sealed as an hour. Or the hours are
          // four days old: raw usage is then read from usage_records, not from its recent copy.
          const baseMs = Math.floor(Date.now() / HOUR) * HOUR - (HOURS - 1) * HOUR - (daysAgo ? 4 * 24 * HOUR : 0);
          await apply(ops, tenantIds, baseMs);
          if (sealAtEnd) {
            await sealer.sealAll(0);
            // Sealed: only the current hour (never sealed as an hour while it lasts) may be stale.
            for (const tenantId of tenantIds) {
              const plan = await RollupPlan.make(gateway, SPAN_ROLLUP, { tenantId }, { fromMs: baseMs, toMs: baseMs + HOURS * HOUR }, { hours: true });
              expect(plan.describe()).toMatchObject({ staleMinutes: 0, allRaw: false });
              expect(plan.describe().staleHours).toBeLessThanOrEqual(1);
            }
          }
          expect(sealErrors).toEqual([]);
          const endMs = baseMs + HOURS * HOUR;
          await checkFigures(tenantIds, { fromMs: baseMs, toMs: endMs });
          await checkFigures(tenantIds, { fromMs: baseMs + Math.round(cut.fromMs / MIN) * MIN, toMs: endMs - Math.round(cut.toMs / MIN) * MIN + MIN });
          await checkFigures(tenantIds, { fromMs: baseMs + cut.fromMs, toMs: endMs - cut.toMs });
          const budgetNowMs = baseMs + 2 * HOUR + cut.fromMs;
          close(Object.fromEntries(await budgetUsage(gateway, budgetNowMs, tenantIds)), Object.fromEntries(await rawBudgetFigures(gateway, tenantIds, budgetNowMs)));
        },
      ),
      {
        numRuns: Number(process.env.ROLLUP_PROPERTY_RUNS ?? 6),
        endOnFailure: true,
        // To replay a failure: the seed and path it printed.
        ...(process.env.ROLLUP_PROPERTY_SEED ? { seed: Number(process.env.ROLLUP_PROPERTY_SEED), path: process.env.ROLLUP_PROPERTY_PATH } : {}),
      },
    );
  });

  it("reads sealed buckets from rollups only: an hour-aligned range of sealed data reads no raw rows", async () => {
    const tenantIds = [`p${++run}t0`];
    const baseMs = Math.floor(Date.now() / HOUR) * HOUR - 3 * HOUR;
    const turns = Array.from({ length: 30 }, (_, i) => ({
      tenant: 0, agent: "planner", hour: i % 2, minute: i, ms: 500, durationUs: 1000 * (i + 1), outcome: "ok", llm: true, llmError: false, model: "gpt-4o",
      inputTokens: 10, outputTokens: 1, costMicros: 10, ratio: null, refusedSend: null, queueWaitUs: 100, handlerUs: 200, ledger: "", usageOutcome: "ok" as const,
    }));
    await apply([{ op: "insert", turns }], tenantIds, baseMs);
    const range = { fromMs: baseMs, toMs: baseMs + 2 * HOUR };
    const before = await RollupPlan.make(gateway, SPAN_ROLLUP, { tenantId: tenantIds[0]! }, range, { hours: true, minutes: true });
    expect(before.describe()).toMatchObject({ staleHours: 2, staleMinutes: 30 });
    await sealer.sealAll(0);
    const after = await RollupPlan.make(gateway, SPAN_ROLLUP, { tenantId: tenantIds[0]! }, range, { hours: true, minutes: true });
    expect(after.describe()).toEqual({ staleHours: 0, staleMinutes: 0, allRaw: false });
    expect(after.rows(["spans"], { hours: true }).sql).not.toMatch(/FROM spans FINAL/);
    await checkFigures(tenantIds, range);

    // A late usage record: its minute is read raw, from the copy of recent records sorted by minute.
    await apply([{ op: "insert", turns: [{ ...turns[0]!, minute: 45 }] }], tenantIds, baseMs);
    const late = await RollupPlan.make(gateway, USAGE_ROLLUP, { tenantId: tenantIds[0]! }, range, { hours: true });
    expect(late.describe()).toEqual({ staleHours: 1, staleMinutes: 1, allRaw: false });
    expect(late.rows(["calls"], { hours: true }).sql).toMatch(/FROM usage_recent FINAL/);
    await checkFigures(tenantIds, range);
  });
});
