/**
 * Applies the control plane's settings to a runtime, its LLM clients and its sampling. Guarantees:
 * each tenant whose version changed is applied to every target (quotas and tier, LLM budget and
 * rate limits, sampling ratio); a tenant that left the answer has its managed settings removed
 * everywhere (code options rule again); a tenant that cannot be applied is reported once per
 * problem and tried again with the next settings, never blocking the others.
 */
import type { ManagedLlmLimits } from "../llm/managed-llm-limits.js";
import type { ControlSettingsResponse, ManagedTenantSettings } from "@troupe/contract";
import type { ManagedTenantConfig } from "./managed-tenant-config.js";

/** A runtime that follows managed settings (Runtime and DistributedRuntime fit); it may return a note for the operator. */
export interface ManagedSettingsTarget {
  setManagedTenantConfig(tenant: string, config: ManagedTenantConfig | undefined): string | undefined | void;
}

/** LLM clients that follow managed limits (LlmClients fits). */
export interface ManagedLimitsTarget {
  setManagedLimits(tenant: string, limits: ManagedLlmLimits | undefined): void;
}

/** Sampling settings that follow managed ratios (SamplingSettings fits). */
export interface ManagedSamplingTarget {
  setTenantRatio(tenant: string, ratio: number | undefined): void;
}

/** What the settings are applied to. */
export interface ManagedSettingsTargets {
  readonly runtime: ManagedSettingsTarget;
  readonly llm?: ManagedLimitsTarget | undefined;
  readonly sampling?: ManagedSamplingTarget | undefined;
}

/** The LLM limits of a tenant's managed settings: the registry's budgets and rate limits (null keeps the code's). */
export function managedLlmLimitsOf(t: ManagedTenantSettings): ManagedLlmLimits {
  return {
    budget: { tokensPerDay: t.budgets.dailyTokens, tokensPerMonth: t.budgets.monthlyTokens, costUsdPerDay: t.budgets.dailyCostUsd, costUsdPerMonth: t.budgets.monthlyCostUsd },
    rateLimit: { requestsPerMinute: t.rateLimits.requestsPerMinute, tokensPerMinute: t.rateLimits.tokensPerMinute },
  };
}

/** Keeps which tenant versions are applied, and applies what changed. */
export class ManagedSettingsApplier {
  readonly #targets: ManagedSettingsTargets;
  readonly #log: (line: string) => void;
  /** Tenant → the version applied (-1 when its last apply failed). */
  readonly #applied = new Map<string, number>();
  /** Tenant → the last note or problem logged, so each is logged once. */
  readonly #logged = new Map<string, string>();

  constructor(targets: ManagedSettingsTargets, log: (line: string) => void) {
    this.#targets = targets;
    this.#log = log;
  }

  /** The tenants with managed settings applied. */
  get tenants(): string[] {
    return [...this.#applied.keys()];
  }

  /** Applies every tenant whose version changed, removes those no longer listed; true when all applied. */
  apply(settings: ControlSettingsResponse): boolean {
    let ok = true;
    const listed = new Set<string>();
    for (const tenant of settings.tenants) {
      listed.add(tenant.id);
      if (this.#applied.get(tenant.id) === tenant.version) continue;
      ok = this.#applyTenant(tenant) && ok;
    }
    for (const id of [...this.#applied.keys()]) {
      if (!listed.has(id)) ok = this.#remove(id) && ok;
    }
    return ok;
  }

  #applyTenant(t: ManagedTenantSettings): boolean {
    const { runtime, llm, sampling } = this.#targets;
    try {
      const note = runtime.setManagedTenantConfig(t.id, t);
      llm?.setManagedLimits(t.id, managedLlmLimitsOf(t));
      sampling?.setTenantRatio(t.id, t.samplingRatio ?? undefined);
      this.#applied.set(t.id, t.version);
      this.#once(t.id, typeof note === "string" ? note : undefined);
      return true;
    } catch (error) {
      this.#applied.set(t.id, -1);
      this.#once(t.id, `control plane: the settings (version ${t.version}) of tenant "${t.id}" could not be applied: ${error instanceof Error ? error.message : String(error)}`);
      return false;
    }
  }

  #remove(id: string): boolean {
    const { runtime, llm, sampling } = this.#targets;
    try {
      runtime.setManagedTenantConfig(id, undefined);
      llm?.setManagedLimits(id, undefined);
      sampling?.setTenantRatio(id, undefined);
      this.#applied.delete(id);
      this.#logged.delete(id);
      return true;
    } catch (error) {
      this.#once(id, `control plane: the managed settings of tenant "${id}" could not be removed: ${error instanceof Error ? error.message : String(error)}`);
      return false;
    }
  }

  #once(tenant: string, line: string | undefined): void {
    if (line === undefined) {
      this.#logged.delete(tenant);
      return;
    }
    if (this.#logged.get(tenant) === line) return;
    this.#logged.set(tenant, line);
    this.#log(line.startsWith("control plane:") ? line : `control plane: ${line}`);
  }
}
