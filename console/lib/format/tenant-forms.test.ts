import { describe, expect, it } from "vitest";
import type { TenantRecord } from "../api/types";
import { fieldOfCollectorMessage, parseCreateTenantForm, parseUpdateTenantForm, parseWebhookUrl, settingsFormValues, SETTINGS_FIELDS } from "./tenant-forms";

const form = (fields: Record<string, string>) => {
  const f = new FormData();
  for (const [k, v] of Object.entries(fields)) f.set(k, v);
  return f;
};

/** A settings form as the page fills it for a tenant with nothing set, with `changes` typed in. */
const settings = (changes: Record<string, string> = {}) =>
  form({ ...Object.fromEntries(SETTINGS_FIELDS.map((n) => [n, ""])), name: "Acme", tier: "shared", retentionDays: "30", alertThresholds: "80, 95", ...changes });

describe("tenant forms", () => {
  it("builds a create request with empty budgets as unlimited", () => {
    const r = parseCreateTenantForm(form({ id: "acme", name: "", tier: "worker", retentionDays: "14", dailyTokens: "1000", monthlyTokens: "", dailyCostUsd: "2.5", monthlyCostUsd: "" }));
    expect(r).toEqual({ request: { id: "acme", name: "acme", tier: "worker", retentionDays: 14, budgets: { dailyTokens: 1000, monthlyTokens: null, dailyCostUsd: 2.5, monthlyCostUsd: null }, keys: ["ingest", "console"] } });
  });

  it("sends every setting: empty fields as null, the sampling percentage and alert percentages as fractions", () => {
    const r = parseUpdateTenantForm(settings({ tier: "worker", dailyTokens: "50000", maxInFlightTurns: "4", weight: "2.5", tokensPerMinute: "90000", samplingRatio: "12.5", alertThresholds: "95, 50%,80" }));
    expect(r).toEqual({
      request: {
        name: "Acme",
        tier: "worker",
        retentionDays: 30,
        budgets: { dailyTokens: 50000, monthlyTokens: null, dailyCostUsd: null, monthlyCostUsd: null },
        quotas: { maxInFlightTurns: 4, maxQueuedMessages: null, messagesPerSecond: null, turnTimeoutMs: null, weight: 2.5 },
        rateLimits: { requestsPerMinute: null, tokensPerMinute: 90000 },
        samplingRatio: 0.125,
        alerts: { thresholds: [0.5, 0.8, 0.95] },
      },
    });
  });

  it("names each bad field, with the bounds the collector enforces", () => {
    const r = parseUpdateTenantForm(settings({ name: "", tier: "gold", retentionDays: "0", dailyTokens: "-1", monthlyTokens: "1.5", weight: "0", maxInFlightTurns: "0", turnTimeoutMs: "90000000", samplingRatio: "150", requestsPerMinute: "abc", alertThresholds: "80, 80" }));
    expect("fieldErrors" in r && r.fieldErrors).toEqual({
      name: "Name is required",
      tier: "Tier must be shared, worker or process",
      retentionDays: "Retention is at least 1 day",
      dailyTokens: "Daily token budget must be at least 0, or empty for unlimited",
      monthlyTokens: "Monthly token budget must be a whole number, or empty for unlimited",
      maxInFlightTurns: "Max turns in flight must be from 1 to 1000000000, or empty for not set",
      turnTimeoutMs: "Turn timeout (ms) must be from 1 to 86400000, or empty for not set",
      weight: "Scheduling weight must be greater than 0 and at most 1000, or empty for not set",
      requestsPerMinute: "LLM requests per minute must be a number, or empty for not set",
      samplingRatio: "Trace sampling (%) must be from 0 to 100%, or empty for not set",
      alertThresholds: "Alert thresholds must not repeat a value",
    });
    expect(parseUpdateTenantForm(settings({ alertThresholds: "" }))).toEqual({ fieldErrors: { alertThresholds: "Alert thresholds must be 1 to 5 percentages, e.g. 80, 95" } });
    const bad = parseCreateTenantForm(form({ id: "Bad Id", name: "", tier: "shared", retentionDays: "30", dailyTokens: "", monthlyTokens: "", dailyCostUsd: "", monthlyCostUsd: "" }));
    expect("fieldErrors" in bad && bad.fieldErrors.id).toMatch(/Tenant id/);
  });

  it("fills the form from a tenant's settings, percentages as typed, default thresholds when none are stored", () => {
    const tenant = {
      id: "acme", name: "Acme", tier: "process", retentionDays: 7,
      budgets: { dailyTokens: 1000, monthlyTokens: null, dailyCostUsd: 0.5, monthlyCostUsd: null },
      quotas: { maxInFlightTurns: null, maxQueuedMessages: 100, messagesPerSecond: null, turnTimeoutMs: null, weight: 3 },
      rateLimits: { requestsPerMinute: 60, tokensPerMinute: null },
      samplingRatio: 0.07, alerts: { thresholds: [] }, settingsVersion: 4, createdAt: "", updatedAt: "",
    } satisfies TenantRecord;
    expect(settingsFormValues(tenant)).toMatchObject({ tier: "process", retentionDays: "7", dailyTokens: "1000", monthlyTokens: "", dailyCostUsd: "0.5", maxQueuedMessages: "100", weight: "3", requestsPerMinute: "60", samplingRatio: "7", alertThresholds: "80, 95" });
    expect(settingsFormValues({ ...tenant, alerts: { thresholds: [0.5, 0.9] } }).alertThresholds).toBe("50, 90");
    // What the form shows parses back to the same settings.
    const again = parseUpdateTenantForm(form(settingsFormValues(tenant)));
    expect("request" in again && again.request).toMatchObject({ samplingRatio: 0.07, quotas: { maxQueuedMessages: 100, weight: 3 }, alerts: { thresholds: [0.8, 0.95] } });
  });

  it("places a collector refusal beside the field it names", () => {
    expect(fieldOfCollectorMessage('invalid parameter "quotas.weight": must be greater than 0')).toBe("weight");
    expect(fieldOfCollectorMessage('invalid parameter "budgets.dailyTokens": must be a whole number')).toBe("dailyTokens");
    expect(fieldOfCollectorMessage('invalid parameter "alerts.thresholds.1": must be at most 1')).toBe("alertThresholds");
    expect(fieldOfCollectorMessage("the store is unavailable")).toBeUndefined();
  });

  it("accepts only http(s) webhook URLs", () => {
    expect(parseWebhookUrl(" https://hooks.example.com/t ")).toEqual({ url: "https://hooks.example.com/t" });
    expect(parseWebhookUrl("")).toEqual({ error: "Webhook URL is required" });
    expect(parseWebhookUrl("ftp://x.example")).toEqual({ error: "Webhook URL must start with http:// or https://" });
    expect(parseWebhookUrl("not a url")).toMatchObject({ error: expect.stringMatching(/full URL/) });
  });
});
