/**
 * Options of followControlPlane, with their defaults. Validated when the follower starts: a bad
 * option is an InvalidArgumentError naming it, and nothing is started.
 */
import { hostname } from "node:os";
import type { MeterProvider } from "@opentelemetry/api";
import { z } from "zod";
import type { BudgetLedger } from "../llm/budget-ledger.js";
import { parseConfig } from "../tenancy/tenant-quota.js";
import type { ManagedLimitsTarget, ManagedSamplingTarget, ManagedSettingsTarget } from "./apply-managed-settings.js";
import { MAX_SETTINGS_WAIT_S } from "@troupe/contract";
import { nodeHttpGet } from "./node-http-get.js";
import { defaultCachePath } from "./settings-cache.js";

/** Options of followControlPlane. */
export interface FollowControlPlaneOptions {
  /** The collector's base URL (its tenant registry is the source of truth). */
  readonly collectorUrl: string;
  /** A service key (the tenants it may write) or a tenant ingest key (its tenant). */
  readonly apiKey: string;
  /** Receives each tenant's tier and quotas (Runtime or DistributedRuntime). */
  readonly runtime: ManagedSettingsTarget;
  /** Receives each tenant's LLM budget and rate limits; its ledger gets the usage other ledgers charged. */
  readonly llm?: (ManagedLimitsTarget & { readonly ledger: BudgetLedger; readonly metrics?: { readonly totalCalls: number } | undefined }) | undefined;
  /** Receives each tenant's sampling ratio (`telemetry.sampling`). */
  readonly sampling?: ManagedSamplingTarget | undefined;
  /** Follow only these tenants. Default: every tenant the key serves. */
  readonly tenants?: readonly string[] | undefined;
  /**
   * Where the last settings are kept for a restart while the collector is down. Default:
   * `~/.cache/troupe/control-<hash of the URL, the key and the tenants>.json` (never the key itself).
   */
  readonly cacheFile?: string | undefined;
  /** What operators see for this runtime. Default `${serviceName}@${hostname}`. */
  readonly runtimeName?: string | undefined;
  /** Default "troupe-runtime". */
  readonly serviceName?: string | undefined;
  /** Long-poll wait, in seconds (at most MAX_SETTINGS_WAIT_S). Default 25. */
  readonly waitSeconds?: number | undefined;
  /** How often usage so far is read for the budgets. Default 10000. */
  readonly usageRefreshMs?: number | undefined;
  /** Backoff while the collector is unreachable: from `minMs` doubling to `maxMs`, with jitter. Default 1000 .. 4000, so a change made once the collector is back applies within 5 s. */
  readonly retry?: { readonly minMs?: number | undefined; readonly maxMs?: number | undefined } | undefined;
  /** Pause after the collector refused the key or gave an answer outside the contract. Default 60000. */
  readonly refusedRetryMs?: number | undefined;
  /** `ready` resolves after at most this long, on cached settings or code options. Default 5000. */
  readonly startupTimeoutMs?: number | undefined;
  /** How long a request may take beyond its long-poll wait. Default 10000. */
  readonly requestTimeoutMs?: number | undefined;
  /** Where the follower says what it does (one line per change of state). Default: standard error. */
  readonly log?: ((line: string) => void) | undefined;
  /** Where its gauges go. Default: the global meter provider. */
  readonly meterProvider?: MeterProvider | undefined;
  /** The HTTP client (tests). Default: GET over node:http/https with kept-alive connections (nodeHttpGet). */
  readonly fetch?: typeof fetch | undefined;
  /** The clock, in milliseconds since the epoch (tests). Default Date.now. */
  readonly now?: (() => number) | undefined;
  /** Randomness of the backoff jitter (tests). Default Math.random. */
  readonly random?: (() => number) | undefined;
}

/** The options with every default filled in. */
export interface ResolvedFollowOptions {
  readonly collectorUrl: string;
  readonly apiKey: string;
  readonly runtime: ManagedSettingsTarget;
  readonly llm: (ManagedLimitsTarget & { readonly ledger: BudgetLedger; readonly metrics?: { readonly totalCalls: number } | undefined }) | undefined;
  readonly sampling: ManagedSamplingTarget | undefined;
  readonly tenants: readonly string[] | undefined;
  readonly cacheFile: string;
  readonly runtimeName: string;
  readonly waitSeconds: number;
  readonly usageRefreshMs: number;
  readonly retryMinMs: number;
  readonly retryMaxMs: number;
  readonly refusedRetryMs: number;
  readonly startupTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly maxBodyBytes: number;
  readonly log: (line: string) => void;
  readonly meterProvider: MeterProvider | undefined;
  readonly fetch: typeof fetch;
  readonly now: () => number;
  readonly random: () => number;
}

const ms = (max: number) => z.number().int("must be a whole number of milliseconds").min(1, "must be at least 1").max(max, `must be at most ${max}`).optional();
const fn = z.custom<(...args: never[]) => unknown>((v) => typeof v === "function", "must be a function");

const optionsSchema = z.object({
  collectorUrl: z.url({ protocol: /^https?$/, error: "must be an http(s) URL" }),
  apiKey: z.string({ error: "must be a string" }).min(1, "must not be empty"),
  runtime: z.custom<ManagedSettingsTarget>((v) => typeof (v as ManagedSettingsTarget | null)?.setManagedTenantConfig === "function", "must have setManagedTenantConfig (a Runtime or DistributedRuntime)"),
  llm: z
    .custom<ManagedLimitsTarget & { ledger: BudgetLedger }>((v) => typeof (v as ManagedLimitsTarget | null)?.setManagedLimits === "function" && typeof (v as { ledger?: BudgetLedger }).ledger?.setBaseline === "function", "must be LlmClients")
    .optional(),
  sampling: z.custom<ManagedSamplingTarget>((v) => typeof (v as ManagedSamplingTarget | null)?.setTenantRatio === "function", "must be a SamplingSettings").optional(),
  tenants: z.array(z.string().min(1)).min(1, "must name at least one tenant (leave it out for every tenant of the key)").optional(),
  cacheFile: z.string().min(1).optional(),
  runtimeName: z.string().min(1).max(256).optional(),
  serviceName: z.string().min(1).max(128).optional(),
  waitSeconds: z.number().int().min(1).max(MAX_SETTINGS_WAIT_S).optional(),
  usageRefreshMs: ms(86_400_000),
  retry: z.object({ minMs: ms(3_600_000), maxMs: ms(3_600_000) }).optional(),
  refusedRetryMs: ms(86_400_000),
  startupTimeoutMs: ms(600_000),
  requestTimeoutMs: ms(600_000),
  log: fn.optional(),
  meterProvider: z.custom<MeterProvider>((v) => typeof (v as MeterProvider | null)?.getMeter === "function", "must be a MeterProvider").optional(),
  fetch: fn.optional(),
  now: fn.optional(),
  random: fn.optional(),
});

/** Validates the options (InvalidArgumentError naming the bad one) and fills in the defaults. */
export function resolveFollowOptions(options: FollowControlPlaneOptions): ResolvedFollowOptions {
  const o = parseConfig(optionsSchema, options, "followControlPlane options");
  const retryMinMs = o.retry?.minMs ?? 1_000;
  const retryMaxMs = Math.max(retryMinMs, o.retry?.maxMs ?? 4_000);
  const collectorUrl = o.collectorUrl.replace(/\/+$/, "");
  return {
    collectorUrl,
    apiKey: o.apiKey,
    runtime: options.runtime,
    llm: options.llm,
    sampling: options.sampling,
    tenants: o.tenants,
    cacheFile: o.cacheFile ?? defaultCachePath(collectorUrl, o.apiKey, o.tenants),
    runtimeName: o.runtimeName ?? `${o.serviceName ?? "troupe-runtime"}@${hostname()}`,
    waitSeconds: o.waitSeconds ?? 25,
    usageRefreshMs: o.usageRefreshMs ?? 10_000,
    retryMinMs,
    retryMaxMs,
    refusedRetryMs: o.refusedRetryMs ?? 60_000,
    startupTimeoutMs: o.startupTimeoutMs ?? 5_000,
    requestTimeoutMs: o.requestTimeoutMs ?? 10_000,
    maxBodyBytes: 64 * 1024 * 1024,
    log: options.log ?? ((line) => process.stderr.write(`${line}\n`)),
    meterProvider: options.meterProvider,
    fetch: options.fetch ?? nodeHttpGet,
    now: options.now ?? Date.now,
    random: options.random ?? Math.random,
  };
}
