import { InvalidArgumentError } from "../errors.js";
import { parseTenantId } from "../tenancy/parse-tenant-id.js";

/** How traces are sampled: a head-sampling ratio per tenant, and keep rules that override it. */
export interface SamplingOptions {
  /** Fraction of new traces kept by ratio, 0..1, for tenants without an override. Default 1 (all). */
  defaultRatio?: number;
  /** Per-tenant ratios (0..1) over the default, by tenant id. */
  tenants?: Readonly<Record<string, number>>;
  /**
   * Keep whatever the ratio every trace with an error, a budget or rate-limit rejection, a timeout, or
   * a span lasting at least `keepSlowerThanMs`. Default true. When false, a trace is kept by its
   * ratio alone (the parent's decision for a trace continued from another process).
   */
  keepRules?: boolean;
  /**
   * A span of a trace lasting at least this long (a slow turn, LLM call or send) keeps the trace.
   * Default 10,000 ms: a wait a person notices, while ordinary LLM turns (a few seconds) stay sampled.
   * `Infinity` turns this rule off.
   */
  keepSlowerThanMs?: number;
  /**
   * Spans of one undecided trace held for its decision; spans past it are not held (counted in
   * `SamplingStats.spansOverCap`), so a kept trace that large is exported without them. Default 1,000.
   */
  maxSpansPerTrace?: number;
}

/** The default of `SamplingOptions.keepSlowerThanMs`. */
export const DEFAULT_KEEP_SLOWER_THAN_MS = 10_000;
/** The default of `SamplingOptions.maxSpansPerTrace`. */
export const DEFAULT_MAX_SPANS_PER_TRACE = 1_000;

/**
 * The sampling settings a SamplingTracerProvider reads once per new trace. Ratios change at run time
 * (`setTenantRatio`, `setDefaultRatio`) and apply to traces started after the change, never to
 * traces already under way; reading a tenant's ratio is one map lookup. Every setter validates and
 * throws InvalidArgumentError naming the bad value, leaving the settings unchanged.
 */
export class SamplingSettings {
  #defaultValue: SamplingRatio;
  readonly #overrides = new Map<string, SamplingRatio>();
  /** Whether the keep rules apply (see SamplingOptions.keepRules). */
  readonly keepRules: boolean;
  /** See SamplingOptions.keepSlowerThanMs. */
  readonly keepSlowerThanMs: number;
  /** See SamplingOptions.maxSpansPerTrace. */
  readonly maxSpansPerTrace: number;

  constructor(options: SamplingOptions = {}) {
    if (options === null || typeof options !== "object") throw new InvalidArgumentError(`sampling options must be an object; got ${String(options)}`);
    this.#defaultValue = { ratio: checkRatio(options.defaultRatio ?? 1, "sampling.defaultRatio") };
    const tenants = options.tenants ?? {};
    if (tenants === null || typeof tenants !== "object") throw new InvalidArgumentError(`sampling.tenants must be an object of tenant id to ratio; got ${String(tenants)}`);
    for (const [tenant, ratio] of Object.entries(tenants)) {
      this.#overrides.set(parseTenantId(tenant), { ratio: checkRatio(ratio, `sampling ratio of tenant "${tenant}"`) });
    }
    if (options.keepRules !== undefined && typeof options.keepRules !== "boolean") throw new InvalidArgumentError(`sampling.keepRules must be true or false; got ${String(options.keepRules)}`);
    this.keepRules = options.keepRules ?? true;
    const slow = options.keepSlowerThanMs ?? DEFAULT_KEEP_SLOWER_THAN_MS;
    if (typeof slow !== "number" || !(slow > 0)) throw new InvalidArgumentError(`sampling.keepSlowerThanMs must be a positive number of milliseconds (Infinity for no limit); got ${String(slow)}`);
    this.keepSlowerThanMs = slow;
    const maxSpans = options.maxSpansPerTrace ?? DEFAULT_MAX_SPANS_PER_TRACE;
    if (!Number.isInteger(maxSpans) || maxSpans < 1) throw new InvalidArgumentError(`sampling.maxSpansPerTrace must be a positive integer; got ${String(maxSpans)}`);
    this.maxSpansPerTrace = maxSpans;
  }

  /** The ratio of tenants without an override. */
  get defaultRatio(): number {
    return this.#defaultValue.ratio;
  }

  /** The ratio new traces of `tenant` start with: its override, else the default (also for an unknown tenant). */
  ratioFor(tenant: string | undefined): number {
    return this.recordFor(tenant).ratio;
  }

  /**
   * The ratio of `tenant` as an immutable record, replaced (never changed) when the ratio is set: a
   * trace holds the record of its start at the cost of a reference (a number field would box it).
   */
  recordFor(tenant: string | undefined): SamplingRatio {
    if (tenant === undefined || this.#overrides.size === 0) return this.#defaultValue;
    return this.#overrides.get(tenant) ?? this.#defaultValue;
  }

  /** Sets the ratio of tenants without an override; applies to traces started from now on. */
  setDefaultRatio(ratio: number): void {
    this.#defaultValue = { ratio: checkRatio(ratio, "sampling.defaultRatio") };
  }

  /** Sets (or, with undefined, removes) a tenant's ratio; applies to its traces started from now on. */
  setTenantRatio(tenant: string, ratio: number | undefined): void {
    const id = parseTenantId(tenant);
    if (ratio === undefined) this.#overrides.delete(id);
    else this.#overrides.set(id, { ratio: checkRatio(ratio, `sampling ratio of tenant "${id}"`) });
  }

  /** A snapshot of the per-tenant overrides. */
  tenantRatios(): Record<string, number> {
    return Object.fromEntries([...this.#overrides].map(([tenant, r]) => [tenant, r.ratio]));
  }
}

/** One ratio in force (see SamplingSettings.recordFor). */
export interface SamplingRatio {
  readonly ratio: number;
}

function checkRatio(ratio: unknown, what: string): number {
  if (typeof ratio !== "number" || Number.isNaN(ratio) || ratio < 0 || ratio > 1) {
    const shown = typeof ratio === "string" ? JSON.stringify(ratio.slice(0, 40)) : String(ratio);
    throw new InvalidArgumentError(`${what} must be a number from 0 to 1; got ${shown}`);
  }
  return ratio;
}
