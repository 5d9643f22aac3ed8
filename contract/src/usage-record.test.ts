import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { checkUsageRecord, usageRecordSchema } from "./usage-record.js";

const good = {
  id: "0B1E2F3A-1111-4222-8333-444455556666",
  tenant: "acme",
  agentType: "planner",
  model: "gpt-4o",
  responseModel: "gpt-4o-2024-08-06",
  provider: "openai",
  inputTokens: 120,
  outputTokens: 30,
  cachedInputTokens: 100,
  reasoningTokens: 0,
  costUsd: 0.0012,
  outcome: "ok",
  usageExact: true,
  timeMs: 1_796_570_141_123.5,
  traceId: "",
  spanId: "",
  ledgerId: "",
};

/** A value that is sometimes right for some field and often wrong for it. */
const anyValue = fc.oneof(
  { arbitrary: fc.constantFrom("", "acme", "Acme", "a b", "0b1e2f3a-1111-4222-8333-444455556666", "0b1e2f3a11114222833344445555666", "a".repeat(256), "a".repeat(257), "ok", "timeout", "bogus"), weight: 4 },
  { arbitrary: fc.constantFrom("0123456789abcdef0123456789abcdef", "0123456789abcdef", "0123456789ABCDEF", "00000000000000000000000000000000"), weight: 2 },
  { arbitrary: fc.constantFrom(0, -1, 1, 2.5, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER + 2, Number.NaN, Number.POSITIVE_INFINITY, -0, 1e-9), weight: 4 },
  { arbitrary: fc.constantFrom(true, false, null, undefined, [], {}), weight: 2 },
  fc.string({ maxLength: 40 }),
  fc.double(),
  fc.integer(),
);

describe("checkUsageRecord", () => {
  it("accepts exactly what the schema accepts, with the same record (property)", () => {
    const fields = Object.keys(good);
    fc.assert(
      fc.property(fc.dictionary(fc.constantFrom(...fields, "extra"), anyValue, { minKeys: 1, maxKeys: 3 }), fc.boolean(), (changes, drop) => {
        const input: Record<string, unknown> = { ...good, ...changes };
        if (drop) delete input[Object.keys(changes)[0] ?? "extra"];
        const checked = checkUsageRecord(input);
        const parsed = usageRecordSchema.safeParse(input);
        expect(checked.ok).toBe(parsed.success);
        if (checked.ok && parsed.success) expect(checked.record).toEqual(parsed.data);
      }),
      { numRuns: 20_000 },
    );
  });

  it("names the bad field", () => {
    expect(checkUsageRecord({ ...good, inputTokens: -3 })).toEqual({ ok: false, field: "inputTokens", message: "inputTokens must not be negative" });
    expect(checkUsageRecord({ ...good, outputTokens: 1.5 })).toMatchObject({ ok: false, field: "outputTokens" });
    expect(checkUsageRecord({ ...good, costUsd: Number.POSITIVE_INFINITY })).toMatchObject({ ok: false, field: "costUsd", message: "costUsd must be a finite number" });
    expect(checkUsageRecord({ ...good, id: "not-a-uuid" })).toMatchObject({ ok: false, field: "id", message: "id must be a UUID" });
    expect(checkUsageRecord({ ...good, id: undefined })).toMatchObject({ ok: false, field: "id", message: "id is missing" });
    expect(checkUsageRecord(null)).toMatchObject({ ok: false });
  });

  it("keeps the record's numbers and lower-cases its id", () => {
    const checked = checkUsageRecord({ ...good, extra: "dropped" });
    expect(checked).toEqual({ ok: true, record: { ...good, id: good.id.toLowerCase() } });
  });
});
