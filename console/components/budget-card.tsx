// A tenant's budgets and where its usage stands against them: the one card the operator's tenant page
// and the tenant's own overview both show (server-safe: no hooks).
import type { ReactNode } from "react";
import type { BudgetStatus, TenantBudgets } from "../lib/api/types";
import { formatCompact, formatUsd } from "../lib/format/format";
import { Badge, Card, Meter } from "./ui";

/** The budget state as a badge: red over, amber near, green within, grey when no budget is set. */
export function BudgetStateBadge({ status }: { status: BudgetStatus }) {
  if (status.maxUtilization === null) return <Badge tone="neutral">No budget set</Badge>;
  const tone = status.state === "over" ? "err" : status.state === "near" ? "warn" : "ok";
  return <Badge tone={tone}>{status.state === "over" ? "Over budget" : status.state === "near" ? "Near budget" : "Within budget"}</Badge>;
}

/**
 * Tokens and cost used today and this month (UTC, from usage records) against the tenant's budgets,
 * with the budget state. The same figures for the operator and for the tenant itself, who reads
 * them only (`viewer` changes the wording, never the numbers). `children` go under the meters.
 */
export function BudgetCard({ budgets, status, viewer, children }: { budgets: TenantBudgets; status: BudgetStatus; viewer: "operator" | "tenant"; children?: ReactNode }) {
  const ratio = (used: number, limit: number | null) => (limit === null ? null : limit === 0 ? 1 : used / limit);
  const limitText = (limit: number | null, f: (n: number) => string) => (limit === null ? "no limit set" : f(limit));
  return (
    <Card
      title="Budget consumption"
      description={
        viewer === "tenant"
          ? "Today and this month (UTC), from usage records, against the budgets your operator set"
          : "Today and this month (UTC), from usage records"
      }
      actions={<span data-testid="budget-state"><BudgetStateBadge status={status} /></span>}
    >
      <div style={{ display: "flex", flexDirection: "column", gap: 16 }} data-testid="budget-meters">
        <Meter label="Tokens today" usedText={formatCompact(status.dailyTokensUsed)} limitText={limitText(budgets.dailyTokens, formatCompact)} ratio={ratio(status.dailyTokensUsed, budgets.dailyTokens)} />
        <Meter label="Tokens this month" usedText={formatCompact(status.monthlyTokensUsed)} limitText={limitText(budgets.monthlyTokens, formatCompact)} ratio={ratio(status.monthlyTokensUsed, budgets.monthlyTokens)} />
        <Meter label="Cost today" usedText={formatUsd(status.dailyCostUsdUsed)} limitText={limitText(budgets.dailyCostUsd, formatUsd)} ratio={ratio(status.dailyCostUsdUsed, budgets.dailyCostUsd)} />
        <Meter label="Cost this month" usedText={formatUsd(status.monthlyCostUsdUsed)} limitText={limitText(budgets.monthlyCostUsd, formatUsd)} ratio={ratio(status.monthlyCostUsdUsed, budgets.monthlyCostUsd)} />
      </div>
      {children}
    </Card>
  );
}
