import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { overview } from "../query/overview-queries.js";
import type { ClickHouseGateway } from "../store/clickhouse-gateway.js";
import { createClickHouseSpanStore } from "../store/clickhouse-span-store.js";
import type { SpanStore } from "../store/span-store.js";
import { openTempChdb } from "../store/temp-chdb.test-helper.js";
import { rawSpanFigures } from "./raw-figures.test-helper.js";
import { RollupPlan } from "./rollup-plan.js";
import { RollupSealer } from "./rollup-sealer.js";
import { batchRows, type TurnGen } from "./rollup-workload.test-helper.js";
import { SPAN_ROLLUP } from "./span-rollup.js";

const HOUR = 3_600_000;
const MIN = 60_000;
let gateway: ClickHouseGateway;
let dispose: () => Promise<void>;
let store: SpanStore;
const errors: unknown[] = [];
let sealer: RollupSealer;
let tenants = 0;

beforeAll(async () => {
  ({ gateway, dispose } = await openTempChdb());
  store = createClickHouseSpanStore(gateway);
  sealer = new RollupSealer({ gateway, onError: (err) => errors.push(err) });
});
afterAll(async () => {
  await sealer.close();
  await dispose();
});

function turn(minute: number, o: Partial<TurnGen> = {}): TurnGen {
  return {
    tenant: 0, agent: "planner", hour: 0, minute, ms: 1_000, durationUs: 250_000 + minute * 1_000, outcome: "ok", llm: true, llmError: false, model: "gpt-4o",
    inputTokens: 100, outputTokens: 10, costMicros: 1_000, ratio: null, refusedSend: null, queueWaitUs: 2_000, handlerUs: 200_000, ledger: "", usageOutcome: "ok", ...o,
  };
}

/** A fresh tenant and the start of an hour two hours ago (over, so it can be sealed as an hour). */
function fresh(): { tenantId: string; baseMs: number; range: { fromMs: number; toMs: number } } {
  const baseMs = Math.floor(Date.now() / HOUR) * HOUR - 2 * HOUR;
  return { tenantId: `seal${++tenants}`, baseMs, range: { fromMs: baseMs, toMs: baseMs + HOUR } };
}

const stale = async (tenantId: string, range: { fromMs: number; toMs: number }) =>
  (await RollupPlan.make(gateway, SPAN_ROLLUP, { tenantId }, range, { hours: true, minutes: true })).describe();

/** What the rollup tables themselves hold for a tenant (latest build of each bucket). */
async function rolledUpSpans(tenantId: string, table: "span_rollups_1m" | "span_rollups_1h"): Promise<number> {
  const [row] = await gateway.query<{ n: string }>(`SELECT sum(arraySum(spans)) AS n FROM ${table} FINAL WHERE tenant_id = {t:String}`, { t: tenantId });
  return Number(row?.n ?? 0);
}

describe("RollupSealer", () => {
  it("counts a batch replayed with its deduplication token once", async () => {
    const { tenantId, baseMs, range } = fresh();
    const { spans } = batchRows([turn(1), turn(2), turn(30)], [tenantId], baseMs);
    await store.insertSpans(spans, `${tenantId}-b1`);
    await sealer.sealAll(0);
    const before = await overview(gateway, tenantId, range);
    // The spool replays the batch after a crash: the raw table drops it. (ClickHouse may still
    // pass the dropped block to the marks' view, which then only costs a rebuild.)
    await store.insertSpans(spans, `${tenantId}-b1`);
    const [{ n }] = (await gateway.query<{ n: string }>("SELECT count() AS n FROM spans WHERE tenant_id = {t:String}", { t: tenantId })) as [{ n: string }];
    expect(Number(n)).toBe(6);
    expect(await overview(gateway, tenantId, range)).toEqual(before);
    await sealer.sealAll(0);
    expect(await overview(gateway, tenantId, range)).toEqual(before);
    expect(before.totals).toMatchObject({ spans: 6, traces: 3, llmCalls: 0 });
    expect(await rolledUpSpans(tenantId, "span_rollups_1m")).toBe(6);
    expect(await rolledUpSpans(tenantId, "span_rollups_1h")).toBe(6);
    expect(errors).toEqual([]);
  });

  it("reads a minute that got a re-sent span after it was sealed from raw spans until it is rebuilt, exact throughout", async () => {
    const { tenantId, baseMs, range } = fresh();
    const { spans } = batchRows([turn(1), turn(2), turn(3, { outcome: "error" })], [tenantId], baseMs);
    await store.insertSpans(spans, `${tenantId}-b1`);
    await sealer.sealAll(0);
    expect(await stale(tenantId, range)).toEqual({ staleHours: 0, staleMinutes: 0, allRaw: false });
    const expected = await rawSpanFigures(gateway, tenantId, range);

    // An exporter retries the last turn's spans in a new request: a new batch.
    await store.insertSpans(spans.slice(4), `${tenantId}-b2`);
    expect(await stale(tenantId, range)).toEqual({ staleHours: 1, staleMinutes: 1, allRaw: false });
    const during = await overview(gateway, tenantId, range);
    expect(during.totals).toMatchObject(expected.totals);
    expect(during.topAgents[0]).toMatchObject({ agentType: "planner", turns: 3, errors: 1 });

    await sealer.sealAll(0);
    expect(await stale(tenantId, range)).toEqual({ staleHours: 0, staleMinutes: 0, allRaw: false });
    expect(await overview(gateway, tenantId, range)).toEqual(during);
    // The rebuilt rows hold each span once, though the raw table still has the copy unmerged.
    expect(await rolledUpSpans(tenantId, "span_rollups_1m")).toBe(6);
    expect(await rolledUpSpans(tenantId, "span_rollups_1h")).toBe(6);
  });

  it("builds a minute once no rows arrived for it for quietMs, and an hour once it is over", async () => {
    const { tenantId, baseMs } = fresh();
    const currentHour = baseMs + 2 * HOUR;
    await store.insertSpans(batchRows([turn(5), turn(5, { hour: 2 })], [tenantId], baseMs).spans, `${tenantId}-b1`);
    const quiet = await sealer.pass({ quietMs: 60_000 });
    expect(quiet.builds).toBe(0);
    expect(quiet.waiting).toBeGreaterThanOrEqual(4);
    await sealer.sealAll(0);
    const past = { fromMs: baseMs, toMs: baseMs + HOUR };
    expect(await stale(tenantId, past)).toEqual({ staleHours: 0, staleMinutes: 0, allRaw: false });
    // The current hour has no hour row until it is over; reads take its minutes.
    const [{ n }] = (await gateway.query<{ n: string }>("SELECT count() AS n FROM span_rollups_1h WHERE tenant_id = {t:String} AND bucket = toDateTime({h:UInt32}, 'UTC')", { t: tenantId, h: currentHour / 1000 })) as [{ n: string }];
    expect(Number(n)).toBe(0);
    const current = { fromMs: currentHour, toMs: currentHour + HOUR };
    expect(await stale(tenantId, current)).toEqual({ staleHours: 0, staleMinutes: 0, allRaw: false });
  });

  it("gives a stale bucket with no rows an empty row, so that it stops being stale", async () => {
    const { tenantId, baseMs, range } = fresh();
    for (const [table, bucketMs] of [["span_marks_1m", baseMs + 7 * MIN], ["span_marks_1h", baseMs]] as const) {
      await gateway.command(
        `INSERT INTO ${table} (tenant_id, bucket, last_insert_at, retention_days) VALUES ({t:String}, toDateTime({b:UInt32}, 'UTC'), now64(3, 'UTC'), 30)`,
        { t: tenantId, b: bucketMs / 1000 },
      );
    }
    expect(await stale(tenantId, range)).toEqual({ staleHours: 1, staleMinutes: 1, allRaw: false });
    await sealer.sealAll(0);
    expect(await stale(tenantId, range)).toEqual({ staleHours: 0, staleMinutes: 0, allRaw: false });
    expect((await overview(gateway, tenantId, range)).totals.spans).toBe(0);
  });

  it("answers a range reaching back before 1970 (buckets are unsigned) with what is stored, not an engine error", async () => {
    const { tenantId } = fresh();
    for (const range of [{ fromMs: -7_200_000, toMs: 0 }, { fromMs: -3_540_000, toMs: 3_600_000 }, { fromMs: -90_000_000, toMs: -3_600_000 }]) {
      expect((await overview(gateway, tenantId, range)).totals.spans).toBe(0);
    }
  });

  it("runs passes on its own once started, until closed", async () => {
    const { tenantId, baseMs, range } = fresh();
    const own = new RollupSealer({ gateway, onError: (err) => errors.push(err) }, { intervalMs: 20, quietMs: 0 });
    own.start();
    try {
      await store.insertSpans(batchRows([turn(9)], [tenantId], baseMs).spans, `${tenantId}-b1`);
      const deadline = Date.now() + 20_000;
      const sealed = async () => {
        const s = await stale(tenantId, range);
        return s.staleMinutes === 0 && s.staleHours === 0;
      };
      while (!(await sealed()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(await stale(tenantId, range)).toEqual({ staleHours: 0, staleMinutes: 0, allRaw: false });
    } finally {
      await own.close();
    }
    expect(errors).toEqual([]);
  });
});
