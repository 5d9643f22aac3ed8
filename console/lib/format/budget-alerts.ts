// How budget alerts, webhook deliveries and runtime check-ins read on the console. Pure functions.
import type { BudgetAlert, RuntimeCheckIn, WebhookDelivery } from "../api/types";
import { formatCompact, formatInt, formatPct, formatUsd } from "./format";

/** "Threshold" or "First refusal". */
export function alertKindLabel(alert: BudgetAlert): string {
  return alert.kind === "threshold" ? "Threshold" : "First refusal";
}

/** "Day 2026-01-02" or "Month 2026-01". */
export function alertWindowLabel(alert: BudgetAlert): string {
  return `${alert.window === "day" ? "Day" : "Month"} ${alert.windowKey}`;
}

/** "Tokens" or "Cost". */
export function alertMetricLabel(alert: BudgetAlert): string {
  return alert.metric === "tokens" ? "Tokens" : "Cost";
}

/** The threshold crossed as a percentage ("80%"), or "–" for a refusal. */
export function alertThresholdLabel(alert: BudgetAlert): string {
  return alert.threshold === null ? "–" : formatPct(alert.threshold);
}

/** "41,200 / 50,000 tokens" or "$9.80 / $10.00". */
export function alertUsedLabel(alert: BudgetAlert): string {
  const f = alert.metric === "tokens" ? (n: number) => (n < 1e6 ? formatInt(n) : formatCompact(n)) : formatUsd;
  return `${f(alert.used)} / ${alert.limit === null ? "no limit" : f(alert.limit)}${alert.metric === "tokens" ? " tokens" : ""}`;
}

/** One line saying what an alert is: "Tokens reached 80% of the day's budget (2026-01-02)". */
export function alertSentence(alert: BudgetAlert): string {
  const budget = `${alert.window === "day" ? "daily" : "monthly"} ${alert.metric === "tokens" ? "token" : "cost"} budget`;
  return alert.kind === "threshold"
    ? `${alertThresholdLabel(alert)} of the ${budget} used (${alert.windowKey})`
    : `First call refused by the ${budget} (${alert.windowKey})`;
}

/** The badge tone of a delivery state or outcome. */
export function deliveryTone(state: BudgetAlert["delivery"] | WebhookDelivery["outcome"]): "ok" | "err" | "warn" | "neutral" {
  return state === "delivered" ? "ok" : state === "failed" ? "err" : state === "none" ? "neutral" : "warn";
}

/** What a delivery state means, in a few words. */
export function deliveryLabel(state: BudgetAlert["delivery"]): string {
  return state === "none" ? "not sent (no webhook)" : state;
}

/** Whether a runtime has applied the tenant's current settings. */
export function runtimeIsCurrent(runtime: RuntimeCheckIn, settingsVersion: number): boolean {
  return runtime.appliedVersion >= settingsVersion;
}

/** A long runtime id cut to its first 8 characters ("3f9a2c1b…"), for tables. */
export function shortId(id: string): string {
  return id.length > 12 ? `${id.slice(0, 8)}…` : id;
}
