import { randomUUID } from "node:crypto";
import { JsonLogsSerializer } from "@opentelemetry/otlp-transformer";
import { USAGE_ATTR } from "@troupe/contract";
import { describe, expect, it } from "vitest";
import { CollectorMetrics } from "../metrics/collector-metrics.js";
import type { UsageRecordRow } from "../store/usage-record-row.js";
import type { Principal } from "../tenants/principal.js";
import type { IngestOutcome } from "./ingest-outcome.js";
import { UsageIngest, type UsageIngestOptions } from "./usage-ingest.js";
import { sdkLogRecords, usageAttributes, type EmitSpec } from "./usage-log-records.test-helper.js";

const ACME_KEY: Principal = { kind: "tenant-ingest", keyId: "k-acme", tenantId: "acme" };

async function ingestJson(options: Partial<UsageIngestOptions>, specs: readonly EmitSpec[] | string): Promise<{ outcome: IngestOutcome; rows: UsageRecordRow[]; releases: number }> {
  const rows: UsageRecordRow[] = [];
  let releases = 0;
  const ingest = new UsageIngest({ sink: { accept: async (r) => void rows.push(...r) }, metrics: new CollectorMetrics(), retentionDaysOf: () => 30, ...options });
  const bytes = typeof specs === "string" ? Buffer.from(specs) : Buffer.from(JsonLogsSerializer.serializeRequest(await sdkLogRecords(specs))!);
  const outcome = await ingest.ingest({ principal: ACME_KEY, format: "json", body: { bytes, release: () => void releases++ } });
  return { outcome, rows, releases };
}

describe("UsageIngest", () => {
  it("accepts valid usage records and names each refused one's reason and attribute", async () => {
    const { outcome, rows, releases } = await ingestJson({}, [
      { attributes: usageAttributes(randomUUID()) },
      { attributes: usageAttributes(randomUUID(), "acme", { [USAGE_ATTR.inputTokens]: -1 }) },
    ]);
    expect(outcome).toMatchObject({
      kind: "accepted",
      accepted: 1,
      rejections: [{ reason: "invalid_record", count: 1, example: "gen_ai.usage.input_tokens must not be negative" }],
    });
    expect(rows.map((r) => r.tenant)).toEqual(["acme"]);
    expect(releases).toBe(1);
  });

  it("refuses a malformed body as bad_request and a tenant whose retention cannot be read as store_unavailable", async () => {
    const bad = await ingestJson({}, "[1,");
    expect(bad.outcome).toMatchObject({ kind: "refused", error: { code: "bad_request" } });
    expect([bad.rows.length, bad.releases]).toEqual([0, 1]);

    const down = await ingestJson({ retentionDaysOf: () => Promise.reject(new Error("registry down")) }, [{ attributes: usageAttributes(randomUUID()) }]);
    expect(down.outcome).toMatchObject({ kind: "refused", error: { code: "store_unavailable", retryAfterS: 5 } });
    expect(down.rows).toEqual([]);
  });
});
