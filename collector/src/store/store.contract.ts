import { describe, expect, it, beforeAll, afterAll } from "vitest";
import type { ClickHouseGateway } from "./clickhouse-gateway.js";
import { createClickHouseSpanStore } from "./clickhouse-span-store.js";
import { runMigrations } from "./migrate.js";
import { MIGRATIONS } from "./migrations/index.js";
import { SpanBlockBuilder } from "./span-block.js";
import { plainSpanFields, type SpanRow } from "./span-row.js";

/** A freshly migrated, empty gateway for one contract run, and how to dispose of it. */
export interface ContractTarget {
  gateway: ClickHouseGateway;
  dispose: () => Promise<void>;
}

function span(tenantId: string, traceId: string, spanId: string, startMs: number, attributes: Record<string, string> = {}): SpanRow {
  return {
    tenantId,
    traceId,
    spanId,
    parentSpanId: "",
    name: "chat ünïcödé \"quoted\" 'single' \n newline",
    kind: 3,
    startTimeUnixNano: `${BigInt(startMs) * 1_000_000n + 123_456n}`,
    durationNs: 2_500_000,
    statusCode: 0,
    serviceName: "svc",
    attributes: { "gen_ai.operation.name": "chat", "gen_ai.request.model": "m", "gen_ai.usage.input_tokens": "7", "gen_ai.usage.output_tokens": "3", "troupe.llm.cost_usd": "0.25", ...attributes },
    resourceAttributes: { "service.name": "svc" },
    ...plainSpanFields(),
  };
}

const hex = (n: number, width: number) => n.toString(16).padStart(width, "0");

/**
 * The contract every store engine must pass (chDB always; a ClickHouse server when configured):
 * schema and migrations, exact and idempotent inserts, per-tenant retention, tenant-first sort key.
 */
export function describeSpanStoreContract(name: string, makeTarget: () => Promise<ContractTarget>, options: { skip?: boolean } = {}): void {
  describe.skipIf(options.skip ?? false)(`SpanStore contract: ${name}`, () => {
    let target: ContractTarget;
    const now = Date.now();
    beforeAll(async () => {
      target = await makeTarget();
    });
    afterAll(async () => target?.dispose());

    const count = async (sql: string, params: Record<string, string> = {}) => Number((await target.gateway.query<{ c: number | string }>(sql, params))[0]?.c);

    it("migrations are recorded and idempotent", async () => {
      expect(await runMigrations(target.gateway)).toEqual([]);
      const versions = await target.gateway.query<{ version: number }>("SELECT version FROM schema_migrations ORDER BY version");
      expect(versions.map((v) => Number(v.version))).toEqual(MIGRATIONS.map((m) => m.version));
      // Numbered 1, 2, 3, ... with no gap or repeat, in order.
      expect(MIGRATIONS.map((m) => m.version)).toEqual(MIGRATIONS.map((_, i) => i + 1));
    });

    it("the spans sort key starts with the tenant, partitions by day, and has no payload column", async () => {
      const [t] = await target.gateway.query<{ sorting_key: string; partition_key: string; engine: string }>(
        "SELECT sorting_key, partition_key, engine FROM system.tables WHERE database = currentDatabase() AND name = 'spans'",
      );
      expect(t?.sorting_key.startsWith("tenant_id,")).toBe(true);
      expect(t?.partition_key).toBe("toDate(start_time)");
      expect(t?.engine).toBe("ReplacingMergeTree");
      const cols = await target.gateway.query<{ name: string }>("SELECT name FROM system.columns WHERE database = currentDatabase() AND table = 'spans'");
      expect(cols.map((c) => c.name).filter((n) => /payload|body|content|prompt|completion/.test(n))).toEqual([]);
    });

    it("stores a batch exactly, with derived columns and exact nanosecond start times", async () => {
      const store = createClickHouseSpanStore(target.gateway, { retentionDaysOf: () => 45 });
      const row = span("t-basic", hex(1, 32), hex(1, 16), now);
      await store.insertSpans([row], "basic-1");
      const [r] = await target.gateway.query<Record<string, unknown>>(
        `SELECT name, toString(toUnixTimestamp64Nano(start_time)) AS ns, duration_ns, operation, model, input_tokens, output_tokens, cost_usd,
           retention_days, attributes FROM spans FINAL WHERE tenant_id = {t:String}`,
        { t: "t-basic" },
      );
      expect(r).toMatchObject({ name: row.name, ns: row.startTimeUnixNano, operation: "chat", model: "m", cost_usd: 0.25, retention_days: 45 });
      expect(Number(r?.input_tokens)).toBe(7);
      expect(r?.attributes).toEqual(row.attributes);
      await store.ping();
    });

    it("a replayed batch (same batch id) writes nothing", async () => {
      const store = createClickHouseSpanStore(target.gateway);
      const rows = Array.from({ length: 50 }, (_, i) => span("t-replay", hex(i, 32), hex(i, 16), now - i * 1000));
      await store.insertSpans(rows, "replay-1");
      await store.insertSpans(rows, "replay-1");
      expect(await count("SELECT count() AS c FROM spans WHERE tenant_id = {t:String}", { t: "t-replay" })).toBe(50);
    });

    it("spans re-sent in another batch count once in reads with FINAL", async () => {
      const store = createClickHouseSpanStore(target.gateway);
      const rows = Array.from({ length: 20 }, (_, i) => span("t-resend", hex(i, 32), hex(i, 16), now - i * 1000));
      await store.insertSpans(rows, "resend-1");
      await store.insertSpans(rows.slice(5), "resend-2");
      expect(await count("SELECT count() AS c FROM spans FINAL WHERE tenant_id = {t:String}", { t: "t-resend" })).toBe(20);
      expect(await count("SELECT sum(input_tokens) AS c FROM spans FINAL WHERE tenant_id = {t:String}", { t: "t-resend" })).toBe(140);
    });

    it("span blocks encoded at accept insert as they are: concatenated, exact, a replay writes nothing", async () => {
      const store = createClickHouseSpanStore(target.gateway, { retentionDaysOf: () => 12 });
      const a = await store.finishBlock!(SpanBlockBuilder.of(Array.from({ length: 3 }, (_, i) => span("t-blocks", hex(i, 32), hex(i, 16), now - i * 1000))));
      const b = await store.finishBlock!(SpanBlockBuilder.of([span("t-blocks", hex(9, 32), hex(9, 16), now, { "gen_ai.usage.input_tokens": "100" })]));
      const blocks = { payload: [a!.payload as Buffer, b!.payload as Buffer], rowCount: a!.rowCount + b!.rowCount };
      await store.insertEncodedSpans!(blocks, "blocks-1");
      await store.insertEncodedSpans!(blocks, "blocks-1");
      expect(await count("SELECT count() AS c FROM spans WHERE tenant_id = {t:String}", { t: "t-blocks" })).toBe(4);
      expect(await count("SELECT sum(input_tokens) AS c FROM spans FINAL WHERE tenant_id = {t:String}", { t: "t-blocks" })).toBe(121);
      expect(await count("SELECT min(retention_days) AS c FROM spans WHERE tenant_id = {t:String}", { t: "t-blocks" })).toBe(12);
    });

    it("applies each tenant's retention", async () => {
      const retention: Record<string, number> = { "t-short": 5, "t-long": 30 };
      const store = createClickHouseSpanStore(target.gateway, { retentionDaysOf: (t) => retention[t] ?? 30 });
      const old = now - 10 * 86_400_000;
      await store.insertSpans([span("t-short", hex(1, 32), hex(1, 16), old), span("t-long", hex(2, 32), hex(2, 16), old)], "retention-1");
      await target.gateway.command("OPTIMIZE TABLE spans FINAL");
      expect(await count("SELECT count() AS c FROM spans WHERE tenant_id = {t:String}", { t: "t-short" })).toBe(0);
      expect(await count("SELECT count() AS c FROM spans WHERE tenant_id = {t:String}", { t: "t-long" })).toBe(1);
    });

    it("bound parameters are data, never SQL", async () => {
      const evil = "x' OR 1=1; DROP TABLE spans; --";
      expect(await count("SELECT count() AS c FROM spans WHERE tenant_id = {t:String}", { t: evil })).toBe(0);
      expect(await count("SELECT count() AS c FROM spans")).toBeGreaterThan(0);
    });

    it("a closed store refuses inserts", async () => {
      const store = createClickHouseSpanStore(target.gateway);
      await store.close();
      await expect(store.insertSpans([span("t-closed", hex(1, 32), hex(1, 16), now)], "closed-1")).rejects.toMatchObject({ code: "store_unavailable" });
    });
  });
}
