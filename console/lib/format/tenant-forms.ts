import { z } from "zod";
import type { CreateTenantRequest, TenantTier, UpdateTenantRequest } from "../api/types";

/** The outcome of a settings form, shown beside it. */
export interface FormResult<T = undefined> {
  ok: boolean;
  message: string | null;
  /** Per-field problems, keyed by the form field name. */
  fieldErrors?: Record<string, string>;
  data?: T;
}

const TIERS = ["shared", "worker", "process"] as const satisfies readonly TenantTier[];

const optionalLimit = (label: string) =>
  z
    .string()
    .trim()
    .transform((v, ctx) => {
      if (v === "") return null;
      const n = Number(v);
      if (!Number.isFinite(n) || n < 0) {
        ctx.addIssue({ code: "custom", message: `${label} must be a positive number, or empty for no limit` });
        return z.NEVER;
      }
      return n;
    });

const settingsShape = {
  name: z.string().trim().min(1, "Name is required").max(200, "Name is at most 200 characters"),
  tier: z.enum(TIERS, { error: "Tier must be shared, worker or process" }),
  retentionDays: z.coerce.number({ error: "Retention must be a number of days" }).int("Retention must be whole days").min(1, "Retention is at least 1 day").max(3650, "Retention is at most 3650 days"),
  dailyTokens: optionalLimit("Daily tokens"),
  monthlyTokens: optionalLimit("Monthly tokens"),
  dailyCostUsd: optionalLimit("Daily cost"),
  monthlyCostUsd: optionalLimit("Monthly cost"),
};

const createSchema = z.object({
  id: z.string().trim().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, "Tenant id: 1-63 lowercase letters, digits, _ or -, starting with a letter or digit"),
  ...settingsShape,
  name: z.string().trim().max(200, "Name is at most 200 characters"),
});

const updateSchema = z.object(settingsShape);

function fieldsOf(form: FormData, names: string[]): Record<string, string> {
  return Object.fromEntries(names.map((n) => [n, String(form.get(n) ?? "")]));
}

function problems(error: z.ZodError): Record<string, string> {
  const out: Record<string, string> = {};
  for (const issue of error.issues) {
    const key = String(issue.path[0] ?? "form");
    out[key] ??= issue.message;
  }
  return out;
}

/** Reads a create-tenant form into an API request, or the problems per field. */
export function parseCreateTenantForm(form: FormData): { request: CreateTenantRequest } | { fieldErrors: Record<string, string> } {
  const parsed = createSchema.safeParse(fieldsOf(form, ["id", "name", "tier", "retentionDays", "dailyTokens", "monthlyTokens", "dailyCostUsd", "monthlyCostUsd"]));
  if (!parsed.success) return { fieldErrors: problems(parsed.error) };
  const d = parsed.data;
  return {
    request: {
      id: d.id,
      name: d.name || d.id,
      tier: d.tier,
      retentionDays: d.retentionDays,
      budgets: { dailyTokens: d.dailyTokens, monthlyTokens: d.monthlyTokens, dailyCostUsd: d.dailyCostUsd, monthlyCostUsd: d.monthlyCostUsd },
      keys: ["ingest", "console"],
    },
  };
}

/** Reads a tenant settings form into an API request, or the problems per field. */
export function parseUpdateTenantForm(form: FormData): { request: UpdateTenantRequest } | { fieldErrors: Record<string, string> } {
  const parsed = updateSchema.safeParse(fieldsOf(form, ["name", "tier", "retentionDays", "dailyTokens", "monthlyTokens", "dailyCostUsd", "monthlyCostUsd"]));
  if (!parsed.success) return { fieldErrors: problems(parsed.error) };
  const d = parsed.data;
  return {
    request: {
      name: d.name,
      tier: d.tier,
      retentionDays: d.retentionDays,
      budgets: { dailyTokens: d.dailyTokens, monthlyTokens: d.monthlyTokens, dailyCostUsd: d.dailyCostUsd, monthlyCostUsd: d.monthlyCostUsd },
    },
  };
}
