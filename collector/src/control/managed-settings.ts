import type { TenantRecord } from "@troupe/contract/query-api";
import type { ControlSettingsResponse, ManagedTenantSettings } from "@troupe/contract";

/** A tenant's settings as its runtimes read them (what the registry stores, without names and times). */
export function toManagedSettings(t: TenantRecord): ManagedTenantSettings {
  return {
    id: t.id,
    version: t.settingsVersion,
    tier: t.tier,
    quotas: { ...t.quotas },
    budgets: { ...t.budgets },
    rateLimits: { ...t.rateLimits },
    samplingRatio: t.samplingRatio,
    retentionDays: t.retentionDays,
  };
}

/** The settings answer for these tenants: their settings by id and the highest version among them (0 for none). */
export function settingsResponse(tenants: readonly TenantRecord[]): ControlSettingsResponse {
  return {
    version: tenants.reduce((max, t) => Math.max(max, t.settingsVersion), 0),
    tenants: [...tenants].sort((a, b) => a.id.localeCompare(b.id)).map(toManagedSettings),
  };
}

/** The ETag of a settings version: the version in quotes. */
export function settingsETag(version: number): string {
  return `"${version}"`;
}

/** Whether an If-None-Match header names this version (a list, weak tags and "*" included). */
export function matchesETag(ifNoneMatch: string | undefined, version: number): boolean {
  if (ifNoneMatch === undefined) return false;
  const tag = settingsETag(version);
  return ifNoneMatch.split(",").some((part) => {
    const t = part.trim();
    return t === "*" || t === tag || t === `W/${tag}`;
  });
}
